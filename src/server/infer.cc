// POST /v2/models/{m}[/versions/{v}]/infer: the hot path. Buffers are per
// I/O thread and reused, so a steady stream of requests allocates nothing
// beyond what the HTTP layer does. A version that batches answers later,
// from its batcher's thread, and then hands the route's shadow, if any, its
// copy of the request through the shadow's own batcher.
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
  // The route's shadow, if any, and its features for this request (when
  // shadow_ready: the shadow could read it).
  std::shared_ptr<const serving::ServedModel> shadow;
  bool shadow_ready = false;
  std::vector<float> shadow_features;
};

// A shadow's run of a batched request, kept until the shadow's batch has
// run: its features and outputs, and the primary's outputs to compare.
struct ShadowRun {
  std::shared_ptr<const serving::ServedModel> shadow;
  std::shared_ptr<const serving::ServedModel> primary;
  size_t rows = 0;
  std::vector<float> features;
  std::vector<float> outputs;
  std::vector<float> primary_outputs;
};

// Queues the shadow's copy of the answered request `p` on the shadow's
// batcher; only the shadow's counters see the result.
void SubmitShadow(Pending& p) {
  serving::ModelStats& stats = p.shadow->stats;
  stats.shadow_requests.fetch_add(1, std::memory_order_relaxed);
  if (!p.shadow_ready) {
    stats.shadow_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto run = std::make_shared<ShadowRun>();
  run->shadow = std::move(p.shadow);
  run->primary = p.model;
  run->rows = p.rows;
  run->features = std::move(p.shadow_features);
  run->outputs.resize(run->rows * run->shadow->model->OutputWidth());
  run->primary_outputs = std::move(p.outputs);  // the answer is written
  run->shadow->batcher->Submit(run->features, run->rows, run->outputs, [run](Status status) {
    if (!status.ok()) {
      run->shadow->stats.shadow_errors.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    serving::CompareShadow(*run->shadow, *run->primary, run->rows, run->primary_outputs, run->outputs);
  });
}

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
  if (status.ok() && p.shadow != nullptr) SubmitShadow(p);
}

// Hands the prepared request to the version's batcher and answers later;
// `shadow` (may be null) gets its copy once the answer is sent.
void Submit(ServerState& state, serving::InferScratch& scratch, std::shared_ptr<const serving::ServedModel> model,
            std::shared_ptr<const serving::ServedModel> shadow, size_t rows, HttpResponse* response,
            Deferral* deferral, Clock::time_point start) {
  auto p = std::make_shared<Pending>();
  if (shadow != nullptr) {
    p->shadow_ready = serving::PrepareShadow(*shadow, scratch.request, rows, &p->shadow_features).ok();
    p->shadow = std::move(shadow);
  }
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
  // A request that names no version is copied to the route's shadow. A
  // shadow without a batcher runs here, after the primary.
  const std::shared_ptr<const serving::ServedModel>& shadow = routes->Find(path.model)->shadow;
  const bool shadowed = shadow != nullptr && path.version.empty();
  if (served->batcher != nullptr && (!shadowed || shadow->batcher != nullptr)) {
    return Submit(state, scratch, std::move(served), shadowed ? shadow : nullptr, *rows, response, deferral, start);
  }
  const Status status = serving::CompleteInference(*routes, target, *served, *rows, &scratch, &response->body);
  if (!status.ok()) SetError(status, response);
  Count(state, served, response->status, start);
}

}  // namespace keel::server
