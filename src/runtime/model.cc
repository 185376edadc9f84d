#include "runtime/model.h"

#include <algorithm>

#include "runtime/tree_model.h"
#include "runtime/xgboost.h"

namespace keel::runtime {

size_t Model::OutputWidth() const {
  const Signature& s = signature();
  return s.task == Task::kMulticlass ? s.classes.size() : 1;
}

Status Model::Predict(const FeatureMatrix& features, std::vector<float>* out) const {
  if (features.cols != signature().FeatureCount()) {
    return InvalidArgumentError("expected " + std::to_string(signature().FeatureCount()) +
                                " features, got " + std::to_string(features.cols));
  }
  out->resize(features.rows * OutputWidth());
  return PredictInto(features.values, features.rows, *out);
}

size_t PredictedClass(const Signature& signature, const float* row_outputs) {
  if (signature.task == Task::kBinary) return row_outputs[0] >= 0.5f ? 1 : 0;
  return std::max_element(row_outputs, row_outputs + signature.classes.size()) - row_outputs;
}

Result<std::unique_ptr<Model>> LoadModelFiles(std::string_view model_json,
                                              std::string_view signature_json,
                                              const std::string& source) {
  KEEL_ASSIGN_OR_RETURN(Signature signature,
                        SignatureFromJson(signature_json, source + "/signature.json"));
  std::string model_file = source + "/model.json";
  Result<std::unique_ptr<Model>> native = LoadTreeModel(model_json, signature, model_file);
  // kFailedPrecondition: a valid model the tree runtime does not cover
  // (dart, gblinear, another objective); XGBoost's predictor serves it.
  if (native.ok() || native.status().code() != StatusCode::kFailedPrecondition) return native;
  return LoadXGBoostModel(model_json, std::move(signature), model_file);
}

Result<std::unique_ptr<Model>> LoadModelDir(Env* env, const std::string& dir) {
  KEEL_ASSIGN_OR_RETURN(std::string signature_json, ReadFileToString(env, dir + "/signature.json"));
  KEEL_ASSIGN_OR_RETURN(std::string model_json, ReadFileToString(env, dir + "/model.json"));
  return LoadModelFiles(model_json, signature_json, dir);
}

}  // namespace keel::runtime
