#include "train/xgboost_trainer.h"

#include <stdlib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace keel {
namespace {

class XGBoostTrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-trainer-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(env_, dir_).ok()); }

  void Write(const std::string& name, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(env_, dir_ + "/" + name, text).ok());
  }

  XGBoostTrainOptions Options(const std::string& train) {
    XGBoostTrainOptions o;
    o.train_path = dir_ + "/" + train;
    o.out_dir = dir_ + "/model";
    o.overrides = {{"num_boost_round", "3"}, {"nthread", "1"}};
    return o;
  }

  Env* env_ = DefaultEnv();
  std::string dir_;
};

// y depends on x; the class labels are numbers whose text order differs
// from their numeric order.
std::string Classes() {
  std::string csv = "x,kind,y\n";
  for (int i = 0; i < 90; ++i) {
    const char* y = i % 3 == 0 ? "2" : (i % 3 == 1 ? "10" : "9");
    csv += std::to_string(i % 3) + "." + std::to_string(i % 10) + "," + (i % 2 ? "a" : "b") + "," + y + "\n";
  }
  return csv;
}

TEST_F(XGBoostTrainerTest, NumericClassLabelsSortByValue) {
  Write("t.csv", Classes());
  XGBoostTrainOptions o = Options("t.csv");
  o.target = "y";
  o.task = runtime::Task::kMulticlass;
  Result<TrainReport> r = TrainXGBoostModel(env_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->valid_rows, 18u);
  EXPECT_EQ(r->train_rows, 72u);
  Result<std::string> sig = ReadFileToString(env_, dir_ + "/model/signature.json");
  ASSERT_TRUE(sig.ok());
  nlohmann::json j = nlohmann::json::parse(*sig);
  EXPECT_EQ(j["classes"], nlohmann::json({"2", "9", "10"}));
  EXPECT_EQ(j["inputs"].size(), 2u);
  bool num_class = false;
  for (const auto& [k, v] : r->params) num_class |= k == "num_class" && v == "3";
  EXPECT_TRUE(num_class);
}

TEST_F(XGBoostTrainerTest, ParamsComeFromTheSectionThenOverrides) {
  Write("t.csv", Classes());
  Write("params.yaml", "train:\n  max_depth: 2\n  eta: 0.3\nother:\n  eta: 9\n");
  XGBoostTrainOptions o = Options("t.csv");
  o.target = "y";
  o.task = runtime::Task::kMulticlass;
  o.params_file = dir_ + "/params.yaml";
  o.params_section = "train";
  o.overrides.emplace_back("eta", "0.1");
  Result<TrainReport> r = TrainXGBoostModel(env_, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::map<std::string, std::string> params(r->params.begin(), r->params.end());
  EXPECT_EQ(params["max_depth"], "2");
  EXPECT_EQ(params["eta"], "0.1");
  EXPECT_EQ(params["objective"], "multi:softprob");
  EXPECT_EQ(params["tree_method"], "hist");
  EXPECT_EQ(r->rounds, 3);
}

TEST_F(XGBoostTrainerTest, SplitDependsOnlyOnTheSeed) {
  Write("t.csv", Classes());
  XGBoostTrainOptions o = Options("t.csv");
  o.target = "y";
  o.task = runtime::Task::kMulticlass;
  o.seed = 5;
  ASSERT_TRUE(TrainXGBoostModel(env_, o).ok());
  std::string first = *ReadFileToString(env_, dir_ + "/model/model.json");
  ASSERT_TRUE(TrainXGBoostModel(env_, o).ok());
  EXPECT_EQ(*ReadFileToString(env_, dir_ + "/model/model.json"), first);
  o.seed = 6;
  ASSERT_TRUE(TrainXGBoostModel(env_, o).ok());
  EXPECT_NE(*ReadFileToString(env_, dir_ + "/model/model.json"), first);
}

TEST_F(XGBoostTrainerTest, MissingTargetValuesAreAnError) {
  Write("t.csv", "x,y\n1,a\n2,\n3,b\n4,NA\n");
  XGBoostTrainOptions o = Options("t.csv");
  o.target = "y";
  Result<TrainReport> r = TrainXGBoostModel(env_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("column 'y' has no value in 2 rows (the first is data row 2)"),
            std::string::npos)
      << r.status().message();
  EXPECT_FALSE(Exists(env_, dir_ + "/model"));
}

TEST_F(XGBoostTrainerTest, TextThatIsNotUtf8IsRefused) {
  Write("t.csv", "x,city,y\n1,Z\xfcrich,a\n2,Bern,b\n3,Bern,a\n4,Bern,b\n");
  XGBoostTrainOptions o = Options("t.csv");
  o.target = "y";
  Result<TrainReport> r = TrainXGBoostModel(env_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("column 'city': a value is not valid UTF-8"), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(Exists(env_, dir_ + "/model"));
}

TEST_F(XGBoostTrainerTest, ValidationClassesMustBeKnown) {
  Write("t.csv", "x,y\n1,a\n2,b\n3,a\n4,b\n");
  Write("v.csv", "x,y\n1,a\n2,c\n");
  XGBoostTrainOptions o = Options("t.csv");
  o.target = "y";
  o.valid_path = dir_ + "/v.csv";
  Result<TrainReport> r = TrainXGBoostModel(env_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("v.csv: column 'y': class 'c' (row 2) is not in the training data"),
            std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace keel
