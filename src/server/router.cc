#include "server/router.h"

#include <chrono>

#include "serving/inference.h"

namespace keel::server {
namespace {

constexpr std::string_view kModelsPrefix = "/v2/models/";

// Splits off the next path segment of `rest`.
std::string_view NextSegment(std::string_view* rest) {
  const size_t slash = rest->find('/');
  std::string_view segment = rest->substr(0, slash);
  rest->remove_prefix(slash == std::string_view::npos ? rest->size() : slash + 1);
  return segment;
}

// Parses what follows /v2/models/; false for any other shape.
bool ParseModelPath(std::string_view rest, ModelPath* path) {
  path->model = NextSegment(&rest);
  if (path->model.empty()) return false;
  std::string_view segment = NextSegment(&rest);
  if (segment == "versions") {
    path->version = NextSegment(&rest);
    if (path->version.empty()) return false;
    segment = NextSegment(&rest);
  }
  if (!segment.empty() && segment != "ready" && segment != "infer") return false;
  path->action = segment;
  return rest.empty();
}

// A 405 naming the methods `allowed` ("GET, POST"), also in its Allow header.
void MethodNotAllowed(const HttpRequest& request, std::string_view allowed, HttpResponse* response) {
  SetError(405, "method " + std::string(request.method) + " is not allowed on " + std::string(request.target) +
                    " (use " + std::string(allowed) + ")",
           response);
  response->allow = allowed;
}

bool MethodIs(const HttpRequest& request, std::string_view method, HttpResponse* response) {
  if (request.method == method) return true;
  MethodNotAllowed(request, method, response);
  return false;
}

}  // namespace

int HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

void SetError(int http_status, std::string_view message, HttpResponse* response) {
  response->status = http_status;
  response->content_type = "application/json";
  response->body.assign("{\"error\":");
  serving::AppendJsonString(message, &response->body);
  response->body.push_back('}');
}

void SetError(const Status& status, HttpResponse* response) {
  SetError(HttpStatusOf(status), status.message(), response);
}

// Logs a request when its answer is ready, now or, if deferred, later.
class LoggedDeferral : public Deferral {
 public:
  LoggedDeferral(Deferral* inner, AccessLog* log, const HttpRequest& request, HttpResponse* response)
      : inner_(inner), log_(log), request_(request), response_(response), start_(std::chrono::steady_clock::now()) {}

  std::function<void()> Defer() override {
    deferred_ = true;
    return [finish = inner_->Defer(), log = log_, request = request_, response = response_, start = start_] {
      log->MaybeRecord(request, *response, std::chrono::steady_clock::now() - start);
      finish();
    };
  }

  void RecordUnlessDeferred() const {
    if (!deferred_) log_->MaybeRecord(request_, *response_, std::chrono::steady_clock::now() - start_);
  }

 private:
  Deferral* inner_;
  AccessLog* log_;
  HttpRequest request_;
  HttpResponse* response_;
  std::chrono::steady_clock::time_point start_;
  bool deferred_ = false;
};

void Router::Handle(const HttpRequest& request, HttpResponse* response, Deferral* deferral) {
  if (state_->access_log == nullptr) return Dispatch(request, response, deferral);
  LoggedDeferral logged(deferral, state_->access_log, request, response);
  Dispatch(request, response, &logged);
  logged.RecordUnlessDeferred();
}

void Router::Refused(const HttpRequest& request, const HttpResponse& response) {
  CountRefused(request, response.status);
  if (state_->access_log != nullptr) state_->access_log->MaybeRecord(request, response, std::chrono::nanoseconds{0});
}

void Router::CountRefused(const HttpRequest& request, int status) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  ModelPath model;
  if (path.starts_with(kModelsPrefix) && ParseModelPath(path.substr(kModelsPrefix.size()), &model) &&
      model.action == "infer") {
    std::shared_ptr<const serving::Routes> routes = state_->deployments->Current();
    if (const serving::Route* route = routes->Find(model.model)) {
      const std::shared_ptr<const serving::ServedModel>* served =
          model.version.empty() ? &route->primary : route->Version(model.version);
      if (served != nullptr) return (*served)->stats.CountStatus(status);
    }
    state_->unrouted_requests.fetch_add(1, std::memory_order_relaxed);
  }
}

void Router::Dispatch(const HttpRequest& request, HttpResponse* response, Deferral* deferral) {
  std::string_view path = request.target.substr(0, request.target.find('?'));
  ServerState& state = *state_;
  if (path.starts_with(kModelsPrefix)) {
    ModelPath model;
    if (ParseModelPath(path.substr(kModelsPrefix.size()), &model)) {
      if (model.action == "infer") {
        if (MethodIs(request, "POST", response)) HandleInfer(state, model, request.body_buffer, response, deferral);
      } else if (MethodIs(request, "GET", response)) {
        if (model.action == "ready") {
          HandleModelReady(state, model, response);
        } else {
          HandleModelMetadata(state, model, response);
        }
      }
      return;
    }
  } else if (path == "/v2/health/live") {
    if (MethodIs(request, "GET", response)) HandleLive(state, response);
    return;
  } else if (path == "/v2/health/ready") {
    if (MethodIs(request, "GET", response)) HandleReady(state, response);
    return;
  } else if (path == "/v2" || path == "/v2/") {
    if (MethodIs(request, "GET", response)) HandleServerMetadata(state, response);
    return;
  } else if (path == "/api/v1/deployments") {
    if (request.method == "POST") return HandlePostDeployment(state, request.body, response, deferral);
    if (request.method == "GET") return HandleGetDeployments(state, response);
    return MethodNotAllowed(request, "GET, POST", response);
  } else if (path == "/metrics") {
    if (MethodIs(request, "GET", response)) HandleMetrics(state, response);
    return;
  }
  state.unrouted_requests.fetch_add(1, std::memory_order_relaxed);
  SetError(404, "no such endpoint: " + std::string(path), response);
}

}  // namespace keel::server
