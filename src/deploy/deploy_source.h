// What a server serves from deploy.yaml: `keel serve --deploy FILE --env
// ENV`, reread on SIGHUP.
#pragma once

#include <string>

#include "core/env.h"
#include "core/status.h"
#include "serving/deployments.h"

namespace keel::deploy {

// The deployment one environment of a deploy file names, read afresh on
// each call.
class DeployFileSource {
 public:
  // An empty `file`: no deploy file (enabled() is false).
  DeployFileSource(Env* env, std::string file, std::string environment);

  bool enabled() const { return !file_.empty(); }
  const std::string& file() const { return file_; }

  // The environment's deployment as the file says now; errors name the
  // file, line and key, or the environments it has.
  Result<serving::DeploymentSpec> Read() const;

  // Deploys what the file says now. A model name an earlier Apply served
  // and the file no longer names is undeployed. On error what serves stays
  // as it was. Not thread-safe: one Apply at a time.
  Result<serving::Route> Apply(serving::Deployments* deployments);

 private:
  Env* env_;
  std::string file_;
  std::string environment_;
  std::string served_name_;  // the model name the last Apply deployed
};

}  // namespace keel::deploy
