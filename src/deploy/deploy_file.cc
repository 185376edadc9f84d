#include "deploy/deploy_file.h"

#include <cmath>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/yaml.h"

namespace keel::deploy {
namespace {

Status CheckKeys(const YAML::Node& map, const std::vector<std::string>& known, std::string_view file,
                 const std::string& where) {
  for (const auto& entry : map) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return InvalidArgumentError(YamlWhere(file, entry.first.Mark()) + ": " + where + "unknown key '" + key + "'" +
                                  DidYouMean(key, known));
    }
  }
  return Status::Ok();
}

Result<std::string> ModelId(const YAML::Node& node, std::string_view file, const std::string& where) {
  if (!node.IsScalar() || node.Scalar().empty()) {
    return InvalidArgumentError(YamlWhere(file, node.Mark()) + ": " + where + "expected a model ID (e.g. census@8)");
  }
  return node.Scalar();
}

Result<Environment> ParseEnvironment(const YAML::Node& node, std::string_view file, const std::string& name) {
  const std::string where = "environment '" + name + "': ";
  if (!node.IsMap()) return InvalidArgumentError(YamlWhere(file, node.Mark()) + ": " + where + "expected a mapping");
  KEEL_RETURN_IF_ERROR(CheckKeys(node, {"model", "canary", "shadow"}, file, where));
  if (!node["model"]) return InvalidArgumentError(YamlWhere(file, node.Mark()) + ": " + where + "missing key 'model'");
  Environment env;
  KEEL_ASSIGN_OR_RETURN(env.model, ModelId(node["model"], file, where + "model: "));
  if (const YAML::Node shadow = node["shadow"]; shadow && !shadow.IsNull()) {
    KEEL_ASSIGN_OR_RETURN(env.shadow, ModelId(shadow, file, where + "shadow: "));
  }
  const YAML::Node canary = node["canary"];
  if (!canary || canary.IsNull()) return env;
  const std::string canary_where = where + "canary: ";
  if (!canary.IsMap()) {
    return InvalidArgumentError(YamlWhere(file, canary.Mark()) + ": " + canary_where + "expected {model: ID, percent: N}");
  }
  KEEL_RETURN_IF_ERROR(CheckKeys(canary, {"model", "percent"}, file, canary_where));
  if (!canary["model"] || !canary["percent"]) {
    return InvalidArgumentError(YamlWhere(file, canary.Mark()) + ": " + canary_where + "needs 'model' and 'percent'");
  }
  KEEL_ASSIGN_OR_RETURN(env.canary, ModelId(canary["model"], file, canary_where + "model: "));
  const YAML::Node percent = canary["percent"];
  int value = -1;
  if (!percent.IsScalar() || !YAML::convert<int>::decode(percent, value) || value < 0 || value > 100) {
    return InvalidArgumentError(YamlWhere(file, percent.Mark()) + ": " + canary_where + "percent '" +
                                (percent.IsScalar() ? percent.Scalar() : std::string("?")) +
                                "' is not a whole number from 0 to 100");
  }
  env.canary_percent = value;
  return env;
}

}  // namespace

Result<Environment> DeployFile::Find(std::string_view name, std::string_view file) const {
  auto it = environments.find(std::string(name));
  if (it != environments.end()) return it->second;
  std::string known;
  for (const auto& [env, spec] : environments) known += (known.empty() ? "" : ", ") + env;
  return NotFoundError(std::string(file) + ": no environment '" + std::string(name) + "' (environments: " +
                       (known.empty() ? "none" : known) + ")");
}

Result<DeployFile> ParseDeployFile(std::string_view text, std::string_view file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
  DeployFile out;
  if (!root || root.IsNull()) return out;
  if (!root.IsMap()) return InvalidArgumentError(std::string(file) + ": expected a mapping with 'environments'");
  try {
    KEEL_RETURN_IF_ERROR(CheckKeys(root, {"environments"}, file, ""));
    const YAML::Node environments = root["environments"];
    if (!environments || environments.IsNull()) return out;
    if (!environments.IsMap()) {
      return InvalidArgumentError(YamlWhere(file, environments.Mark()) +
                                  ": 'environments' must map environment names to deployments");
    }
    for (const auto& entry : environments) {
      const std::string name = entry.first.as<std::string>();
      KEEL_ASSIGN_OR_RETURN(Environment env, ParseEnvironment(entry.second, file, name));
      out.environments.emplace(name, std::move(env));
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
  return out;
}

}  // namespace keel::deploy
