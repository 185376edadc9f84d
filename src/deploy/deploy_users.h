// What deploy.yaml points at, for the registry's deletion check: a version
// a deployment names cannot be deleted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "deploy/deploy_file.h"
#include "registry/registry_service.h"

namespace keel::deploy {

// The project's deploy file: deploy.yaml beside keel.yaml.
inline constexpr std::string_view kDeployFileName = "deploy.yaml";

// Each place in `file` (read from `label`) whose model, canary or shadow ID
// resolves to `version` now: "deploy.yaml environment 'production' (canary)".
// An ID that names no live version points at nothing and is skipped.
Result<std::vector<std::string>> UsesOf(const DeployFile& file, std::string_view label, RegistryService& registry,
                                        const ModelVersion& version);

// RegistryService::VersionUsers over the project's deploy.yaml, read at
// each call. No deploy.yaml: no users. One that cannot be read or parsed
// is an error, so that nothing is deleted while it is in doubt.
RegistryService::VersionUsers ProjectDeployUsers(const Project& project, RegistryService& registry);

}  // namespace keel::deploy
