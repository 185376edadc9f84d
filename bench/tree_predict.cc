// bench/tree_predict.cc: keel's tree runtime against XGBoost's predictor
// on the same model, in the same run.
//
//   keel_bench_tree_predict CSV|synthetic [TREES [DEPTH]]
//
// Trains binary:logistic (TREES rounds, default 100, max_depth DEPTH,
// default 6) on CSV (numeric features; a 0/1 `target` column; a
// `target_name` column is ignored), e.g.
// /work/shared/datasets/sklearn_toy/breast_cancer.csv, or on 20,000
// synthetic rows of 30 noisy features whose trees grow to full depth.
// Checks that both backends predict the same, then prints per batch size
// the microseconds per PredictInto call and per row of each (the best of
// five timed runs of about 0.2 s each), and the mean depth of the trees;
// then the milliseconds each takes to load model.json (the best of three).
// Exits 1 with the error on stderr on failure.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "runtime/features.h"
#include "runtime/tree_model.h"
#include "runtime/xgboost.h"
#include "table/csv.h"

namespace {

using keel::Result;
using keel::Status;
using namespace keel::runtime;

struct Loaded {
  Signature signature;
  FeatureMatrix features;
  std::vector<float> labels;
};

Loaded Synthetic() {
  Loaded l;
  l.signature.task = Task::kBinary;
  l.signature.target = "target";
  l.signature.classes = {"0", "1"};
  constexpr size_t kRows = 20000, kCols = 30;
  for (size_t c = 0; c < kCols; ++c) {
    l.signature.inputs.push_back({"f" + std::to_string(c), keel::table::ColumnType::kNumeric, {}});
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  l.features = {kRows, kCols, {}};
  for (size_t r = 0; r < kRows; ++r) {
    float x[kCols];
    for (float& v : x) v = normal(rng);
    l.features.values.insert(l.features.values.end(), x, x + kCols);
    float score =
        x[0] * x[1] + std::sin(3 * x[2]) + (x[3] > 0.5f ? x[4] : -x[5]) + 0.8f * normal(rng);
    l.labels.push_back(score > 0 ? 1.0f : 0.0f);
  }
  return l;
}

Result<Loaded> Load(const std::string& path) {
  if (path == "synthetic") return Synthetic();
  keel::table::CsvOptions options;
  options.declared.emplace("target", keel::table::ColumnType::kCategorical);
  KEEL_ASSIGN_OR_RETURN(keel::table::Table table, keel::table::ReadCsv(path, options));
  Loaded l;
  l.signature.task = Task::kBinary;
  l.signature.target = "target";
  l.signature.classes = {"0", "1"};
  for (const keel::table::Column& c : table.columns) {
    if (c.name != "target" && c.name != "target_name")
      l.signature.inputs.push_back({c.name, c.type, {}});
  }
  KEEL_ASSIGN_OR_RETURN(l.features, BuildFeatures(l.signature, table, path));
  KEEL_ASSIGN_OR_RETURN(l.labels, TargetLabels(l.signature, table, path));
  return l;
}

Result<std::string> Train(const Loaded& data, int trees, int depth) {
  XGBoostTraining t;
  t.params = {{"objective", "binary:logistic"},
              {"tree_method", "hist"},
              {"max_depth", std::to_string(depth)},
              {"seed", "0"}};
  t.rounds = trees;
  t.feature_names = data.signature.FeatureNames();
  t.categorical.assign(t.feature_names.size(), false);
  return TrainXGBoost(data.features, data.labels, data.features, data.labels, t);
}

// The mean over trees of their depth (root to deepest leaf).
double MeanDepth(const std::string& json) {
  nlohmann::json model = nlohmann::json::parse(json);
  double sum = 0;
  const nlohmann::json& trees = model["learner"]["gradient_booster"]["model"]["trees"];
  for (const nlohmann::json& tree : trees) {
    const nlohmann::json &left = tree["left_children"], &right = tree["right_children"];
    std::vector<std::pair<int, int>> stack = {{0, 0}};
    int deepest = 0;
    while (!stack.empty()) {
      auto [node, depth] = stack.back();
      stack.pop_back();
      deepest = std::max(deepest, depth);
      if (left[node] != -1)
        stack.insert(stack.end(), {{left[node], depth + 1}, {right[node], depth + 1}});
    }
    sum += deepest;
  }
  return trees.empty() ? 0 : sum / trees.size();
}

// `rows` rows of `all`, cycling.
FeatureMatrix Batch(const FeatureMatrix& all, size_t rows) {
  FeatureMatrix b{rows, all.cols, {}};
  for (size_t r = 0; r < rows; ++r) {
    const float* row = all.row(r % all.rows);
    b.values.insert(b.values.end(), row, row + all.cols);
  }
  return b;
}

// Microseconds per PredictInto call: the best of five runs.
double TimeCalls(const Model& model, const FeatureMatrix& batch) {
  std::vector<float> out(batch.rows * model.OutputWidth());
  using Clock = std::chrono::steady_clock;
  size_t calls = 1;
  double best = 1e300;
  for (int run = 0; run < 6; ++run) {
    Clock::time_point start = Clock::now();
    for (size_t i = 0; i < calls; ++i) {
      if (!model.PredictInto(batch.values, batch.rows, out).ok()) std::abort();
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (run == 0) {  // calibration: about 0.2 s per run from here on
      calls = std::max<size_t>(1, static_cast<size_t>(0.2 / std::max(seconds / calls, 1e-9)));
      continue;
    }
    best = std::min(best, seconds * 1e6 / calls);
  }
  return best;
}

// Milliseconds to load `json` with `load`: the best of three.
template <typename LoadFn>
Result<double> TimeLoad(const std::string& json, const Signature& signature, LoadFn load) {
  double best = 1e300;
  for (int run = 0; run < 3; ++run) {
    auto start = std::chrono::steady_clock::now();
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, load(json, signature, "model.json"));
    const auto took = std::chrono::steady_clock::now() - start;
    best = std::min(best, std::chrono::duration<double, std::milli>(took).count());
  }
  return best;
}

Status Run(const std::string& path, int trees, int depth) {
  KEEL_ASSIGN_OR_RETURN(Loaded data, Load(path));
  KEEL_ASSIGN_OR_RETURN(std::string json, Train(data, trees, depth));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Model> native,
                        LoadTreeModel(json, data.signature, "model.json"));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Model> xgboost,
                        LoadXGBoostModel(json, data.signature, "model.json"));
  std::vector<float> a, b;
  KEEL_RETURN_IF_ERROR(native->Predict(data.features, &a));
  KEEL_RETURN_IF_ERROR(xgboost->Predict(data.features, &b));
  if (std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) != 0) {
    return keel::InternalError("keel-trees and xgboost predict differently");
  }
  std::printf(
      "%s: %zu rows x %zu features; %d trees, max_depth %d (mean depth %.2f); predictions "
      "bit-identical\n",
      path.c_str(), data.features.rows, data.features.cols, trees, depth, MeanDepth(json));
  std::printf("%6s %16s %14s %16s %14s %9s\n", "batch", "keel-trees us", "us/row", "xgboost us",
              "us/row", "speedup");
  for (size_t rows : {1, 8, 64, 1024}) {
    FeatureMatrix batch = Batch(data.features, rows);
    double n = TimeCalls(*native, batch), x = TimeCalls(*xgboost, batch);
    std::printf("%6zu %16.3f %14.4f %16.3f %14.4f %8.0fx\n", rows, n, n / rows, x, x / rows, x / n);
  }
  KEEL_ASSIGN_OR_RETURN(double native_ms, TimeLoad(json, data.signature, LoadTreeModel));
  KEEL_ASSIGN_OR_RETURN(double xgboost_ms, TimeLoad(json, data.signature, LoadXGBoostModel));
  std::printf("load of a %.1f MB model.json: keel-trees %.1f ms, xgboost %.1f ms (%.2fx)\n",
              json.size() / 1e6, native_ms, xgboost_ms, xgboost_ms / native_ms);
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: keel_bench_tree_predict CSV|synthetic [TREES [DEPTH]]\n");
    return 2;
  }
  int trees = argc > 2 ? std::atoi(argv[2]) : 100, depth = argc > 3 ? std::atoi(argv[3]) : 6;
  Status s = Run(argv[1], trees, depth);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
