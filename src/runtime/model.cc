#include "runtime/model.h"

#include "runtime/xgboost.h"

namespace keel::runtime {

size_t Model::OutputWidth() const {
  const Signature& s = signature();
  return s.task == Task::kMulticlass ? s.classes.size() : 1;
}

Result<std::unique_ptr<Model>> LoadModelFiles(std::string_view model_json, std::string_view signature_json,
                                              const std::string& source) {
  KEEL_ASSIGN_OR_RETURN(Signature signature, SignatureFromJson(signature_json, source + "/signature.json"));
  return LoadXGBoostModel(model_json, std::move(signature), source + "/model.json");
}

Result<std::unique_ptr<Model>> LoadModelDir(Env* env, const std::string& dir) {
  KEEL_ASSIGN_OR_RETURN(std::string signature_json, ReadFileToString(env, dir + "/signature.json"));
  KEEL_ASSIGN_OR_RETURN(std::string model_json, ReadFileToString(env, dir + "/model.json"));
  return LoadModelFiles(model_json, signature_json, dir);
}

}  // namespace keel::runtime
