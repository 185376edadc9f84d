// deploy.yaml: what each environment serves (docs/format/deploy.md).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace keel::deploy {

struct Environment {
  std::string model;   // a model ID: "census@8", "census@production"
  std::string canary;  // empty: none
  int canary_percent = 0;
  std::string shadow;  // empty: none
};

struct DeployFile {
  std::map<std::string, Environment> environments;

  // The environment `name`; kNotFound lists the file's environments.
  Result<Environment> Find(std::string_view name, std::string_view file) const;
};

// Parses deploy.yaml's text; errors name `file`, the line and the key.
Result<DeployFile> ParseDeployFile(std::string_view text, std::string_view file);

}  // namespace keel::deploy
