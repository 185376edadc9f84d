// GET and POST /api/v1/deployments: what serves, and swapping it.
#include "server/router.h"

#include <nlohmann/json.hpp>

namespace keel::server {
namespace {

using nlohmann::json;

json ModelJson(const serving::ServedModel& model) {
  return json{{"id", model.id()}, {"version", model.version}, {"runtime", model.model->Backend()}};
}

json RouteJson(const std::string& name, const serving::Route& route) {
  json out{{"name", name}, {"requested", route.spec.model}, {"model", ModelJson(*route.primary)}};
  out["canary"] = route.canary ? json{{"model", ModelJson(*route.canary)}, {"percent", route.canary_percent}}
                               : json(nullptr);
  out["shadow"] = route.shadow ? ModelJson(*route.shadow) : json(nullptr);
  return out;
}

Status StringMember(const json& object, const char* key, const std::string& where, std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgumentError(where + key + ": expected a model ID string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status CheckKeys(const json& object, std::initializer_list<std::string_view> known, const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      return InvalidArgumentError(where + "unknown field '" + it.key() + "'");
    }
  }
  return Status::Ok();
}

Result<serving::DeploymentSpec> ParseSpec(std::string_view body) {
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgumentError("deployment: malformed JSON");
  if (!doc.is_object()) return InvalidArgumentError("deployment: expected a JSON object");
  KEEL_RETURN_IF_ERROR(CheckKeys(doc, {"model", "canary", "shadow"}, "deployment: "));
  serving::DeploymentSpec spec;
  KEEL_RETURN_IF_ERROR(StringMember(doc, "model", "deployment: ", &spec.model));
  if (spec.model.empty()) return InvalidArgumentError("deployment: missing field 'model' (a model ID, e.g. census@8)");
  KEEL_RETURN_IF_ERROR(StringMember(doc, "shadow", "deployment: ", &spec.shadow));
  auto canary = doc.find("canary");
  if (canary != doc.end() && !canary->is_null()) {
    if (!canary->is_object()) return InvalidArgumentError("deployment: canary: expected {\"model\": ID, \"percent\": N}");
    KEEL_RETURN_IF_ERROR(CheckKeys(*canary, {"model", "percent"}, "deployment: canary: "));
    KEEL_RETURN_IF_ERROR(StringMember(*canary, "model", "deployment: canary.", &spec.canary));
    if (spec.canary.empty()) return InvalidArgumentError("deployment: canary: missing field 'model'");
    auto percent = canary->find("percent");
    if (percent == canary->end() || !percent->is_number()) {
      return InvalidArgumentError("deployment: canary: 'percent' must be a number from 0 to 100");
    }
    const double value = percent->get<double>();
    if (!(value >= 0 && value <= 100) || value != static_cast<int>(value)) {
      return InvalidArgumentError("deployment: canary: percent " + percent->dump() + " is not a whole number from 0 to 100");
    }
    spec.canary_percent = static_cast<int>(value);
  }
  return spec;
}

}  // namespace

void HandleGetDeployments(ServerState& state, HttpResponse* response) {
  std::shared_ptr<const serving::Routes> routes = state.deployments->Current();
  json list = json::array();
  for (const auto& [name, route] : routes->by_name) list.push_back(RouteJson(name, route));
  response->body = json{{"ready", routes->ready}, {"deployments", std::move(list)}}.dump();
}

void HandlePostDeployment(ServerState& state, std::string_view body, HttpResponse* response, Deferral* deferral) {
  Result<serving::DeploymentSpec> spec = ParseSpec(body);
  if (!spec.ok()) return SetError(spec.status(), response);
  auto deploy = [deployments = state.deployments, wanted = std::move(*spec), response] {
    Result<serving::Route> route = deployments->Deploy(wanted);
    if (!route.ok()) return SetError(route.status(), response);
    response->body = RouteJson(route->primary->name, *route).dump();
  };
  if (state.background == nullptr) return deploy();
  state.background->Post([deploy = std::move(deploy), finish = deferral->Defer()] {
    deploy();
    finish();
  });
}

}  // namespace keel::server
