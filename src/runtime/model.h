// A loaded model behind one interface, whatever its backend: its signature,
// and prediction on a batch of rows.
#pragma once

#include <memory>
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

  // The number of floats Predict writes per row: the number of classes for
  // multiclass, else 1 (binary: P(positive class); regression: the value).
  size_t OutputWidth() const;

  // Predicts every row of `features` (signature().FeatureCount() columns)
  // into `out` (resized to rows x OutputWidth()).
  // Thread-safe: concurrent calls on one Model are allowed.
  virtual Status Predict(const FeatureMatrix& features, std::vector<float>* out) const = 0;
};

// Loads a model from the contents of its model.json and signature.json;
// errors name `source` (a folder or a model ID) and the file.
Result<std::unique_ptr<Model>> LoadModelFiles(std::string_view model_json, std::string_view signature_json,
                                              const std::string& source);

// Loads the model stored in `dir` (model.json and signature.json, as
// `keel train xgboost` writes them). Errors name the file.
Result<std::unique_ptr<Model>> LoadModelDir(Env* env, const std::string& dir);

}  // namespace keel::runtime
