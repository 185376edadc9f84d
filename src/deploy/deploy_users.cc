#include "deploy/deploy_users.h"

namespace keel::deploy {

Result<std::vector<std::string>> UsesOf(const DeployFile& file, std::string_view label, RegistryService& registry,
                                        const ModelVersion& version) {
  std::vector<std::string> uses;
  for (const auto& [name, environment] : file.environments) {
    const std::pair<const std::string*, const char*> roles[] = {
        {&environment.model, ""}, {&environment.canary, " (canary)"}, {&environment.shadow, " (shadow)"}};
    for (const auto& [id, role] : roles) {
      if (id->empty()) continue;
      Result<ModelVersion> resolved = registry.Resolve(*id);
      if (!resolved.ok()) {
        StatusCode code = resolved.status().code();
        if (code == StatusCode::kNotFound || code == StatusCode::kInvalidArgument) continue;
        return resolved.status().WithPrefix(std::string(label) + ": environment '" + name + "'");
      }
      if (resolved->model == version.model && resolved->version == version.version) {
        uses.push_back(std::string(label) + " environment '" + name + "'" + role);
      }
    }
  }
  return uses;
}

RegistryService::VersionUsers ProjectDeployUsers(const Project& project, RegistryService& registry) {
  Env* env = project.env();
  std::string path = project.root() + "/" + std::string(kDeployFileName);
  return [env, path, &registry](const ModelVersion& version) -> Result<std::vector<std::string>> {
    Result<std::string> text = ReadFileToString(env, path);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) return std::vector<std::string>{};
      return text.status();
    }
    Result<DeployFile> file = ParseDeployFile(*text, kDeployFileName);
    if (!file.ok()) {
      return FailedPreconditionError(file.status().message() + " (deployments may point at this version: fix " +
                                     std::string(kDeployFileName) + " before deleting it)");
    }
    return UsesOf(*file, kDeployFileName, registry, version);
  };
}

}  // namespace keel::deploy
