// The built-in trainer: gradient-boosted trees with XGBoost on a CSV table,
// writing a model folder that keel predict, the registry and the server use.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "runtime/eval_metrics.h"
#include "runtime/signature.h"

namespace keel {

struct XGBoostTrainOptions {
  std::string train_path;
  // Validation rows: the file `valid_path`, or when it is empty a random
  // `valid_fraction` of the training file's rows, drawn with `seed`.
  std::string valid_path;
  double valid_fraction = 0.2;
  uint64_t seed = 0;
  std::string target;
  runtime::Task task = runtime::Task::kBinary;
  // XGBoost parameters: every key of section `params_section` of
  // `params_file` (none when the section is empty), then `overrides`.
  // num_boost_round (or n_estimators) sets the number of rounds (100).
  std::string params_file = "params.yaml";
  std::string params_section;
  std::vector<std::pair<std::string, std::string>> overrides;
  runtime::CategoricalEncoding encoding = runtime::CategoricalEncoding::kNative;
  // Columns read as categories even when they look numeric.
  std::vector<std::string> categorical_columns;
  // Columns that are not inputs (ids, leaks).
  std::vector<std::string> exclude;
  std::string out_dir;
  // Also writes metrics.json's content here (for a pipeline's `metrics:`,
  // which may not lie inside the model folder); empty: not.
  std::string metrics_path;
  // Called with each round's validation metrics (XGBoost's names); may be empty.
  std::function<void(int round, const std::string& name, double value)> on_round;
};

struct TrainReport {
  size_t train_rows = 0;
  size_t valid_rows = 0;
  size_t features = 0;
  int rounds = 0;
  std::vector<std::pair<std::string, std::string>> params;  // as passed to XGBoost
  std::vector<runtime::MetricValue> metrics;                // on the validation rows
};

// Trains and writes out_dir/{model.json, signature.json, metrics.json,
// profile.json} (docs/format/model.md). With the same inputs, options and
// seed, the files are byte-identical.
// Errors (kInvalidArgument unless a file is missing or unwritable) name the
// file and column or parameter.
Result<TrainReport> TrainXGBoostModel(Env* env, const XGBoostTrainOptions& options);

}  // namespace keel
