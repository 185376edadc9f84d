#include "runtime/signature.h"

#include <nlohmann/json.hpp>

namespace keel::runtime {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "keel.signature/1";

Status FieldError(std::string_view source, std::string_view field, std::string_view what) {
  return InvalidArgumentError(std::string(source) + ": " + std::string(field) + ": " +
                              std::string(what));
}

Result<std::string> StringField(const json& j, const char* key, std::string_view source,
                                const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return FieldError(source, where + key, "expected a string");
  }
  return it->get<std::string>();
}

Result<std::vector<std::string>> StringList(const json& j, const char* key,
                                            std::string_view source, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return FieldError(source, where + key, "expected a list");
  std::vector<std::string> out;
  for (const json& v : *it) {
    if (!v.is_string()) return FieldError(source, where + key, "expected strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<InputColumn> ParseInput(const json& j, std::string_view source, const std::string& where) {
  if (!j.is_object()) return FieldError(source, where, "expected an object");
  InputColumn in;
  KEEL_ASSIGN_OR_RETURN(in.name, StringField(j, "name", source, where + "."));
  KEEL_ASSIGN_OR_RETURN(std::string type, StringField(j, "type", source, where + "."));
  if (type == "numeric") {
    in.type = table::ColumnType::kNumeric;
  } else if (type == "categorical") {
    in.type = table::ColumnType::kCategorical;
    KEEL_ASSIGN_OR_RETURN(in.categories, StringList(j, "categories", source, where + "."));
  } else {
    return FieldError(source, where + ".type",
                      "'" + type + "' is not a column type (numeric, categorical)");
  }
  return in;
}

}  // namespace

std::string_view TaskName(Task task) {
  switch (task) {
    case Task::kBinary: return "binary";
    case Task::kMulticlass: return "multiclass";
    case Task::kRegression: return "regression";
  }
  return "?";
}

Result<Task> ParseTask(std::string_view name) {
  if (name == "binary") return Task::kBinary;
  if (name == "multiclass") return Task::kMulticlass;
  if (name == "regression") return Task::kRegression;
  return InvalidArgumentError("unknown task '" + std::string(name) +
                              "' (binary, multiclass, regression)");
}

std::string_view CategoricalEncodingName(CategoricalEncoding encoding) {
  return encoding == CategoricalEncoding::kNative ? "native" : "onehot";
}

Result<CategoricalEncoding> ParseCategoricalEncoding(std::string_view name) {
  if (name == "native") return CategoricalEncoding::kNative;
  if (name == "onehot") return CategoricalEncoding::kOneHot;
  return InvalidArgumentError("unknown categorical encoding '" + std::string(name) +
                              "' (native, onehot)");
}

size_t Signature::FeatureCount() const {
  size_t n = 0;
  for (const InputColumn& in : inputs) {
    bool expand = in.type == table::ColumnType::kCategorical && encoding == CategoricalEncoding::kOneHot;
    n += expand ? in.categories.size() : 1;
  }
  return n;
}

std::vector<std::string> Signature::FeatureNames() const {
  std::vector<std::string> names;
  for (const InputColumn& in : inputs) {
    if (in.type == table::ColumnType::kCategorical && encoding == CategoricalEncoding::kOneHot) {
      for (const std::string& c : in.categories) names.push_back(in.name + "=" + c);
    } else {
      names.push_back(in.name);
    }
  }
  return names;
}

std::vector<std::string> Signature::OutputNames() const {
  switch (task) {
    case Task::kBinary: return {"probability", "prediction"};
    case Task::kRegression: return {"prediction"};
    case Task::kMulticlass: break;
  }
  std::vector<std::string> names;
  for (const std::string& c : classes) names.push_back("probability_" + c);
  names.push_back("prediction");
  return names;
}

std::string SignatureToJson(const Signature& s) {
  using ordered = nlohmann::ordered_json;
  ordered inputs = ordered::array();
  for (const InputColumn& in : s.inputs) {
    ordered j = {{"name", in.name}, {"type", std::string(table::ColumnTypeName(in.type))}};
    if (in.type == table::ColumnType::kCategorical) j["categories"] = in.categories;
    inputs.push_back(std::move(j));
  }
  ordered outputs = ordered::array();
  for (const std::string& name : s.OutputNames()) outputs.push_back(name);
  ordered j = {{"format", kFormat},
            {"task", std::string(TaskName(s.task))},
            {"target", s.target},
            {"classes", s.classes},
            {"categorical_encoding", std::string(CategoricalEncodingName(s.encoding))},
            {"inputs", std::move(inputs)},
            {"outputs", std::move(outputs)}};
  return j.dump(2) + "\n";
}

Result<Signature> SignatureFromJson(std::string_view text, std::string_view source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError(std::string(source) + ": not a JSON object");
  }
  KEEL_ASSIGN_OR_RETURN(std::string format, StringField(j, "format", source, ""));
  if (format != kFormat) {
    return FieldError(source, "format", "'" + format + "' is not " + std::string(kFormat));
  }
  Signature s;
  KEEL_ASSIGN_OR_RETURN(std::string task_name, StringField(j, "task", source, ""));
  Result<Task> task = ParseTask(task_name);
  if (!task.ok()) return task.status().WithPrefix(std::string(source) + ": task");
  s.task = *task;
  KEEL_ASSIGN_OR_RETURN(s.target, StringField(j, "target", source, ""));
  KEEL_ASSIGN_OR_RETURN(s.classes, StringList(j, "classes", source, ""));
  KEEL_ASSIGN_OR_RETURN(std::string encoding_name,
                        StringField(j, "categorical_encoding", source, ""));
  Result<CategoricalEncoding> encoding = ParseCategoricalEncoding(encoding_name);
  if (!encoding.ok()) {
    return encoding.status().WithPrefix(std::string(source) + ": categorical_encoding");
  }
  s.encoding = *encoding;
  auto inputs = j.find("inputs");
  if (inputs == j.end() || !inputs->is_array()) return FieldError(source, "inputs", "expected a list");
  for (size_t i = 0; i < inputs->size(); ++i) {
    KEEL_ASSIGN_OR_RETURN(InputColumn in,
                          ParseInput((*inputs)[i], source, "inputs[" + std::to_string(i) + "]"));
    s.inputs.push_back(std::move(in));
  }
  if (s.task == Task::kBinary && s.classes.size() != 2) {
    return FieldError(source, "classes", "a binary model needs exactly 2 classes");
  }
  if (s.task == Task::kMulticlass && s.classes.size() < 2) {
    return FieldError(source, "classes", "a multiclass model needs at least 2 classes");
  }
  if (s.task == Task::kRegression && !s.classes.empty()) {
    return FieldError(source, "classes", "a regression model has no classes");
  }
  return s;
}

}  // namespace keel::runtime
