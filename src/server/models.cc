// GET /v2/models/{m}[/versions/{v}] (metadata) and .../ready.
#include "server/router.h"

#include <nlohmann/json.hpp>

namespace keel::server {
namespace {

using nlohmann::json;

json Tensor(std::string_view name, std::string_view datatype, json shape) {
  return json{{"name", name}, {"datatype", datatype}, {"shape", std::move(shape)}};
}

// The named, one-per-column form of the inputs (the [N, F] matrix form is
// the same features in signature order).
json Inputs(const runtime::Signature& s) {
  json inputs = json::array();
  for (const runtime::InputColumn& column : s.inputs) {
    const bool categorical = column.type == table::ColumnType::kCategorical;
    inputs.push_back(Tensor(column.name, categorical ? "BYTES" : "FP32", json::array({-1})));
  }
  return inputs;
}

json Outputs(const runtime::Signature& s) {
  if (s.task == runtime::Task::kRegression) return json::array({Tensor("prediction", "FP32", json::array({-1}))});
  json probability_shape = s.task == runtime::Task::kBinary ? json::array({-1})
                                                            : json::array({-1, static_cast<int64_t>(s.classes.size())});
  return json::array({Tensor("probability", "FP32", std::move(probability_shape)),
                      Tensor("prediction", "BYTES", json::array({-1}))});
}

// The route and the version a path names; sets a 404/503 error otherwise.
const serving::ServedModel* Find(const serving::Routes& routes, const ModelPath& path, HttpResponse* response) {
  const serving::Route* route = routes.Find(path.model);
  if (route == nullptr) {
    if (!routes.ready) {
      SetError(503, "the server is loading its models", response);
    } else {
      SetError(404, "model '" + std::string(path.model) + "' is not served", response);
    }
    return nullptr;
  }
  if (path.version.empty()) return route->primary.get();
  const std::shared_ptr<const serving::ServedModel>* version = route->Version(path.version);
  if (version == nullptr) {
    SetError(404, "version '" + std::string(path.version) + "' of model '" + std::string(path.model) + "' is not served",
             response);
    return nullptr;
  }
  return version->get();
}

}  // namespace

void HandleModelMetadata(ServerState& state, const ModelPath& path, HttpResponse* response) {
  std::shared_ptr<const serving::Routes> routes = state.deployments->Current();
  const serving::ServedModel* model = Find(*routes, path, response);
  if (model == nullptr) return;
  json versions = json::array();
  if (!path.version.empty()) {
    versions.push_back(model->version);
  } else {
    const serving::Route& route = *routes->Find(path.model);
    versions.push_back(route.primary->version);
    if (route.canary) versions.push_back(route.canary->version);
  }
  const runtime::Signature& s = model->model->signature();
  response->body = json{{"name", model->name},
                        {"versions", std::move(versions)},
                        {"platform", "xgboost"},
                        {"inputs", Inputs(s)},
                        {"outputs", Outputs(s)}}
                       .dump();
}

void HandleModelReady(ServerState& state, const ModelPath& path, HttpResponse* response) {
  std::shared_ptr<const serving::Routes> routes = state.deployments->Current();
  const serving::ServedModel* model = Find(*routes, path, response);
  if (model == nullptr) return;
  response->body = json{{"name", model->name}, {"version", model->version}, {"ready", true}}.dump();
}

}  // namespace keel::server
