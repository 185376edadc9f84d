// POST /v2/models/{m}[/versions/{v}]/infer: the hot path. Buffers are per
// I/O thread and reused, so a steady stream of requests allocates nothing
// beyond what the HTTP layer does.
#include "server/router.h"

#include <chrono>

#include "serving/inference.h"

namespace keel::server {

void HandleInfer(ServerState& state, const ModelPath& path, std::string_view body, HttpResponse* response) {
  thread_local serving::InferScratch scratch;
  const auto start = std::chrono::steady_clock::now();
  state.in_flight.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const serving::Routes> routes = state.deployments->Current();
  std::shared_ptr<const serving::ServedModel> served;
  const Status status =
      serving::Infer(*routes, serving::InferTarget{path.model, path.version}, body, &scratch, &response->body, &served);
  if (!status.ok()) SetError(status, response);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (served) {
    served->stats.CountRequest(response->status,
                               std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count());
  } else {
    state.unrouted_requests.fetch_add(1, std::memory_order_relaxed);
  }
  state.in_flight.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace keel::server
