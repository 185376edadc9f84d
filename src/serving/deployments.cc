#include "serving/deployments.h"

#include <utility>

namespace keel::serving {
namespace {

// A loaded version of `resolved_id` in `routes`, or null.
std::shared_ptr<const ServedModel> FindLoaded(const Routes& routes, const std::string& resolved_id) {
  for (const auto& [name, route] : routes.by_name) {
    for (const auto* model : {&route.primary, &route.canary, &route.shadow}) {
      if (*model && (*model)->id() == resolved_id) return *model;
    }
  }
  return nullptr;
}

}  // namespace

const std::shared_ptr<const ServedModel>* Route::Version(std::string_view version) const {
  if (primary && primary->version == version) return &primary;
  if (canary && canary->version == version) return &canary;
  return nullptr;
}

const Route* Routes::Find(std::string_view name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &it->second;
}

Deployments::Deployments(ModelSource* source) : source_(source), routes_(std::make_shared<const Routes>()) {}

Result<std::shared_ptr<const ServedModel>> Deployments::Obtain(const std::string& id, const Routes& current) {
  KEEL_ASSIGN_OR_RETURN(std::string resolved, source_->Resolve(id));
  if (std::shared_ptr<const ServedModel> loaded = FindLoaded(current, resolved)) return loaded;
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ServedModel> model, source_->Load(resolved));
  return std::shared_ptr<const ServedModel>(std::move(model));
}

Result<Route> Deployments::Deploy(const DeploymentSpec& spec) {
  if (spec.model.empty()) return InvalidArgumentError("deployment: 'model' is required");
  if (spec.canary_percent < 0 || spec.canary_percent > 100) {
    return InvalidArgumentError("deployment: canary percent " + std::to_string(spec.canary_percent) +
                                " is outside 0..100");
  }
  if (spec.canary.empty() && spec.canary_percent != 0) {
    return InvalidArgumentError("deployment: a canary percent without a canary model");
  }
  // Loading takes long: it happens outside the lock, so other deployments
  // (and reads, which never lock) go on meanwhile.
  std::shared_ptr<const Routes> current = routes_.load();
  Route route;
  route.spec = spec;
  KEEL_ASSIGN_OR_RETURN(route.primary, Obtain(spec.model, *current));
  if (!spec.canary.empty()) {
    KEEL_ASSIGN_OR_RETURN(route.canary, Obtain(spec.canary, *current));
    if (route.canary->name != route.primary->name) {
      return InvalidArgumentError("deployment: canary " + route.canary->id() + " is not a version of " +
                                  route.primary->name);
    }
    if (route.canary->version == route.primary->version) {
      return InvalidArgumentError("deployment: canary " + route.canary->id() + " is the primary version");
    }
    route.canary_percent = spec.canary_percent;
  }
  if (!spec.shadow.empty()) {
    KEEL_ASSIGN_OR_RETURN(route.shadow, Obtain(spec.shadow, *current));
    const runtime::Signature& a = route.primary->model->signature();
    const runtime::Signature& b = route.shadow->model->signature();
    if (a.task != b.task || a.classes != b.classes) {
      return InvalidArgumentError("deployment: shadow " + route.shadow->id() + " predicts other outputs than " +
                                  route.primary->id() + " (its task or classes differ)");
    }
  }

  std::lock_guard<std::mutex> lock(deploy_mu_);
  auto next = std::make_shared<Routes>(*routes_.load());
  next->by_name[route.primary->name] = route;
  Publish(std::move(next));
  return route;
}

Status Deployments::Undeploy(std::string_view name) {
  std::lock_guard<std::mutex> lock(deploy_mu_);
  std::shared_ptr<const Routes> current = routes_.load();
  if (current->Find(name) == nullptr) return NotFoundError("no deployment of model '" + std::string(name) + "'");
  auto next = std::make_shared<Routes>(*current);
  next->by_name.erase(next->by_name.find(name));
  Publish(std::move(next));
  return Status::Ok();
}

void Deployments::SetReady() {
  std::lock_guard<std::mutex> lock(deploy_mu_);
  auto next = std::make_shared<Routes>(*routes_.load());
  next->ready = true;
  Publish(std::move(next));
}

void Deployments::Publish(std::shared_ptr<Routes> next) { routes_.store(std::move(next)); }

}  // namespace keel::serving
