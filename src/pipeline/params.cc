#include "pipeline/params.h"

#include <cstdlib>
#include <limits>

#include <yaml-cpp/yaml.h>

#include "core/yaml.h"

namespace keel {
namespace {

std::string ValueText(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

void Flatten(const YAML::Node& node, const std::string& prefix, ParamValues* out) {
  if (node.IsMap() && node.size() > 0) {
    for (const auto& item : node) {
      std::string key = item.first.Scalar();
      Flatten(item.second, prefix.empty() ? key : prefix + "." + key, out);
    }
    return;
  }
  (*out)[prefix] = node.IsMap() ? "{}" : ValueText(node);
}

}  // namespace

Result<ParamsFile> ParamsFile::Parse(std::string_view text, std::string_view file) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    ParamsFile params;
    if (root.IsNull()) return params;
    if (!root.IsMap()) {
      return InvalidArgumentError(YamlWhere(file, root.Mark()) + ": a params file must be a mapping of names to values");
    }
    for (const auto& item : root) {
      if (!item.first.IsScalar()) {
        return InvalidArgumentError(YamlWhere(file, item.first.Mark()) + ": param names must be strings");
      }
    }
    Flatten(root, "", &params.values_);
    return params;
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

bool ParamsFile::Select(const std::string& key, ParamValues* out) const {
  auto it = values_.find(key);
  if (it != values_.end()) {
    out->insert(*it);
    return true;
  }
  bool found = false;
  const std::string prefix = key + ".";
  for (it = values_.lower_bound(prefix); it != values_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out->insert(*it);
    found = true;
  }
  return found;
}

Result<std::map<std::string, double>> ParseMetricsFile(std::string_view text, const std::string& file) {
  KEEL_ASSIGN_OR_RETURN(ParamsFile parsed, ParamsFile::Parse(text, file));
  std::map<std::string, double> out;
  for (const auto& [key, value] : parsed.values()) {
    if (value == "null" || value == ".nan" || value == ".NaN" || value == "NaN") {
      out[key] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    char* end = nullptr;
    double number = std::strtod(value.c_str(), &end);
    if (value.empty() || end != value.c_str() + value.size()) {
      return InvalidArgumentError(file + ": '" + key + "' is '" + value + "', not a number");
    }
    out[key] = number;
  }
  return out;
}

}  // namespace keel
