// Fuzzes a V2 inference request from body to response
// (keel::serving::Infer: InferRequestParser, FeatureLayout, the response
// writer) on a fake two-column model with a canary and a shadow. Properties:
// nothing crashes; a rejected request is an invalid argument, never an
// internal error; an accepted input holds as many elements as its shape
// says; an accepted request's response is valid JSON naming the model and
// one of its versions, with one prediction per row. One parser serves every
// input, as one connection's parser serves every request.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

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
  std::shared_ptr<const ServedModel> served;
  std::shared_ptr<const Routes> routes = fixture->deployments.Current();
  const Status status = Infer(*routes, {"m", ""}, body, &fixture->scratch, &fixture->response, &served);
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
  KEEL_FUZZ_CHECK(response["model_name"] == "m", "the response names the model");
  KEEL_FUZZ_CHECK(response["model_version"] == "1" || response["model_version"] == "2", "a served version answers");
  for (const nlohmann::json& output : response["outputs"]) {
    KEEL_FUZZ_CHECK(output["shape"].size() == 1 && output["data"].size() == output["shape"][0], "one value per row");
  }
  return 0;
}
