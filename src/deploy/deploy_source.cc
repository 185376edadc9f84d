#include "deploy/deploy_source.h"

#include <utility>

#include "deploy/deploy_file.h"

namespace keel::deploy {

DeployFileSource::DeployFileSource(Env* env, std::string file, std::string environment)
    : env_(env), file_(std::move(file)), environment_(std::move(environment)) {}

Result<serving::DeploymentSpec> DeployFileSource::Read() const {
  KEEL_ASSIGN_OR_RETURN(std::string text, ReadFileToString(env_, file_));
  KEEL_ASSIGN_OR_RETURN(DeployFile parsed, ParseDeployFile(text, file_));
  KEEL_ASSIGN_OR_RETURN(Environment e, parsed.Find(environment_, file_));
  return serving::DeploymentSpec{e.model, e.canary, e.canary_percent, e.shadow};
}

Result<serving::Route> DeployFileSource::Apply(serving::Deployments* deployments) {
  KEEL_ASSIGN_OR_RETURN(serving::DeploymentSpec spec, Read());
  KEEL_ASSIGN_OR_RETURN(serving::Route route, deployments->Deploy(spec));
  if (!served_name_.empty() && served_name_ != route.primary->name) {
    Status removed = deployments->Undeploy(served_name_);
    (void)removed;  // already gone is fine
  }
  served_name_ = route.primary->name;
  return route;
}

}  // namespace keel::deploy
