// GET /metrics: Prometheus text exposition format 0.0.4.
#include "server/router.h"

#include <set>
#include <tuple>

namespace keel::server {
namespace {

void Help(std::string_view name, std::string_view type, std::string_view help, std::string* out) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

std::string Labels(const serving::ServedModel& model) {
  return "model=\"" + model.name + "\",version=\"" + model.version + "\"";
}

void Line(std::string_view name, const std::string& labels, double value, std::string* out) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), " %.17g\n", value);
  out->append(buffer);
}

std::string Le(double bound) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", bound);
  return buffer;
}

template <size_t N, typename Counters>
void Histogram(std::string_view name, const std::string& labels, const std::array<double, N>& bounds,
               const Counters& buckets, double sum, std::string* out) {
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= N; ++i) {
    cumulative += buckets[i].load(std::memory_order_relaxed);
    const std::string le = i < N ? Le(bounds[i]) : "+Inf";
    Line(std::string(name) + "_bucket", labels + ",le=\"" + le + "\"", static_cast<double>(cumulative), out);
  }
  Line(std::string(name) + "_sum", labels, sum, out);
  Line(std::string(name) + "_count", labels, static_cast<double>(cumulative), out);
}

struct Served {
  const serving::ServedModel* model;
  std::string role;
};

std::vector<Served> ServedModels(const serving::Routes& routes) {
  std::vector<Served> models;
  std::set<const serving::ServedModel*> seen;
  for (const auto& [name, route] : routes.by_name) {
    for (const auto& [model, role] : {std::pair{route.primary.get(), "primary"}, std::pair{route.canary.get(), "canary"},
                                      std::pair{route.shadow.get(), "shadow"}}) {
      if (model != nullptr && seen.insert(model).second) models.push_back({model, role});
    }
  }
  return models;
}

}  // namespace

void HandleMetrics(ServerState& state, HttpResponse* response) {
  std::shared_ptr<const serving::Routes> routes = state.deployments->Current();
  const std::vector<Served> models = ServedModels(*routes);
  std::string& out = response->body;
  response->content_type = "text/plain; version=0.0.4; charset=utf-8";

  Help("keel_model_info", "gauge", "Model versions being served, with their role and runtime.", &out);
  for (const Served& s : models) {
    Line("keel_model_info",
         Labels(*s.model) + ",role=\"" + s.role + "\",runtime=\"" + std::string(s.model->model->Backend()) + "\"", 1,
         &out);
  }
  Help("keel_inference_requests_total", "counter", "Inference requests by model, version and HTTP status.", &out);
  for (const Served& s : models) {
    for (size_t i = 0; i < serving::kCountedStatuses.size(); ++i) {
      Line("keel_inference_requests_total", Labels(*s.model) + ",code=\"" + std::to_string(serving::kCountedStatuses[i]) + "\"",
           static_cast<double>(s.model->stats.requests[i].load(std::memory_order_relaxed)), &out);
    }
  }
  Help("keel_inference_request_duration_seconds", "histogram", "Inference latency, parse to response written.", &out);
  for (const Served& s : models) {
    Histogram("keel_inference_request_duration_seconds", Labels(*s.model), serving::kLatencyBuckets,
              s.model->stats.latency_buckets, s.model->stats.latency_sum_ns.load() * 1e-9, &out);
  }
  Help("keel_inference_batch_size", "histogram", "Rows per predict call.", &out);
  for (const Served& s : models) {
    Histogram("keel_inference_batch_size", Labels(*s.model), serving::kBatchBuckets, s.model->stats.batch_buckets,
              static_cast<double>(s.model->stats.batch_rows.load()), &out);
  }
  const std::tuple<const char*, const char*, std::atomic<uint64_t> serving::ModelStats::*> shadow_metrics[] = {
      {"keel_shadow_requests_total", "Requests copied to a shadow version.", &serving::ModelStats::shadow_requests},
      {"keel_shadow_disagreements_total", "Rows where the shadow's predicted class (or value) differs from the primary's.",
       &serving::ModelStats::shadow_disagreements},
      {"keel_shadow_errors_total", "Copied requests the shadow could not answer.", &serving::ModelStats::shadow_errors},
  };
  for (const auto& [name, help, counter] : shadow_metrics) {
    Help(name, "counter", help, &out);
    for (const Served& s : models) {
      if (s.role == "shadow") Line(name, Labels(*s.model), static_cast<double>((s.model->stats.*counter).load()), &out);
    }
  }
  Help("keel_inference_requests_in_flight", "gauge", "Inference requests being processed.", &out);
  Line("keel_inference_requests_in_flight", "", static_cast<double>(state.in_flight.load()), &out);
  Help("keel_unrouted_requests_total", "counter", "Requests for an unknown model, version or endpoint.", &out);
  Line("keel_unrouted_requests_total", "", static_cast<double>(state.unrouted_requests.load()), &out);
  if (state.http != nullptr) {
    Help("keel_http_connections_open", "gauge", "Open HTTP connections.", &out);
    Line("keel_http_connections_open", "", static_cast<double>(state.http->open_connections()), &out);
    Help("keel_http_connections_refused_total", "counter", "Connections refused at --max-connections.", &out);
    Line("keel_http_connections_refused_total", "", static_cast<double>(state.http->refused_connections()), &out);
  }
}

}  // namespace keel::server
