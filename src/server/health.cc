// GET /v2/health/live, /v2/health/ready and /v2 (server metadata).
#include "server/router.h"

#include <nlohmann/json.hpp>

namespace keel::server {

void HandleLive(ServerState&, HttpResponse* response) { response->body = R"({"live":true})"; }

void HandleReady(ServerState& state, HttpResponse* response) {
  const bool ready = state.deployments->Current()->ready;
  response->status = ready ? 200 : 503;
  response->body = ready ? R"({"ready":true})" : R"({"ready":false})";
}

void HandleServerMetadata(ServerState& state, HttpResponse* response) {
  response->body = nlohmann::json{{"name", "keel"}, {"version", state.version}, {"extensions", nlohmann::json::array()}}
                       .dump();
}

}  // namespace keel::server
