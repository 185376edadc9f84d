// POST /v2/models/{m}[/versions/{v}]/infer: the hot path. Buffers are per
// I/O thread and reused, so a steady stream of requests allocates nothing
// beyond what the HTTP layer does. A version that batches answers later,
// from its batcher's thread.
#include "server/router.h"

#include <chrono>

#include "serving/inference.h"

namespace keel::server {
namespace {

using Clock = std::chrono::steady_clock;

// What a batched request keeps until its batch has run.
struct Pending {
  ServerState* state;
  std::shared_ptr<const serving::ServedModel> model;
  size_t rows = 0;
  std::vector<float> features;
  std::vector<float> outputs;
  bool has_id = false;
  std::string id;
  std::vector<std::string> outputs_wanted;
  HttpResponse* response;
  std::function<void()> finish;
  Clock::time_point start;
};

void Count(ServerState& state, const std::shared_ptr<const serving::ServedModel>& served, int status,
           Clock::time_point start) {
  if (served) {
    served->stats.CountRequest(status,
                               std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
  } else {
    state.unrouted_requests.fetch_add(1, std::memory_order_relaxed);
  }
  state.in_flight.fetch_sub(1, std::memory_order_relaxed);
}

void Finish(Pending& p, const Status& status) {
  if (status.ok()) {
    serving::WriteInferResponse(*p.model, p.has_id, p.id, p.outputs_wanted, p.rows, p.outputs, &p.response->body);
  } else {
    SetError(status, p.response);
  }
  Count(*p.state, p.model, p.response->status, p.start);
  p.finish();
}

// Hands the prepared request to the version's batcher and answers later.
void Submit(ServerState& state, serving::InferScratch& scratch, std::shared_ptr<const serving::ServedModel> model,
            size_t rows, HttpResponse* response, Deferral* deferral, Clock::time_point start) {
  auto p = std::make_shared<Pending>();
  p->state = &state;
  p->model = std::move(model);
  p->rows = rows;
  p->features.swap(scratch.features);  // the next request on this thread refills its own
  p->outputs.resize(rows * p->model->model->OutputWidth());
  p->has_id = scratch.request.has_id;
  p->id = scratch.request.id;
  p->outputs_wanted = scratch.request.outputs;
  p->response = response;
  p->finish = deferral->Defer();
  p->start = start;
  p->model->batcher->Submit(p->features, rows, p->outputs, [p](Status status) { Finish(*p, status); });
}

}  // namespace

void HandleInfer(ServerState& state, const ModelPath& path, std::string* body, HttpResponse* response,
                 Deferral* deferral) {
  thread_local serving::InferScratch scratch;
  const Clock::time_point start = Clock::now();
  state.in_flight.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const serving::Routes> routes = state.deployments->Current();
  std::shared_ptr<const serving::ServedModel> served;
  const serving::InferTarget target{path.model, path.version};
  Result<size_t> rows = serving::PrepareInference(*routes, target, body, &scratch, &served);
  if (!rows.ok()) {
    SetError(rows.status(), response);
    return Count(state, served, response->status, start);
  }
  // A shadowed route is answered here: the shadow reads the request as
  // parsed on this thread.
  const bool shadowed = routes->Find(path.model)->shadow != nullptr;
  if (served->batcher != nullptr && !shadowed) {
    return Submit(state, scratch, std::move(served), *rows, response, deferral, start);
  }
  const Status status = serving::CompleteInference(*routes, target, *served, *rows, &scratch, &response->body);
  if (!status.ok()) SetError(status, response);
  Count(state, served, response->status, start);
}

}  // namespace keel::server
