// What the server serves: per model name a primary version, optionally a
// canary taking a share of the traffic and a shadow receiving copies, swapped
// atomically as a whole.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "serving/served_model.h"

namespace keel::serving {

// A deployment as asked for: model IDs in any form the source resolves
// ("census@8", "census@production").
struct DeploymentSpec {
  std::string model;
  std::string canary;  // empty: none
  int canary_percent = 0;
  std::string shadow;  // empty: none
};

// Where models come from (the registry, in keel serve). Thread-safe:
// deployments may load concurrently.
class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // The canonical "name@version" an ID stands for; kNotFound/kInvalidArgument
  // for an unknown or malformed ID.
  virtual Result<std::string> Resolve(const std::string& id) = 0;
  // Loads a resolved version.
  virtual Result<std::unique_ptr<ServedModel>> Load(const std::string& resolved_id) = 0;
};

struct Route {
  DeploymentSpec spec;
  std::shared_ptr<const ServedModel> primary;
  std::shared_ptr<const ServedModel> canary;  // may be null
  int canary_percent = 0;
  std::shared_ptr<const ServedModel> shadow;  // may be null

  // The version `version` ("9") if this route serves it as primary or canary.
  const std::shared_ptr<const ServedModel>* Version(std::string_view version) const;
};

// An immutable snapshot of every route, by model name.
struct Routes {
  std::map<std::string, Route, std::less<>> by_name;
  bool ready = false;  // false until the initial deployments loaded

  const Route* Find(std::string_view name) const;
};

// Thread-safe. Readers take a snapshot with Current() and keep it for the
// whole request, so a request started before a swap finishes on the versions
// it started with; a version is released when the last snapshot holding it
// goes away.
class Deployments {
 public:
  explicit Deployments(ModelSource* source);

  std::shared_ptr<const Routes> Current() const { return routes_.load(); }

  // Loads what `spec` names (a version already serving is reused, not
  // reloaded) and swaps it in for the primary's model name. On any error
  // nothing changes: kInvalidArgument for a bad spec (a canary of another
  // model, a percent outside 0..100), the source's error for an ID.
  Result<Route> Deploy(const DeploymentSpec& spec);

  // Removes the route of `name`; kNotFound if none.
  Status Undeploy(std::string_view name);

  // Marks the server ready (the initial deployments are in place).
  void SetReady();

 private:
  Result<std::shared_ptr<const ServedModel>> Obtain(const std::string& id, const Routes& current);
  void Publish(std::shared_ptr<Routes> next);

  ModelSource* source_;
  std::mutex deploy_mu_;  // serialises publishing; loading and reads never take it
  std::atomic<std::shared_ptr<const Routes>> routes_;
};

}  // namespace keel::serving
