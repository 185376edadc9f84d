// Fuzzes a V2 inference request from body to response
// (keel::serving::Infer: InferRequestParser, FeatureLayout, the response
// writer) on a fake two-column model with a canary and a shadow. Properties:
// nothing crashes; a rejected request is an invalid argument, never an
// internal error; an accepted input holds as many elements as its shape
// says; an accepted request's response is valid JSON naming the model and
// one of its versions, with one prediction per row; an accepted body is
// JSON by nlohmann::json too, and every number read and the id echoed
// equal its reading of the same body (numbers correctly rounded to double,
// then float). One parser serves every input, as one
// connection's parser serves every request.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "serving/inference.h"

namespace {

using namespace keel;
using namespace keel::serving;

runtime::Signature FuzzSignature() {
  runtime::Signature s;
  s.task = runtime::Task::kBinary;
  s.target = "y";
  s.classes = {"0", "1"};
  s.inputs = {{"a", table::ColumnType::kNumeric, {}}, {"c", table::ColumnType::kCategorical, {"x", "y", "z"}}};
  return s;
}

class SumModel : public runtime::Model {
 public:
  const runtime::Signature& signature() const override { return signature_; }
  std::string_view Backend() const override { return "fuzz"; }
  Status PredictInto(std::span<const float> features, size_t rows, std::span<float> out) const override {
    KEEL_FUZZ_CHECK(features.size() == rows * 2, "features are rows x FeatureCount()");
    KEEL_FUZZ_CHECK(out.size() == rows, "one output per row");
    for (size_t r = 0; r < rows; ++r) out[r] = std::isnan(features[2 * r]) ? 0.5f : 1.0f / (1.0f + std::exp(-features[2 * r]));
    return Status::Ok();
  }

 private:
  runtime::Signature signature_ = FuzzSignature();
};

class Source : public ModelSource {
 public:
  Result<std::string> Resolve(const std::string& id) override { return id; }
  Result<std::unique_ptr<ServedModel>> Load(const std::string& id) override {
    return std::make_unique<ServedModel>("m", id.substr(2), std::make_unique<SumModel>());
  }
};

// `data` flattened row-major as keel holds it: numbers as float, null as
// NaN, booleans as 1 and 0. False on anything else.
bool Flatten(const nlohmann::json& data, std::vector<float>* out) {
  if (data.is_array()) {
    for (const nlohmann::json& element : data) {
      if (!Flatten(element, out)) return false;
    }
    return true;
  }
  if (data.is_null()) {
    out->push_back(std::nanf(""));
  } else if (data.is_boolean()) {
    out->push_back(data.get<bool>() ? 1.0f : 0.0f);
  } else if (data.is_number()) {
    out->push_back(static_cast<float>(data.get<double>()));
  } else {
    return false;
  }
  return true;
}

// `response`: what keel answered to the accepted `body`.
void CheckAgainstNlohmann(std::string_view body, const InferRequest& request, const nlohmann::json& response) {
  // A key repeated in an object is read as the first by keel and as the
  // last by nlohmann: such bodies are not compared.
  std::vector<std::set<std::string>> keys;
  bool repeated = false;
  auto on_event = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::object_start) keys.emplace_back();
    if (event == nlohmann::json::parse_event_t::object_end) keys.pop_back();
    if (event == nlohmann::json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second) {
      repeated = true;
    }
    return true;
  };
  nlohmann::json doc = nlohmann::json::parse(body, on_event, /*allow_exceptions=*/false);
  KEEL_FUZZ_CHECK(!doc.is_discarded(), "what keel accepts is JSON");
  if (repeated || !doc.is_object() || !doc.contains("inputs") || !doc["inputs"].is_array()) return;
  if (doc.contains("id")) KEEL_FUZZ_CHECK(response["id"] == doc["id"], "the id is echoed as nlohmann reads it");
  const nlohmann::json& inputs = doc["inputs"];
  KEEL_FUZZ_CHECK(inputs.size() == request.input_count, "as many inputs as nlohmann reads");
  for (size_t i = 0; i < request.input_count; ++i) {
    const InferInput& input = request.inputs[i];
    if (input.datatype == Datatype::kBytes || !inputs[i].is_object() || !inputs[i].contains("data")) continue;
    std::vector<float> want;
    if (!Flatten(inputs[i]["data"], &want)) continue;
    KEEL_FUZZ_CHECK(want.size() == input.numbers.size(), "as many numbers as nlohmann reads");
    for (size_t k = 0; k < want.size(); ++k) {
      // Exact equality; -0 and 0 compare equal (nlohmann reads "-0" as the integer 0).
      const bool same = std::isnan(want[k]) ? std::isnan(input.numbers[k]) : want[k] == input.numbers[k];
      KEEL_FUZZ_CHECK(same, "every number equals nlohmann's reading");
    }
  }
}

struct Fixture {
  Fixture() : deployments(&source) {
    KEEL_FUZZ_CHECK(deployments.Deploy({.model = "m@1", .canary = "m@2", .canary_percent = 30, .shadow = "m@3"}).ok(),
                    "the fixture deploys");
    deployments.SetReady();
  }
  Source source;
  Deployments deployments;
  InferScratch scratch;
  std::string response;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string parsed(body);  // Infer parses in place, changing it
  std::shared_ptr<const ServedModel> served;
  std::shared_ptr<const Routes> routes = fixture->deployments.Current();
  const Status status = Infer(*routes, {"m", ""}, &parsed, &fixture->scratch, &fixture->response, &served);
  if (!status.ok()) {
    KEEL_FUZZ_CHECK(status.code() == StatusCode::kInvalidArgument, "a bad request is an invalid argument");
    return 0;
  }
  const InferRequest& request = fixture->scratch.request;
  for (size_t i = 0; i < request.input_count; ++i) {
    KEEL_FUZZ_CHECK(request.inputs[i].DataCount() == request.inputs[i].ElementCount(), "data fills the shape");
  }
  nlohmann::json response = nlohmann::json::parse(fixture->response, nullptr, /*allow_exceptions=*/false);
  KEEL_FUZZ_CHECK(!response.is_discarded(), "the response is valid JSON");
  CheckAgainstNlohmann(body, request, response);
  KEEL_FUZZ_CHECK(response["model_name"] == "m", "the response names the model");
  KEEL_FUZZ_CHECK(response["model_version"] == "1" || response["model_version"] == "2", "a served version answers");
  for (const nlohmann::json& output : response["outputs"]) {
    KEEL_FUZZ_CHECK(output["shape"].size() == 1 && output["data"].size() == output["shape"][0], "one value per row");
  }
  return 0;
}
