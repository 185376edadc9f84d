#include "serving/inference.h"

#include <cmath>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace keel::serving {
namespace {

using nlohmann::json;

runtime::Signature TestSignature() {
  runtime::Signature s;
  s.task = runtime::Task::kBinary;
  s.target = "y";
  s.classes = {"no", "yes"};
  s.inputs = {{"age", table::ColumnType::kNumeric, {}}, {"color", table::ColumnType::kCategorical, {"red", "green", "blue"}}};
  return s;
}

// P(yes) = age / 100 + 0.1 * color code (a missing code adds nothing);
// `bias` tells versions apart.
class FakeModel : public runtime::Model {
 public:
  FakeModel(runtime::Signature s, float bias) : signature_(std::move(s)), bias_(bias) {}
  const runtime::Signature& signature() const override { return signature_; }
  std::string_view Backend() const override { return "fake"; }
  Status PredictInto(std::span<const float> features, size_t rows, std::span<float> out) const override {
    for (size_t r = 0; r < rows; ++r) {
      const float* row = features.data() + r * 2;
      out[r] = row[0] / 100 + (std::isnan(row[1]) ? 0.0f : 0.1f * row[1]) + bias_;
    }
    return Status::Ok();
  }

 private:
  runtime::Signature signature_;
  float bias_;
};

// Versions m@1..m@3 (m@prod is m@2) and other@1; counts loads.
class FakeSource : public ModelSource {
 public:
  Result<std::string> Resolve(const std::string& id) override {
    if (id == "m@prod") return std::string("m@2");
    if (id == "m@1" || id == "m@2" || id == "m@3" || id == "other@1") return id;
    return NotFoundError("no model version '" + id + "'");
  }
  Result<std::unique_ptr<ServedModel>> Load(const std::string& id) override {
    ++loads[id];
    const size_t at = id.find('@');
    const std::string version = id.substr(at + 1);
    return std::make_unique<ServedModel>(id.substr(0, at), version,
                                         std::make_unique<FakeModel>(TestSignature(), 0.001f * std::stof(version)));
  }
  std::map<std::string, int> loads;
};

class InferenceTest : public ::testing::Test {
 protected:
  InferenceTest() : deployments_(&source_) {}

  void Deploy(DeploymentSpec spec) {
    ASSERT_TRUE(deployments_.Deploy(spec).ok());
    deployments_.SetReady();
  }

  Status Run(std::string_view model, std::string_view version, std::string_view body) {
    std::shared_ptr<const Routes> routes = deployments_.Current();
    std::string text(body);
    return Infer(*routes, {model, version}, &text, &scratch_, &response_, &served_);
  }

  json Response() { return json::parse(response_); }

  FakeSource source_;
  Deployments deployments_;
  InferScratch scratch_;
  std::string response_;
  std::shared_ptr<const ServedModel> served_;
};

TEST_F(InferenceTest, MatrixRequestAnswersProbabilityAndClass) {
  Deploy({.model = "m@1"});
  ASSERT_TRUE(Run("m", "", R"({"id":"q\"1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[30,0,80,2]}]})").ok());
  json r = Response();
  EXPECT_EQ(r["model_name"], "m");
  EXPECT_EQ(r["model_version"], "1");
  EXPECT_EQ(r["id"], "q\"1");
  ASSERT_EQ(r["outputs"].size(), 2u);
  EXPECT_EQ(r["outputs"][0]["name"], "probability");
  EXPECT_EQ(r["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(r["outputs"][0]["shape"], json::array({2}));
  EXPECT_FLOAT_EQ(r["outputs"][0]["data"][0].get<float>(), 0.3f + 0.001f);
  EXPECT_FLOAT_EQ(r["outputs"][0]["data"][1].get<float>(), 0.8f + 0.2f + 0.001f);
  EXPECT_EQ(r["outputs"][1], json({{"name", "prediction"}, {"datatype", "BYTES"}, {"shape", {2}}, {"data", {"no", "yes"}}}));
  EXPECT_EQ(served_->id(), "m@1");
}

TEST_F(InferenceTest, NamedColumnsWithCategoriesAsBytes) {
  Deploy({.model = "m@1"});
  ASSERT_TRUE(Run("m", "", R"({"inputs":[{"name":"color","shape":[3,1],"datatype":"BYTES","data":["blue","purple",null]},
                                         {"name":"age","shape":[3],"datatype":"INT64","data":[10,20,30]}]})")
                  .ok());
  json r = Response();
  EXPECT_FALSE(r.contains("id"));
  EXPECT_FLOAT_EQ(r["outputs"][0]["data"][0].get<float>(), 0.1f + 0.2f + 0.001f);  // blue = code 2
  EXPECT_FLOAT_EQ(r["outputs"][0]["data"][1].get<float>(), 0.2f + 0.001f);         // unseen: missing
  EXPECT_FLOAT_EQ(r["outputs"][0]["data"][2].get<float>(), 0.3f + 0.001f);         // null: missing
}

TEST_F(InferenceTest, RequestedOutputsOnly) {
  Deploy({.model = "m@1"});
  ASSERT_TRUE(Run("m", "", R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,1]}],
                              "outputs":[{"name":"prediction"}]})")
                  .ok());
  json r = Response();
  ASSERT_EQ(r["outputs"].size(), 1u);
  EXPECT_EQ(r["outputs"][0]["name"], "prediction");
  EXPECT_EQ(Run("m", "", R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,1]}],
                             "outputs":[{"name":"logits"}]})")
                .message(),
            "unknown output 'logits' (the model's outputs: probability, prediction)");
}

TEST_F(InferenceTest, InputErrorsNameTheInput) {
  Deploy({.model = "m@1"});
  auto error = [&](std::string_view body) {
    Status s = Run("m", "", body);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << body;
    return s.message();
  };
  EXPECT_EQ(error(R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})"),
            "input 'x': shape [1,3] has 3 features; the model takes 2");
  EXPECT_EQ(error(R"({"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]})"),
            "input 'x': shape [4] is not [N, 2]");
  EXPECT_EQ(error(R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"BYTES","data":["a","b"]}]})"),
            "input 'x': datatype BYTES; a [N, F] tensor must be numeric (FP32, FP64, INT...)");
  EXPECT_EQ(error(R"({"inputs":[{"name":"age","shape":[1],"datatype":"FP32","data":[1]}]})"),
            "missing input 'color' (the model takes 2 input columns)");
  EXPECT_EQ(error(R"({"inputs":[{"name":"age","shape":[1],"datatype":"FP32","data":[1]},
                                {"name":"age","shape":[1],"datatype":"FP32","data":[1]}]})"),
            "input 'age' given twice");
  EXPECT_EQ(error(R"({"inputs":[{"name":"age","shape":[1],"datatype":"FP32","data":[1]},
                                {"name":"colour","shape":[1],"datatype":"BYTES","data":["red"]}]})"),
            "unknown input 'colour': send one tensor of shape [N, 2] or one tensor per input column, named like the column");
  EXPECT_EQ(error(R"({"inputs":[{"name":"age","shape":[1],"datatype":"FP32","data":[1]},
                                {"name":"color","shape":[1],"datatype":"FP32","data":[1]}]})"),
            "input 'color': the column is categorical: send its values as BYTES, not FP32");
  EXPECT_EQ(error(R"({"inputs":[{"name":"age","shape":[1],"datatype":"BYTES","data":["1"]},
                                {"name":"color","shape":[1],"datatype":"BYTES","data":["red"]}]})"),
            "input 'age': the column is numeric: send FP32, FP64 or INT values, not BYTES");
  EXPECT_EQ(error(R"({"inputs":[{"name":"age","shape":[2],"datatype":"FP32","data":[1,2]},
                                {"name":"color","shape":[1],"datatype":"BYTES","data":["red"]}]})"),
            "input 'color': 1 rows, but input 'age' has 2");
}

TEST_F(InferenceTest, UnknownModelVersionAndNotReady) {
  std::shared_ptr<const Routes> routes = deployments_.Current();
  std::string body = R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,1]}]})";
  EXPECT_EQ(Infer(*routes, {"m", ""}, &body, &scratch_, &response_, &served_).code(), StatusCode::kUnavailable);
  Deploy({.model = "m@1", .canary = "m@3", .canary_percent = 10});
  EXPECT_EQ(Run("nope", "", body).message(), "model 'nope' is not served");
  Status s = Run("m", "2", body);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "version '2' of model 'm' is not served (serving 1 and 3)");
  ASSERT_TRUE(Run("m", "3", body).ok());
  EXPECT_EQ(Response()["model_version"], "3");
}

TEST_F(InferenceTest, CanaryShareAndStickinessById) {
  Deploy({.model = "m@1", .canary = "m@2", .canary_percent = 10});
  int canary = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string body = R"({"id":"req-)" + std::to_string(i) +
                             R"(","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,1]}]})";
    ASSERT_TRUE(Run("m", "", body).ok());
    const std::string version = served_->version;
    canary += version == "2";
    ASSERT_TRUE(Run("m", "", body).ok());
    EXPECT_EQ(served_->version, version) << "the same id went to another version";
  }
  EXPECT_NEAR(canary / 100.0, 10.0, 3.0);
  int random_canary = 0;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(Run("m", "", R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,1]}]})").ok());
    random_canary += served_->version == "2";
  }
  EXPECT_NEAR(random_canary / 100.0, 10.0, 3.0);
}

TEST_F(InferenceTest, ShadowSeesEveryRequestAndNeverAnswers) {
  Deploy({.model = "m@1", .shadow = "m@3"});
  // 0.45 + bias: version 1 says no (0.451), version 3 (+0.003) too; 0.498:
  // 0.499 (no) against 0.501 (yes).
  ASSERT_TRUE(Run("m", "", R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[45,null,49.8,null]}]})").ok());
  EXPECT_EQ(Response()["model_version"], "1");
  const ServedModel& shadow = *deployments_.Current()->Find("m")->shadow;
  EXPECT_EQ(shadow.stats.shadow_requests.load(), 1u);
  EXPECT_EQ(shadow.stats.shadow_disagreements.load(), 1u);
}

TEST_F(InferenceTest, DeployReusesLoadedVersionsAndFailsWithoutChange) {
  Deploy({.model = "m@1"});
  Deploy({.model = "m@prod", .canary = "m@1", .canary_percent = 50});
  EXPECT_EQ(source_.loads["m@1"], 1);
  EXPECT_EQ(source_.loads["m@2"], 1);
  std::shared_ptr<const Routes> before = deployments_.Current();
  EXPECT_EQ(deployments_.Deploy({.model = "m@3", .canary = "other@1", .canary_percent = 5}).status().message(),
            "deployment: canary other@1 is not a version of m");
  EXPECT_EQ(deployments_.Deploy({.model = "m@9"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(deployments_.Deploy({.model = "m@1", .canary = "m@2", .canary_percent = 101}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(deployments_.Current(), before);
  EXPECT_EQ(deployments_.Current()->Find("m")->primary->version, "2");
  // A request holding the old snapshot still has its versions after a swap.
  Deploy({.model = "m@3"});
  EXPECT_EQ(before->Find("m")->primary->version, "2");
  EXPECT_EQ(deployments_.Current()->Find("m")->primary->version, "3");
  ASSERT_TRUE(deployments_.Undeploy("m").ok());
  EXPECT_EQ(deployments_.Undeploy("m").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace keel::serving
