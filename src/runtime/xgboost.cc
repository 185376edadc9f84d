// The one adapter over libxgboost's C API: return codes plus
// XGBGetLastError() become Status, handles are owned by RAII wrappers.
#include "runtime/xgboost.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace keel::runtime {
namespace {

Status Check(int rc, std::string_view what, StatusCode code = StatusCode::kInvalidArgument) {
  if (rc == 0) return Status::Ok();
  std::string message = XGBGetLastError();
  // Debian's libxgboost appends a stack trace; keep the message above it.
  size_t trace = message.find("\nStack trace:");
  if (trace != std::string::npos) message.resize(trace);
  // Then drop the "[12:00:00] /build/src/learner.cc:123: " prefix.
  if (!message.empty() && message[0] == '[') {
    size_t prefix = message.find(": ", message.find(']'));
    if (prefix != std::string::npos) message = message.substr(prefix + 2);
  }
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  size_t newline = message.rfind('\n');
  if (newline != std::string::npos) message = message.substr(newline + 1);
  return Status(code, std::string(what) + ": " + message);
}

struct DMatrixDeleter {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
struct BoosterDeleter {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using DMatrix = std::unique_ptr<void, DMatrixDeleter>;
using Booster = std::unique_ptr<void, BoosterDeleter>;

Result<DMatrix> MakeDMatrix(const FeatureMatrix& m, std::span<const float> labels,
                            const XGBoostTraining* training) {
  DMatrixHandle handle = nullptr;
  KEEL_RETURN_IF_ERROR(Check(XGDMatrixCreateFromMat(m.values.data(), m.rows, m.cols,
                                                    std::numeric_limits<float>::quiet_NaN(),
                                                    &handle),
                             "XGBoost DMatrix"));
  DMatrix matrix(handle);
  if (!labels.empty()) {
    KEEL_RETURN_IF_ERROR(Check(
        XGDMatrixSetFloatInfo(handle, "label", labels.data(), labels.size()), "XGBoost labels"));
  }
  if (training != nullptr && !training->feature_names.empty()) {
    std::vector<const char*> names, types;
    for (size_t i = 0; i < training->feature_names.size(); ++i) {
      names.push_back(training->feature_names[i].c_str());
      types.push_back(training->categorical[i] ? "c" : "q");
    }
    KEEL_RETURN_IF_ERROR(Check(
        XGDMatrixSetStrFeatureInfo(handle, "feature_name", names.data(), names.size()),
        "XGBoost feature names"));
    KEEL_RETURN_IF_ERROR(Check(
        XGDMatrixSetStrFeatureInfo(handle, "feature_type", types.data(), types.size()),
        "XGBoost feature types"));
  }
  return matrix;
}

// "[3]\tvalid-logloss:0.31\tvalid-auc:0.9" -> {logloss: 0.31, auc: 0.9}.
std::vector<std::pair<std::string, double>> ParseEval(std::string_view text) {
  std::vector<std::pair<std::string, double>> out;
  size_t pos = 0;
  while ((pos = text.find("valid-", pos)) != std::string_view::npos) {
    pos += 6;
    size_t colon = text.find(':', pos);
    if (colon == std::string_view::npos) break;
    size_t end = text.find('\t', colon);
    std::string value(text.substr(colon + 1, end == std::string_view::npos ? end : end - colon - 1));
    out.emplace_back(std::string(text.substr(pos, colon - pos)), std::strtod(value.c_str(), nullptr));
    pos = colon;
  }
  return out;
}

// Stores the feature names and types in the model itself, as Python's
// Booster does, so model.json describes its inputs.
Status SetFeatureInfo(BoosterHandle booster, const XGBoostTraining& training) {
  if (training.feature_names.empty()) return Status::Ok();
  std::vector<const char*> names, types;
  for (size_t i = 0; i < training.feature_names.size(); ++i) {
    names.push_back(training.feature_names[i].c_str());
    types.push_back(training.categorical[i] ? "c" : "q");
  }
  KEEL_RETURN_IF_ERROR(Check(XGBoosterSetStrFeatureInfo(booster, "feature_name", names.data(), names.size()),
                             "XGBoost feature names"));
  return Check(XGBoosterSetStrFeatureInfo(booster, "feature_type", types.data(), types.size()),
               "XGBoost feature types");
}

Result<Booster> NewBooster(DMatrixHandle* dmats, size_t count) {
  BoosterHandle handle = nullptr;
  KEEL_RETURN_IF_ERROR(Check(XGBoosterCreate(dmats, count, &handle), "XGBoost booster"));
  return Booster(handle);
}

class XGBoostModel : public Model {
 public:
  XGBoostModel(Booster booster, Signature signature)
      : booster_(std::move(booster)), signature_(std::move(signature)) {}

  const Signature& signature() const override { return signature_; }
  std::string_view Backend() const override { return "xgboost"; }

  Status PredictInto(std::span<const float> features, size_t rows, std::span<float> out) const override {
    size_t cols = signature_.FeatureCount();
    if (features.size() != rows * cols || out.size() != rows * OutputWidth()) {
      return InvalidArgumentError("predict: " + std::to_string(features.size()) + " features and " +
                                  std::to_string(out.size()) + " outputs for " + std::to_string(rows) +
                                  " rows of " + std::to_string(cols) + " features");
    }
    if (rows == 0) return Status::Ok();
    DMatrixHandle handle = nullptr;
    KEEL_RETURN_IF_ERROR(Check(XGDMatrixCreateFromMat(features.data(), rows, cols,
                                                      std::numeric_limits<float>::quiet_NaN(), &handle),
                               "XGBoost DMatrix"));
    DMatrix matrix(handle);
    // The result buffer belongs to the booster until its next call.
    std::lock_guard<std::mutex> lock(mu_);
    const bst_ulong* shape = nullptr;
    bst_ulong dims = 0;
    const float* result = nullptr;
    KEEL_RETURN_IF_ERROR(Check(
        XGBoosterPredictFromDMatrix(booster_.get(), matrix.get(),
                                    R"({"type": 0, "training": false, "iteration_begin": 0, )"
                                    R"("iteration_end": 0, "strict_shape": false})",
                                    &shape, &dims, &result),
        "XGBoost predict"));
    size_t n = 1;
    for (bst_ulong d = 0; d < dims; ++d) n *= shape[d];
    if (n != out.size()) {
      return InternalError("XGBoost predict: " + std::to_string(n) + " values for " + std::to_string(rows) +
                           " rows; does model.json match signature.json?");
    }
    std::copy(result, result + n, out.begin());
    return Status::Ok();
  }

 private:
  Booster booster_;
  Signature signature_;
  mutable std::mutex mu_;  // guards booster_'s prediction buffer
};

// multi:softmax predicts class indices; the Model contract is probabilities
// per class, which the same trees give under multi:softprob.
Status PredictProbabilities(BoosterHandle booster, std::string_view source) {
  bst_ulong length = 0;
  const char* config = nullptr;
  KEEL_RETURN_IF_ERROR(Check(XGBoosterSaveJsonConfig(booster, &length, &config), std::string(source)));
  nlohmann::json parsed = nlohmann::json::parse(std::string_view(config, length), nullptr, false);
  const nlohmann::json* name = nullptr;
  if (!parsed.is_discarded()) {
    nlohmann::json::json_pointer pointer("/learner/objective/name");
    if (parsed.contains(pointer)) name = &parsed.at(pointer);
  }
  if (name == nullptr || *name != "multi:softmax") return Status::Ok();
  return Check(XGBoosterSetParam(booster, "objective", "multi:softprob"), std::string(source));
}

}  // namespace

std::string XGBoostVersion() {
  int major = 0, minor = 0, patch = 0;
  ::XGBoostVersion(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Result<std::string> TrainXGBoost(const FeatureMatrix& train, std::span<const float> train_labels,
                                 const FeatureMatrix& valid, std::span<const float> valid_labels,
                                 const XGBoostTraining& training) {
  KEEL_ASSIGN_OR_RETURN(DMatrix dtrain, MakeDMatrix(train, train_labels, &training));
  KEEL_ASSIGN_OR_RETURN(DMatrix dvalid, MakeDMatrix(valid, valid_labels, &training));
  DMatrixHandle both[] = {dtrain.get(), dvalid.get()};
  KEEL_ASSIGN_OR_RETURN(Booster booster, NewBooster(both, 2));
  for (const auto& [name, value] : training.params) {
    KEEL_RETURN_IF_ERROR(Check(XGBoosterSetParam(booster.get(), name.c_str(), value.c_str()),
                               "XGBoost param " + name + "=" + value));
  }
  DMatrixHandle eval[] = {dvalid.get()};
  const char* eval_names[] = {"valid"};
  for (int round = 0; round < training.rounds; ++round) {
    // XGBoost checks its parameters when the first round configures it.
    KEEL_RETURN_IF_ERROR(Check(XGBoosterUpdateOneIter(booster.get(), round, dtrain.get()),
                               round == 0 ? "XGBoost training" : "XGBoost round " + std::to_string(round)));
    if (training.on_round && valid.rows > 0) {
      const char* text = nullptr;
      KEEL_RETURN_IF_ERROR(Check(
          XGBoosterEvalOneIter(booster.get(), round, eval, eval_names, 1, &text), "XGBoost eval"));
      training.on_round(round, ParseEval(text));
    }
  }
  KEEL_RETURN_IF_ERROR(SetFeatureInfo(booster.get(), training));
  bst_ulong length = 0;
  const char* bytes = nullptr;
  KEEL_RETURN_IF_ERROR(Check(
      XGBoosterSaveModelToBuffer(booster.get(), R"({"format": "json"})", &length, &bytes),
      "XGBoost save"));
  return std::string(bytes, length);
}

Result<std::unique_ptr<Model>> LoadXGBoostModel(std::string_view model_json, Signature signature,
                                                std::string_view source) {
  KEEL_ASSIGN_OR_RETURN(Booster booster, NewBooster(nullptr, 0));
  Status loaded = Check(
      XGBoosterLoadModelFromBuffer(booster.get(), model_json.data(), model_json.size()),
      std::string(source), StatusCode::kCorrupt);
  if (!loaded.ok()) return loaded;
  KEEL_RETURN_IF_ERROR(PredictProbabilities(booster.get(), source));
  return std::unique_ptr<Model>(new XGBoostModel(std::move(booster), std::move(signature)));
}

}  // namespace keel::runtime
