#include "runtime/xgboost.h"

#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace keel::runtime {
namespace {

// y = 1 exactly when x0 > 0.5: a separable toy problem.
struct Toy {
  FeatureMatrix x;
  std::vector<float> y;
};

Toy MakeToy(size_t rows) {
  Toy t;
  t.x.rows = rows;
  t.x.cols = 2;
  for (size_t i = 0; i < rows; ++i) {
    float a = static_cast<float>(i % 100) / 100.0f;
    t.x.values.push_back(a);
    t.x.values.push_back(static_cast<float>(i % 7));
    t.y.push_back(a > 0.5f ? 1.0f : 0.0f);
  }
  return t;
}

Signature ToySignature() {
  Signature s;
  s.classes = {"0", "1"};
  s.target = "y";
  s.inputs = {{"a", table::ColumnType::kNumeric, {}}, {"b", table::ColumnType::kNumeric, {}}};
  return s;
}

XGBoostTraining ToyTraining(int rounds) {
  XGBoostTraining t;
  t.params = {{"objective", "binary:logistic"}, {"tree_method", "hist"}, {"seed", "0"}, {"nthread", "1"}};
  t.rounds = rounds;
  t.feature_names = {"a", "b"};
  t.categorical = {false, false};
  return t;
}

TEST(XGBoostTest, TrainsLoadsAndPredicts) {
  Toy train = MakeToy(400), valid = MakeToy(100);
  XGBoostTraining training = ToyTraining(10);
  std::vector<std::pair<int, double>> logloss;
  training.on_round = [&](int round, const std::vector<std::pair<std::string, double>>& values) {
    ASSERT_EQ(values.size(), 1u);
    EXPECT_EQ(values[0].first, "logloss");
    logloss.emplace_back(round, values[0].second);
  };
  Result<std::string> json = TrainXGBoost(train.x, train.y, valid.x, valid.y, training);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  ASSERT_EQ(logloss.size(), 10u);
  EXPECT_LT(logloss.back().second, logloss.front().second);
  nlohmann::json model = nlohmann::json::parse(*json);
  EXPECT_EQ(model["learner"]["feature_names"], nlohmann::json({"a", "b"}));
  EXPECT_EQ(model["learner"]["feature_types"], nlohmann::json({"q", "q"}));

  Result<std::unique_ptr<Model>> loaded = LoadXGBoostModel(*json, ToySignature(), "model.json");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::vector<float> p;
  ASSERT_TRUE((*loaded)->Predict(valid.x, &p).ok());
  ASSERT_EQ(p.size(), 100u);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i] >= 0.5f, valid.y[i] == 1.0f) << i;
}

TEST(XGBoostTest, SameSeedSameBytes) {
  Toy train = MakeToy(300), valid = MakeToy(50);
  XGBoostTraining training = ToyTraining(5);
  training.params.emplace_back("subsample", "0.7");
  Result<std::string> a = TrainXGBoost(train.x, train.y, valid.x, valid.y, training);
  Result<std::string> b = TrainXGBoost(train.x, train.y, valid.x, valid.y, training);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(XGBoostTest, ErrorsCarryXGBoostsMessage) {
  Toy train = MakeToy(50);
  XGBoostTraining training = ToyTraining(2);
  training.params.emplace_back("max_depth", "deep");
  Result<std::string> json = TrainXGBoost(train.x, train.y, train.x, train.y, training);
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(json.status().message().find("XGBoost training: Invalid Parameter format for max_depth"), std::string::npos)
      << json.status().message();

  Result<std::unique_ptr<Model>> bad = LoadXGBoostModel("{\"not\": \"a model\"}", ToySignature(), "m.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(bad.status().message().rfind("m.json: ", 0), 0u) << bad.status().message();
  EXPECT_EQ(bad.status().message().find("[bt]"), std::string::npos) << bad.status().message();
  EXPECT_EQ(bad.status().message().find("Stack trace"), std::string::npos) << bad.status().message();
}

TEST(XGBoostTest, PredictRefusesAWrongFeatureCount) {
  Toy train = MakeToy(50);
  Result<std::string> json = TrainXGBoost(train.x, train.y, train.x, train.y, ToyTraining(2));
  ASSERT_TRUE(json.ok());
  Result<std::unique_ptr<Model>> model = LoadXGBoostModel(*json, ToySignature(), "m.json");
  ASSERT_TRUE(model.ok());
  FeatureMatrix three{1, 3, {1, 2, 3}};
  std::vector<float> p;
  Status s = (*model)->Predict(three, &p);
  EXPECT_EQ(s.message(), "expected 2 features, got 3");
}

}  // namespace
}  // namespace keel::runtime
