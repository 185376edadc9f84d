#include "serving/inference.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>

namespace keel::serving {
namespace {

void AppendFloat(float value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out->append(buffer, end);
}

void AppendUint(uint64_t value, std::string* out) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out->append(buffer, end);
}

void AppendTensorHead(std::string_view name, std::string_view datatype, size_t rows, size_t width,
                      std::string* out) {
  out->append("{\"name\":");
  AppendJsonString(name, out);
  out->append(",\"datatype\":\"");
  out->append(datatype);
  out->append("\",\"shape\":[");
  AppendUint(rows, out);
  if (width > 1) {
    out->push_back(',');
    AppendUint(width, out);
  }
  out->append("],\"data\":[");
}

void AppendFloats(std::span<const float> values, std::string* out) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out->push_back(',');
    AppendFloat(values[i], out);
  }
}

bool Wanted(const std::vector<std::string>& wanted, std::string_view output) {
  if (wanted.empty()) return true;
  return std::find(wanted.begin(), wanted.end(), output) != wanted.end();
}

// The outputs of a model: classifiers "probability" ([N] binary: P(positive
// class); [N, K] multiclass) and "prediction" (the class, BYTES);
// regression "prediction" (FP32).
Status CheckRequestedOutputs(const runtime::Signature& s, const InferRequest& request) {
  for (const std::string& name : request.outputs) {
    const bool known = name == "prediction" || (name == "probability" && s.task != runtime::Task::kRegression);
    if (!known) {
      return InvalidArgumentError("unknown output '" + name + "' (the model's outputs: " +
                                  (s.task == runtime::Task::kRegression ? "prediction" : "probability, prediction") +
                                  ")");
    }
  }
  return Status::Ok();
}

void WriteOutputs(const ServedModel& model, const std::vector<std::string>& wanted, size_t rows,
                  std::span<const float> outputs, std::string* out) {
  const runtime::Signature& s = model.model->signature();
  const size_t width = model.model->OutputWidth();
  out->append("\"outputs\":[");
  if (s.task == runtime::Task::kRegression) {
    AppendTensorHead("prediction", "FP32", rows, 1, out);
    AppendFloats(outputs, out);
    out->append("]}]");
    return;
  }
  bool first = true;
  if (Wanted(wanted, "probability")) {
    AppendTensorHead("probability", "FP32", rows, width, out);
    AppendFloats(outputs, out);
    out->append("]}");
    first = false;
  }
  if (Wanted(wanted, "prediction")) {
    if (!first) out->push_back(',');
    AppendTensorHead("prediction", "BYTES", rows, 1, out);
    for (size_t r = 0; r < rows; ++r) {
      if (r) out->push_back(',');
      AppendJsonString(s.classes[runtime::PredictedClass(s, outputs.data() + r * width)], out);
    }
    out->append("]}");
  }
  out->push_back(']');
}

// Predicts `rows` rows of features already filled in.
Result<size_t> PredictFilled(const ServedModel& model, size_t rows, std::span<const float> features,
                             std::vector<float>* outputs) {
  outputs->resize(rows * model.model->OutputWidth());
  KEEL_RETURN_IF_ERROR(model.model->PredictInto(features, rows, *outputs));
  model.stats.CountBatch(rows);
  return rows;
}

// Runs the shadow version on the same request; only its counters see the
// result. The primary's answer is what the client gets.
void RunShadow(const ServedModel& shadow, const ServedModel& primary, size_t rows, InferScratch* scratch) {
  shadow.stats.shadow_requests.fetch_add(1, std::memory_order_relaxed);
  if (!PrepareShadow(shadow, scratch->request, rows, &scratch->shadow_features).ok() ||
      !PredictFilled(shadow, rows, scratch->shadow_features, &scratch->shadow_outputs).ok()) {
    shadow.stats.shadow_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  CompareShadow(shadow, primary, rows, scratch->outputs, scratch->shadow_outputs);
}

uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
  return hash;
}

const std::shared_ptr<const ServedModel>* ChooseVersion(const Route& route, const InferTarget& target,
                                                        InferScratch* scratch) {
  if (!target.version.empty()) return route.Version(target.version);
  if (route.canary && RouteToCanary(scratch->request, route.canary_percent, &scratch->random_state)) {
    return &route.canary;
  }
  return &route.primary;
}

}  // namespace

Status PrepareShadow(const ServedModel& shadow, const InferRequest& request, size_t rows,
                     std::vector<float>* features) {
  KEEL_ASSIGN_OR_RETURN(size_t shadow_rows, shadow.layout.Fill(request, features));
  if (shadow_rows == rows) return Status::Ok();
  return InvalidArgumentError("the shadow reads " + std::to_string(shadow_rows) + " rows, not " +
                              std::to_string(rows));
}

void CompareShadow(const ServedModel& shadow, const ServedModel& primary, size_t rows,
                   std::span<const float> primary_outputs, std::span<const float> shadow_outputs) {
  const runtime::Signature& a = primary.model->signature();
  const size_t width = primary.model->OutputWidth();
  if (shadow.model->OutputWidth() != width) {
    shadow.stats.shadow_disagreements.fetch_add(rows, std::memory_order_relaxed);
    return;
  }
  uint64_t differ = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float* p = primary_outputs.data() + r * width;
    const float* q = shadow_outputs.data() + r * width;
    if (a.task == runtime::Task::kRegression) {
      differ += *p != *q;
    } else {
      differ += runtime::PredictedClass(a, p) != runtime::PredictedClass(a, q);
    }
  }
  shadow.stats.shadow_disagreements.fetch_add(differ, std::memory_order_relaxed);
}

void WriteInferResponse(const ServedModel& model, bool has_id, std::string_view id,
                        const std::vector<std::string>& outputs_wanted, size_t rows, std::span<const float> outputs,
                        std::string* out) {
  out->append("{\"model_name\":");
  AppendJsonString(model.name, out);
  out->append(",\"model_version\":");
  AppendJsonString(model.version, out);
  if (has_id) {
    out->append(",\"id\":");
    AppendJsonString(id, out);
  }
  out->push_back(',');
  WriteOutputs(model, outputs_wanted, rows, outputs, out);
  out->push_back('}');
}

bool RouteToCanary(const InferRequest& request, int percent, uint64_t* random_state) {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  uint64_t draw;
  if (request.has_id) {
    draw = Fnv1a(request.id);
  } else {
    // xorshift64*: cheap, per-thread, and good enough to split traffic.
    uint64_t x = *random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *random_state = x;
    draw = x * 0x2545f4914f6cdd1dULL;
  }
  return (draw >> 11) % 100 < static_cast<uint64_t>(percent);
}

void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

Result<size_t> PrepareInference(const Routes& routes, const InferTarget& target, std::string* body,
                                InferScratch* scratch, std::shared_ptr<const ServedModel>* served) {
  served->reset();
  const Route* route = routes.Find(target.model);
  if (route == nullptr) {
    if (!routes.ready) return UnavailableError("the server is loading its models");
    return NotFoundError("model '" + std::string(target.model) + "' is not served");
  }
  if (!target.version.empty() && route->Version(target.version) == nullptr) {
    return NotFoundError("version '" + std::string(target.version) + "' of model '" + std::string(target.model) +
                         "' is not served (serving " + route->primary->version +
                         (route->canary ? " and " + route->canary->version : "") + ")");
  }
  // A request that fails before a version is chosen counts against the
  // version asked for, else the primary.
  *served = target.version.empty() ? route->primary : *route->Version(target.version);
  KEEL_RETURN_IF_ERROR(scratch->parser.ParseInPlace(body, &scratch->request));
  const std::shared_ptr<const ServedModel>& model = *ChooseVersion(*route, target, scratch);
  *served = model;
  KEEL_RETURN_IF_ERROR(CheckRequestedOutputs(model->model->signature(), scratch->request));
  return model->layout.Fill(scratch->request, &scratch->features);
}

Status CompleteInference(const Routes& routes, const InferTarget& target, const ServedModel& model, size_t rows,
                         InferScratch* scratch, std::string* response) {
  KEEL_RETURN_IF_ERROR(PredictFilled(model, rows, scratch->features, &scratch->outputs).status());
  const InferRequest& request = scratch->request;
  WriteInferResponse(model, request.has_id, request.id, request.outputs, rows, scratch->outputs, response);
  const Route* route = routes.Find(target.model);
  if (route->shadow && target.version.empty()) RunShadow(*route->shadow, model, rows, scratch);
  return Status::Ok();
}

Status Infer(const Routes& routes, const InferTarget& target, std::string* body, InferScratch* scratch,
             std::string* response, std::shared_ptr<const ServedModel>* served) {
  response->clear();
  KEEL_ASSIGN_OR_RETURN(size_t rows, PrepareInference(routes, target, body, scratch, served));
  return CompleteInference(routes, target, **served, rows, scratch, response);
}

}  // namespace keel::serving
