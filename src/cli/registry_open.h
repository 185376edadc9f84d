// Opens the project's model registry for a command.
#pragma once

#include <memory>

#include "cli/output.h"
#include "registry/registry_service.h"
#include "tracking/tracking_service.h"

namespace keel::cli {

// The registry and the stores and services it stands on.
struct Registry {
  std::unique_ptr<Project> project;
  std::unique_ptr<RunStore> runs;
  std::unique_ptr<TrackingService> tracking;
  std::unique_ptr<ModelStore> models;
  std::unique_ptr<RegistryService> service;
};

inline Result<Registry> OpenRegistry(Context& ctx) {
  Registry r;
  KEEL_ASSIGN_OR_RETURN(r.project, Project::Open(ctx.env, ctx.cwd));
  KEEL_ASSIGN_OR_RETURN(r.runs, OpenProjectRunStore(*r.project));
  r.tracking = std::make_unique<TrackingService>(r.project.get(), r.runs.get());
  KEEL_ASSIGN_OR_RETURN(r.models, OpenProjectModelStore(*r.project));
  r.service = std::make_unique<RegistryService>(r.project.get(), r.models.get(), r.tracking.get());
  return r;
}

}  // namespace keel::cli
