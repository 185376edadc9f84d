// XGBoost through libxgboost's C API: training a booster, and a Model that
// predicts with XGBoost's own predictor. The only file that sees
// xgboost/c_api.h is xgboost.cc.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "runtime/features.h"
#include "runtime/model.h"
#include "runtime/signature.h"

namespace keel::runtime {

std::string XGBoostVersion();  // "1.7.4"

struct XGBoostTraining {
  // Passed to XGBoosterSetParam in order (objective, seed, max_depth, ...).
  std::vector<std::pair<std::string, std::string>> params;
  int rounds = 100;
  // One per feature column: its name and whether it is categorical
  // (XGBoost's native categorical splits; the value is the category index).
  std::vector<std::string> feature_names;
  std::vector<bool> categorical;
  // Called after each round with the round and XGBoost's evaluation of the
  // validation set ("logloss" -> 0.31); may be empty.
  std::function<void(int round, const std::vector<std::pair<std::string, double>>&)> on_round;
};

// Trains a booster on `train` (labels one per row) and returns XGBoost's
// JSON model (the bytes of model.json). `valid` is evaluated each round for
// `on_round`. Errors carry XGBoost's own message (kInvalidArgument for a bad
// parameter).
Result<std::string> TrainXGBoost(const FeatureMatrix& train, std::span<const float> train_labels,
                                 const FeatureMatrix& valid, std::span<const float> valid_labels,
                                 const XGBoostTraining& training);

// A Model predicting with XGBoost's predictor from the model JSON; its
// Backend() is "xgboost". A multi:softmax model predicts probabilities per
// class, as multi:softprob would. Errors (kCorrupt) name `source` (the model
// file) with XGBoost's message.
Result<std::unique_ptr<Model>> LoadXGBoostModel(std::string_view model_json, Signature signature,
                                                std::string_view source);

}  // namespace keel::runtime
