#include "runtime/tree_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "runtime/xgboost.h"

namespace keel::runtime {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Four numeric features (x0..x3, with `missing` a tenth missing) and a
// categorical one (color, codes 0..7, some missing); `y` depends on all
// of them.
struct Data {
  FeatureMatrix x;
  std::vector<float> binary, multiclass, regression;
};

Data MakeData(size_t rows, uint32_t seed, bool missing = true) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  Data d;
  d.x = {rows, 5, {}};
  for (size_t r = 0; r < rows; ++r) {
    float v[5];
    for (int c = 0; c < 4; ++c) v[c] = missing && rng() % 10 == 0 ? kNaN : uniform(rng);
    v[4] = missing && rng() % 12 == 0 ? kNaN : static_cast<float>(rng() % 8);
    d.x.values.insert(d.x.values.end(), v, v + 5);
    float a = std::isnan(v[0]) ? 0.5f : v[0], b = std::isnan(v[1]) ? -0.5f : v[1];
    int color = std::isnan(v[4]) ? 3 : static_cast<int>(v[4]);
    float score = a + 0.5f * b * b + (color % 3 == 0 ? 1.0f : -0.7f) + 0.3f * uniform(rng);
    d.binary.push_back(score > 0.4f ? 1.0f : 0.0f);
    d.multiclass.push_back(score < 0.0f ? 0.0f : score < 1.2f ? 1.0f : 2.0f);
    d.regression.push_back(100.0f + 20.0f * score);
  }
  return d;
}

// Training rows plus rows XGBoost sees rarely or never: all missing,
// unseen, negative, fractional and huge category codes, extreme numbers.
FeatureMatrix ProbeRows(const FeatureMatrix& train) {
  FeatureMatrix x = train;
  const float colors[] = {kNaN,  -1.0f, -0.5f,  -0.0f, 0.5f,        2.5f,        7.999f, 8.0f,
                          31.0f, 32.0f, 100.0f, 1e7f,  16777215.0f, 16777216.0f, 3e9f};
  const float numbers[] = {kNaN, -1e30f, 1e30f, 0.0f, -0.0f, 1e-30f};
  for (float color : colors) {
    for (float number : numbers) {
      float row[5] = {number, -number, number, 0.25f, color};
      x.values.insert(x.values.end(), row, row + 5);
      ++x.rows;
    }
  }
  return x;
}

Signature MakeSignature(Task task, size_t classes) {
  Signature s;
  s.task = task;
  s.target = "y";
  for (int c = 0; c < 4; ++c)
    s.inputs.push_back({"x" + std::to_string(c), table::ColumnType::kNumeric, {}});
  s.inputs.push_back(
      {"color", table::ColumnType::kCategorical, {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"}});
  for (size_t i = 0; i < classes; ++i) s.classes.push_back(std::to_string(i));
  return s;
}

// Trains on `data` with `params` (plus a fixed seed and one thread);
// `color` says whether the color feature is categorical for XGBoost.
std::string Train(const Data& data, const std::vector<float>& labels,
                  std::vector<std::pair<std::string, std::string>> params, int rounds,
                  bool color = true) {
  XGBoostTraining t;
  t.params = std::move(params);
  t.params.insert(t.params.end(), {{"seed", "0"}, {"nthread", "1"}});
  t.rounds = rounds;
  t.feature_names = {"x0", "x1", "x2", "x3", "color"};
  t.categorical = {false, false, false, false, color};
  Result<std::string> json = TrainXGBoost(data.x, labels, data.x, labels, t);
  EXPECT_TRUE(json.ok()) << json.status().ToString();
  return json.ok() ? *json : "";
}

std::vector<float> PredictWith(const Model& model, const FeatureMatrix& x) {
  std::vector<float> out;
  Status s = model.Predict(x, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// The tree runtime's predictions against XGBoost's on the training rows
// and the probe rows: equal to the bit, which is tighter than the 1e-6
// (relative above 1) the product promises. Row by row (the runtime's
// single-row walk) they are the same as in blocks.
void ExpectMatchesXGBoost(const std::string& json, const Signature& s, const FeatureMatrix& train) {
  Result<std::unique_ptr<Model>> native = LoadTreeModel(json, s, "model.json");
  ASSERT_TRUE(native.ok()) << native.status().ToString();
  EXPECT_EQ((*native)->Backend(), "keel-trees");
  Result<std::unique_ptr<Model>> xgboost = LoadXGBoostModel(json, s, "model.json");
  ASSERT_TRUE(xgboost.ok()) << xgboost.status().ToString();
  FeatureMatrix x = ProbeRows(train);
  std::vector<float> got = PredictWith(**native, x), want = PredictWith(**xgboost, x);
  ASSERT_EQ(got.size(), want.size());
  size_t width = (*native)->OutputWidth(), differ = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(std::fabs(got[i] - want[i]), 1e-6 * std::max(1.0f, std::fabs(want[i])))
        << "row " << i / width << " output " << i % width << ": keel " << got[i] << ", XGBoost "
        << want[i];
    differ += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
  }
  EXPECT_EQ(differ, 0u) << "outputs not bit-identical to XGBoost's";
  std::vector<float> one(width);
  for (size_t r = 0; r < x.rows; ++r) {
    ASSERT_TRUE((*native)->PredictInto(std::span<const float>(x.row(r), x.cols), 1, one).ok());
    ASSERT_TRUE(std::equal(one.begin(), one.end(), got.begin() + r * width))
        << "row " << r << " alone";
  }
}

TEST(TreeModelTest, BinaryLogisticNumeric) {
  Data d = MakeData(600, 1, /*missing=*/false);
  std::string json =
      Train(d, d.binary, {{"objective", "binary:logistic"}, {"max_depth", "6"}}, 30, false);
  ExpectMatchesXGBoost(json, MakeSignature(Task::kBinary, 2), d.x);
}

// The deepest of the model's trees, counted in steps from the root.
size_t DeepestTree(const std::string& json) {
  size_t deepest = 0;
  const nlohmann::json model = nlohmann::json::parse(json);
  for (const nlohmann::json& tree : model["learner"]["gradient_booster"]["model"]["trees"]) {
    const std::vector<int64_t> left = tree["left_children"], right = tree["right_children"];
    std::vector<std::pair<int64_t, size_t>> stack = {{0, 0}};
    while (!stack.empty()) {
      auto [node, depth] = stack.back();
      stack.pop_back();
      deepest = std::max(deepest, depth);
      if (left[node] != -1) stack.insert(stack.end(), {{left[node], depth + 1}, {right[node], depth + 1}});
    }
  }
  return deepest;
}

// Blocks of rows go through forests of trees up to depth 8 in the complete
// layout (the shallow ones chosen whole, the deeper walked) and forests
// with a deeper tree in the compact one: all agree with XGBoost, missing
// values included.
TEST(TreeModelTest, ShallowAndDeepForests) {
  Data d = MakeData(3000, 3);
  Signature s = MakeSignature(Task::kBinary, 2);
  std::string shallow = Train(d, d.binary, {{"objective", "binary:logistic"}, {"max_depth", "8"}}, 10, false);
  EXPECT_EQ(DeepestTree(shallow), 8u);
  ExpectMatchesXGBoost(shallow, s, d.x);
  std::string deep = Train(d, d.binary,
                           {{"objective", "binary:logistic"}, {"max_depth", "14"}, {"min_child_weight", "0"}},
                           10, false);
  EXPECT_GT(DeepestTree(deep), 8u);
  ExpectMatchesXGBoost(deep, s, d.x);
}

TEST(TreeModelTest, NativeCategoricalSplits) {
  Data d = MakeData(600, 2);
  // Partition splits (max_cat_to_onehot 1) and one-hot splits (16).
  for (const char* onehot : {"1", "16"}) {
    std::string json = Train(d, d.binary,
                             {{"objective", "binary:logistic"},
                              {"tree_method", "hist"},
                              {"max_cat_to_onehot", onehot},
                              {"max_depth", "5"}},
                             25);
    ASSERT_NE(json.find("\"split_type\":[0,1"), std::string::npos)
        << "no categorical split at node 1";
    ExpectMatchesXGBoost(json, MakeSignature(Task::kBinary, 2), d.x);
  }
}

TEST(TreeModelTest, MulticlassSoftprob) {
  Data d = MakeData(600, 3);
  std::string json =
      Train(d, d.multiclass,
            {{"objective", "multi:softprob"}, {"num_class", "3"}, {"tree_method", "hist"}}, 15);
  ExpectMatchesXGBoost(json, MakeSignature(Task::kMulticlass, 3), d.x);
}

TEST(TreeModelTest, MulticlassSoftmaxPredictsProbabilities) {
  Data d = MakeData(600, 3);
  Signature s = MakeSignature(Task::kMulticlass, 3);
  std::vector<std::pair<std::string, std::string>> params = {{"num_class", "3"},
                                                             {"tree_method", "hist"}};
  params.emplace_back("objective", "multi:softmax");
  std::string softmax = Train(d, d.multiclass, params, 15);
  params.back().second = "multi:softprob";
  std::string softprob = Train(d, d.multiclass, params, 15);
  ExpectMatchesXGBoost(softmax, s, d.x);
  Result<std::unique_ptr<Model>> a = LoadTreeModel(softmax, s, "a"),
                                 b = LoadXGBoostModel(softprob, s, "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(PredictWith(**a, d.x), PredictWith(**b, d.x));
}

TEST(TreeModelTest, RegressionSquaredErrorAndLogistic) {
  Data d = MakeData(600, 4);
  Signature s = MakeSignature(Task::kRegression, 0);
  ExpectMatchesXGBoost(
      Train(d, d.regression, {{"objective", "reg:squarederror"}, {"max_depth", "7"}}, 40), s, d.x);
  ExpectMatchesXGBoost(Train(d, d.binary, {{"objective", "reg:logistic"}, {"eta", "0.5"}}, 20), s,
                       d.x);
}

TEST(TreeModelTest, ExplicitBaseScore) {
  Data d = MakeData(400, 5);
  ExpectMatchesXGBoost(
      Train(d, d.binary, {{"objective", "binary:logistic"}, {"base_score", "0.3"}}, 10),
      MakeSignature(Task::kBinary, 2), d.x);
  ExpectMatchesXGBoost(
      Train(d, d.regression, {{"objective", "reg:squarederror"}, {"base_score", "97.3"}}, 10),
      MakeSignature(Task::kRegression, 0), d.x);
  ExpectMatchesXGBoost(
      Train(d, d.multiclass,
            {{"objective", "multi:softprob"}, {"num_class", "3"}, {"base_score", "0.2"}}, 10),
      MakeSignature(Task::kMulticlass, 3), d.x);
}

TEST(TreeModelTest, LogitRawAndParallelTrees) {
  Data d = MakeData(400, 6);
  Signature s = MakeSignature(Task::kBinary, 2);
  ExpectMatchesXGBoost(
      Train(d, d.binary, {{"objective", "binary:logitraw"}, {"base_score", "0.7"}}, 10), s, d.x);
  ExpectMatchesXGBoost(Train(d, d.binary,
                             {{"objective", "binary:logistic"},
                              {"num_parallel_tree", "4"},
                              {"subsample", "0.6"},
                              {"colsample_bynode", "0.6"}},
                             5),
                       s, d.x);
}

TEST(TreeModelTest, StumpsAndSingleLeafTrees) {
  Data d = MakeData(400, 7);
  Signature s = MakeSignature(Task::kBinary, 2);
  ExpectMatchesXGBoost(
      Train(d, d.binary, {{"objective", "binary:logistic"}, {"max_depth", "1"}}, 20), s, d.x);
  // A huge gamma prunes every split: each tree is its root leaf, the
  // pruned nodes left behind unreachable.
  std::string leaves = Train(d, d.binary, {{"objective", "binary:logistic"}, {"gamma", "1e9"}}, 5);
  ASSERT_NE(leaves.find("\"left_children\":[-1,-1,"), std::string::npos);
  ExpectMatchesXGBoost(leaves, s, d.x);
  // max_depth 0 with lossguide: depth limited by leaves only.
  ExpectMatchesXGBoost(Train(d, d.binary,
                             {{"objective", "binary:logistic"},
                              {"tree_method", "hist"},
                              {"grow_policy", "lossguide"},
                              {"max_depth", "0"},
                              {"max_leaves", "40"}},
                             10),
                       s, d.x);
}

// XGBoost refuses infinite values; the runtime takes them as the largest
// finite ones, going where XGBoost's predictor would send them.
TEST(TreeModelTest, InfiniteValuesActAsTheLargestFiniteOnes) {
  Data d = MakeData(400, 14);
  Result<std::unique_ptr<Model>> model =
      LoadTreeModel(Train(d, d.binary, {{"objective", "binary:logistic"}}, 10),
                    MakeSignature(Task::kBinary, 2), "m");
  ASSERT_TRUE(model.ok());
  constexpr float kInf = std::numeric_limits<float>::infinity(),
                  kMax = std::numeric_limits<float>::max();
  FeatureMatrix infinite{2, 5, {kInf, -kInf, kInf, -kInf, kInf, -kInf, kInf, -kInf, kInf, -kInf}};
  FeatureMatrix finite{2, 5, {kMax, -kMax, kMax, -kMax, kMax, -kMax, kMax, -kMax, kMax, -kMax}};
  EXPECT_EQ(PredictWith(**model, infinite), PredictWith(**model, finite));
}

// LoadModelFiles falls back to XGBoost for what the runtime does not cover.
void ExpectFallsBack(const std::string& json, const Signature& s, const FeatureMatrix& x) {
  Result<std::unique_ptr<Model>> native = LoadTreeModel(json, s, "m/model.json");
  ASSERT_FALSE(native.ok());
  EXPECT_EQ(native.status().code(), StatusCode::kFailedPrecondition) << native.status().ToString();
  EXPECT_EQ(
      native.status().message().rfind("m/model.json: keel's tree runtime does not evaluate ", 0),
      0u)
      << native.status().message();
  Result<std::unique_ptr<Model>> loaded = LoadModelFiles(json, SignatureToJson(s), "m");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Backend(), "xgboost");
  Result<std::unique_ptr<Model>> xgboost = LoadXGBoostModel(json, s, "m/model.json");
  ASSERT_TRUE(xgboost.ok());
  EXPECT_EQ(PredictWith(**loaded, x), PredictWith(**xgboost, x));
}

TEST(TreeModelTest, DartGblinearAndOtherObjectivesFallBackToXGBoost) {
  Data d = MakeData(300, 8);
  Signature binary = MakeSignature(Task::kBinary, 2),
            regression = MakeSignature(Task::kRegression, 0);
  ExpectFallsBack(
      Train(d, d.binary,
            {{"objective", "binary:logistic"}, {"booster", "dart"}, {"rate_drop", "0.3"}}, 8),
      binary, d.x);
  FeatureMatrix dense = d.x;  // gblinear has no categorical features
  for (float& v : dense.values) v = std::isnan(v) ? 0.0f : v;
  Data linear = d;
  linear.x = dense;
  ExpectFallsBack(Train(linear, d.binary,
                        {{"objective", "binary:logistic"}, {"booster", "gblinear"}}, 8, false),
                  binary, dense);
  ExpectFallsBack(Train(d, d.regression, {{"objective", "count:poisson"}}, 8), regression, d.x);
}

TEST(TreeModelTest, LoadModelFilesUsesTheTreeRuntime) {
  Data d = MakeData(300, 9);
  Signature s = MakeSignature(Task::kBinary, 2);
  std::string json = Train(d, d.binary, {{"objective", "binary:logistic"}}, 5);
  Result<std::unique_ptr<Model>> loaded = LoadModelFiles(json, SignatureToJson(s), "m");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Backend(), "keel-trees");
}

TEST(TreeModelTest, AModelUnlikeItsSignatureFallsBack) {
  Data d = MakeData(300, 10);
  std::string json = Train(d, d.binary, {{"objective", "binary:logistic"}}, 5);
  Signature fewer = MakeSignature(Task::kBinary, 2);
  fewer.inputs.pop_back();
  Result<std::unique_ptr<Model>> native = LoadTreeModel(json, fewer, "model.json");
  ASSERT_FALSE(native.ok());
  EXPECT_EQ(native.status().message(),
            "model.json: keel's tree runtime does not evaluate a model of 5 features for a "
            "signature of 4");
  native = LoadTreeModel(json, MakeSignature(Task::kMulticlass, 3), "model.json");
  ASSERT_FALSE(native.ok());
  EXPECT_EQ(native.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(
      native.status().message().find("binary:logistic and 0 classes for a multiclass signature"),
      std::string::npos)
      << native.status().message();
}

TEST(TreeModelTest, PredictIntoChecksSizesAndTakesNoRows) {
  Data d = MakeData(200, 11);
  Result<std::unique_ptr<Model>> model =
      LoadTreeModel(Train(d, d.binary, {{"objective", "binary:logistic"}}, 3),
                    MakeSignature(Task::kBinary, 2), "m");
  ASSERT_TRUE(model.ok());
  std::vector<float> out(2);
  Status s = (*model)->PredictInto(std::span<const float>(d.x.values).first(9), 2, out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "predict: 9 features and 2 outputs for 2 rows of 5 features");
  EXPECT_TRUE((*model)->PredictInto({}, 0, {}).ok());
  FeatureMatrix wide{1, 6, std::vector<float>(6)};
  EXPECT_EQ((*model)->Predict(wide, &out).message(), "expected 5 features, got 6");
}

TEST(TreeModelTest, ConcurrentPredictionsAgree) {
  Data d = MakeData(500, 12);
  Result<std::unique_ptr<Model>> model = LoadTreeModel(
      Train(d, d.multiclass, {{"objective", "multi:softprob"}, {"num_class", "3"}}, 10),
      MakeSignature(Task::kMulticlass, 3), "m");
  ASSERT_TRUE(model.ok());
  std::vector<float> want = PredictWith(**model, d.x);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (auto& out : got) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) out = PredictWith(**model, d.x);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& out : got) EXPECT_EQ(out, want);
}

// ---- malformed model.json ------------------------------------------------

// A small numeric model (no NaN in its JSON) to break in one place.
nlohmann::json SmallModel() {
  Data d = MakeData(300, 13);
  return nlohmann::json::parse(
      Train(d, d.binary, {{"objective", "binary:logistic"}, {"max_depth", "3"}}, 3, false));
}

std::string LoadError(const nlohmann::json& model) {
  Result<std::unique_ptr<Model>> loaded =
      LoadTreeModel(model.dump(), MakeSignature(Task::kBinary, 2), "m/model.json");
  if (loaded.ok()) return "loaded";
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorrupt) << loaded.status().ToString();
  return loaded.status().message();
}

TEST(TreeModelTest, OtherXGBoostFormatsFallBack) {
  nlohmann::json model = SmallModel();
  Signature s = MakeSignature(Task::kBinary, 2);
  nlohmann::json m = model;
  m["version"] = {2, 0, 3};
  Result<std::unique_ptr<Model>> loaded = LoadTreeModel(m.dump(), s, "m");
  EXPECT_EQ(loaded.status().ToString(),
            "failed precondition: m: keel's tree runtime does not evaluate models of XGBoost 2.x");
  m = model;
  m["learner"]["learner_model_param"]["base_score"] = "[5E-1]";
  loaded = LoadTreeModel(m.dump(), s, "m");
  EXPECT_EQ(loaded.status().ToString(),
            "failed precondition: m: keel's tree runtime does not evaluate base_score '[5E-1]'");
}

TEST(TreeModelTest, MalformedTreesAreCorruptNamingTreeAndNode) {
  nlohmann::json model = SmallModel();
  nlohmann::json& trees = model["learner"]["gradient_booster"]["model"]["trees"];
  ASSERT_EQ(trees.size(), 3u);
  size_t n = trees[1]["left_children"].size();

  nlohmann::json m = model;
  m["learner"]["gradient_booster"]["model"]["trees"][1]["right_children"].erase(0);
  EXPECT_EQ(LoadError(m), "m/model.json: tree 1: right_children has " + std::to_string(n - 1) +
                              " entries, left_children " + std::to_string(n));

  m = model;
  m["learner"]["gradient_booster"]["model"]["trees"][1]["left_children"][0] = 999;
  EXPECT_EQ(LoadError(m), "m/model.json: tree 1: node 0: child 999 is out of range (" +
                              std::to_string(n) + " nodes)");

  m = model;
  nlohmann::json& tree = m["learner"]["gradient_booster"]["model"]["trees"][1];
  int64_t left = tree["left_children"][0];
  ASSERT_NE(tree["left_children"][left], -1) << "node 1 should be internal";
  tree["right_children"][left] = 0;
  EXPECT_EQ(LoadError(m),
            "m/model.json: tree 1: node 0 is reached twice (a cycle or a shared child)");

  m = model;
  m["learner"]["gradient_booster"]["model"]["trees"][2]["split_indices"][0] = 5;
  EXPECT_EQ(LoadError(m),
            "m/model.json: tree 2: node 0: split on feature 5, the model has 5 features");

  m = model;
  m["learner"]["gradient_booster"]["model"]["tree_info"].erase(0);
  EXPECT_EQ(LoadError(m),
            "m/model.json: learner.gradient_booster.model: tree_info has 2 entries for 3 trees");

  m = model;
  m["learner"]["gradient_booster"]["model"]["trees"][0]["split_type"][0] = 1;
  EXPECT_EQ(LoadError(m), "m/model.json: tree 0: node 0: a categorical split without categories");

  m = model;
  m["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"][0] = "high";
  EXPECT_NE(
      LoadError(m).find("m/model.json: learner.gradient_booster.model.trees[0].split_conditions: "),
      std::string::npos);
}

TEST(TreeModelTest, MalformedJsonIsCorruptAndLoadModelFilesDoesNotFallBack) {
  EXPECT_EQ(LoadError(nlohmann::json::object()).rfind("m/model.json: learner: ", 0), 0u);
  Result<std::unique_ptr<Model>> bad =
      LoadTreeModel("{\"learner\": [", MakeSignature(Task::kBinary, 2), "m.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(bad.status().message().rfind("m.json: ", 0), 0u) << bad.status().message();

  nlohmann::json model = SmallModel();
  model["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"][0] = -7;
  Result<std::unique_ptr<Model>> loaded =
      LoadModelFiles(model.dump(), SignatureToJson(MakeSignature(Task::kBinary, 2)), "dir");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(
      loaded.status().message(),
      "dir/model.json: tree 0: node 0: child -7 is out of range (" +
          std::to_string(
              model["learner"]["gradient_booster"]["model"]["trees"][0]["left_children"].size()) +
          " nodes)");
}

// Text that is not JSON is corrupt wherever it is, also in a field keel
// never reads and behind fields looked up out of order, while XGBoost's
// bare NaN and Infinity (a categorical split's condition) still load.
TEST(TreeModelTest, MalformedJsonInAnUnreadFieldIsCorrupt) {
  const std::string good = SmallModel().dump();
  ASSERT_TRUE(LoadTreeModel(good, MakeSignature(Task::kBinary, 2), "m.json").ok());
  std::string bad = good;
  bad.insert(bad.find("\"learner\":{") + 11, "\"unread\":[1,2},");
  bad = "{\"version\":[1,7,4]," + bad.substr(1);  // read last, so found by wrapping around
  Result<std::unique_ptr<Model>> loaded = LoadTreeModel(bad, MakeSignature(Task::kBinary, 2), "m.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(loaded.status().message().rfind("m.json: malformed JSON: ", 0), 0u) << loaded.status().message();

  nlohmann::json special = SmallModel();
  special["learner"]["gradient_booster"]["model"]["trees"][0]["loss_changes"][0] = "NaN-marker";
  std::string text = special.dump();
  text.replace(text.find("\"NaN-marker\""), 12, "NaN");
  text.insert(text.find("\"learner\":{") + 11, "\"notes\":[\"NaN in a string\",-Infinity],");
  EXPECT_TRUE(LoadTreeModel(text, MakeSignature(Task::kBinary, 2), "m.json").ok());

  // Only where a value may start: 1NaN and 1Infinity are not numbers.
  for (const char* word : {"[1NaN]", "[1Infinity]", "[1e-NaN]", "[\"a\"NaN]"}) {
    std::string glued = good;
    glued.insert(glued.find("\"learner\":{") + 11, "\"unread\":" + std::string(word) + ",");
    Result<std::unique_ptr<Model>> l =
        LoadTreeModel(glued, MakeSignature(Task::kBinary, 2), "m.json");
    ASSERT_FALSE(l.ok()) << word;
    EXPECT_EQ(l.status().message().rfind("m.json: malformed JSON: ", 0), 0u) << word;
  }
}

// A bare Infinity that keel reads is read as infinity, not as the 0 that
// stood in for it while the text was checked.
TEST(TreeModelTest, ABareInfinityIsReadAsInfinity) {
  const Data d = MakeData(300, 13);
  nlohmann::json model = SmallModel();
  model["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"][0] = "T-marker";
  const std::string marked = model.dump();
  auto with = [&](const std::string& threshold) {
    std::string text = marked;
    text.replace(text.find("\"T-marker\""), 10, threshold);
    Result<std::unique_ptr<Model>> loaded =
        LoadTreeModel(text, MakeSignature(Task::kBinary, 2), "m.json");
    EXPECT_TRUE(loaded.ok()) << threshold << ": " << loaded.status().ToString();
    std::vector<float> out;
    if (loaded.ok()) {
      EXPECT_TRUE((*loaded)->Predict(d.x, &out).ok());
    }
    return out;
  };
  // Above every value: each row's present value goes left at tree 0's root.
  const std::vector<float> huge = with("3e38");
  EXPECT_EQ(with("Infinity"), huge);
  EXPECT_NE(with("0"), huge);  // the rows tell a threshold of 0 apart
}

}  // namespace
}  // namespace keel::runtime
