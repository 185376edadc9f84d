// Routes keel's HTTP API to its handlers: the V2 inference protocol under
// /v2, keel's own API under /api/v1, Prometheus metrics at /metrics. Each
// endpoint group is handled in its own file (health.cc, models.cc, infer.cc,
// deployments_api.cc, metrics.cc); errors become HTTP statuses in one place
// (HttpStatusOf).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "server/access_log.h"
#include "server/http_server.h"
#include "server/task_queue.h"
#include "serving/deployments.h"

namespace keel::server {

struct ServerState {
  serving::Deployments* deployments = nullptr;
  const HttpServer* http = nullptr;  // for connection metrics; may be null
  AccessLog* access_log = nullptr;   // may be null
  std::string version;               // keel's version, for /v2
  // Where model loads for POST /api/v1/deployments run; null: on the I/O
  // thread that received the request.
  TaskQueue* background = nullptr;
  // Requests that reached no model version (unknown model, bad path).
  std::atomic<uint64_t> unrouted_requests{0};
  std::atomic<int64_t> in_flight{0};
};

// A path below /v2/models/: {model}[/versions/{version}][/ready|/infer].
struct ModelPath {
  std::string_view model;
  std::string_view version;  // empty if not given
  std::string_view action;   // "", "ready" or "infer"
};

class Router : public HttpHandler {
 public:
  explicit Router(ServerState* state) : state_(state) {}
  void Handle(const HttpRequest& request, HttpResponse* response, Deferral* deferral) override;
  // Writes a refused request to the access log (as sampled; 0us, as it was
  // answered from its header), and counts a refused inference request's
  // status (not its latency) against the version it named, else its
  // model's primary; as unrouted when no version matches.
  void Refused(const HttpRequest& request, const HttpResponse& response) override;

 private:
  void CountRefused(const HttpRequest& request, int status);
  void Dispatch(const HttpRequest& request, HttpResponse* response, Deferral* deferral);

  ServerState* state_;
};

// The HTTP status of an error: kInvalidArgument 400, kNotFound 404,
// kUnavailable 503, kFailedPrecondition 409, anything else 500.
int HttpStatusOf(const Status& status);
// Sets `response` to {"error": message} with the status's HTTP status.
void SetError(const Status& status, HttpResponse* response);
void SetError(int http_status, std::string_view message, HttpResponse* response);

// Endpoint handlers (one file per group).
void HandleLive(ServerState& state, HttpResponse* response);
void HandleReady(ServerState& state, HttpResponse* response);
void HandleServerMetadata(ServerState& state, HttpResponse* response);
void HandleModelMetadata(ServerState& state, const ModelPath& path, HttpResponse* response);
void HandleModelReady(ServerState& state, const ModelPath& path, HttpResponse* response);
// Answers later through `deferral` when the version batches requests.
// Parses `body` in place, changing it.
void HandleInfer(ServerState& state, const ModelPath& path, std::string* body, HttpResponse* response,
                 Deferral* deferral);
void HandleGetDeployments(ServerState& state, HttpResponse* response);
// Answers through `deferral` once the versions are loaded, when
// state.background is set.
void HandlePostDeployment(ServerState& state, std::string_view body, HttpResponse* response, Deferral* deferral);
void HandleMetrics(ServerState& state, HttpResponse* response);

}  // namespace keel::server
