// keel's own tree runtime: an XGBoost JSON model compiled at load into a
// flat node array (and, for shallow numeric forests, into complete trees
// that blocks of 8 rows go through together, with AVX2 where the CPU has
// it) and evaluated natively, with no lock and no allocation per call
// beyond a per-thread buffer that grows once. It follows XGBoost 1.7's CPU
// predictor (float margins summed in tree order from the base margin, its
// sigmoid and softmax), so its predictions equal XGBoost's.
#pragma once

#include <memory>
#include <string_view>

#include "core/status.h"
#include "runtime/model.h"
#include "runtime/signature.h"

namespace keel::runtime {

// Compiles `model_json` (XGBoost 1.7's JSON model, as `keel train xgboost`
// writes it) into a Model whose Backend() is "keel-trees". It covers gbtree
// boosters (any num_parallel_tree) with numeric and categorical splits and
// the objectives binary:logistic, binary:logitraw, reg:logistic,
// reg:squarederror (reg:linear), multi:softprob and multi:softmax (which,
// like XGBoostModel, predicts probabilities per class). Where XGBoost's
// predictor refuses an infinite feature value, this runtime sends it where
// the largest finite value would go.
//
// Errors name `source` (the model file):
//  - kFailedPrecondition: a model the runtime does not cover (dart,
//    gblinear, another objective, several targets, one written by XGBoost
//    2.x), or whose feature or class count is not `signature`'s.
//    LoadModelFiles then falls back to XGBoost's predictor.
//  - kCorrupt: malformed JSON, or malformed trees (arrays of different
//    lengths, a child out of range or reached twice, a split on a feature
//    the model does not have), naming the tree and node.
Result<std::unique_ptr<Model>> LoadTreeModel(std::string_view model_json, Signature signature,
                                             std::string_view source);

}  // namespace keel::runtime
