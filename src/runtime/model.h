// A loaded model behind one interface, whatever its backend: its signature,
// and prediction on a batch of rows.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "runtime/features.h"
#include "runtime/signature.h"

namespace keel::runtime {

class Model {
 public:
  virtual ~Model() = default;

  virtual const Signature& signature() const = 0;

  // Which evaluator predicts: "keel-trees" (keel's own tree runtime,
  // tree_model.h) or "xgboost" (XGBoost's predictor, xgboost.h).
  virtual std::string_view Backend() const = 0;

  // The number of floats a prediction has per row: the number of classes for
  // multiclass (probabilities), else 1 (binary: P(positive class);
  // regression: the value).
  size_t OutputWidth() const;

  // Predicts `rows` rows of `features` (rows x signature().FeatureCount()
  // floats, row-major, NaN for a missing value) into `out` (rows x
  // OutputWidth() floats, row-major). Errors (kInvalidArgument) when a span's
  // size does not match `rows`; `out` is then unspecified.
  // Thread-safe: concurrent calls on one Model are allowed.
  virtual Status PredictInto(std::span<const float> features, size_t rows,
                             std::span<float> out) const = 0;

  // PredictInto on a FeatureMatrix, resizing `out` to rows x OutputWidth().
  // Errors (kInvalidArgument) when features.cols is not the signature's
  // feature count.
  Status Predict(const FeatureMatrix& features, std::vector<float>* out) const;
};

// The class a classifier's outputs for one row (OutputWidth() floats) pick:
// binary, the positive class (1) when its probability is at least 0.5;
// multiclass, the first with the highest probability. An index into
// signature.classes. REQUIRES: a binary or multiclass signature.
size_t PredictedClass(const Signature& signature, const float* row_outputs);

// Loads a model from the contents of its model.json and signature.json;
// errors name `source` (a folder or a model ID) and the file. keel's tree
// runtime evaluates the model when it covers it (LoadTreeModel), else
// XGBoost's predictor does; Backend() tells which.
Result<std::unique_ptr<Model>> LoadModelFiles(std::string_view model_json,
                                              std::string_view signature_json,
                                              const std::string& source);

// Loads the model stored in `dir` (model.json and signature.json, as
// `keel train xgboost` writes them). Errors name the file.
Result<std::unique_ptr<Model>> LoadModelDir(Env* env, const std::string& dir);

}  // namespace keel::runtime
