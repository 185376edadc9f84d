// `keel serve`: the V2 inference server over the project's registry.
#include <pthread.h>
#include <signal.h>

#include <sys/resource.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/registry_open.h"
#include "deploy/deploy_source.h"
#include "server/http_server.h"
#include "server/router.h"
#include "serving/deployments.h"

namespace keel::cli {
namespace {

struct ServeArgs {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> models;
  std::string deploy_file;
  std::string env;
  int threads = 0;
  uint64_t max_body = 64ull << 20;
  size_t max_connections = 10000;
  double idle_timeout = 60;
  double header_timeout = 10;
  double body_timeout = 30;
  double drain_timeout = 30;
  size_t max_batch_size = 0;
  int64_t max_batch_delay_us = 0;
  std::string access_log;
  double access_log_sample = 1.0;
};

// Versions come from the project's registry.
class RegistrySource : public serving::ModelSource {
 public:
  RegistrySource(Registry registry, serving::BatchOptions batch) : registry_(std::move(registry)), batch_(batch) {}

  Result<std::string> Resolve(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_ASSIGN_OR_RETURN(ModelVersion version, registry_.service->Resolve(id));
    return version.model + "@" + std::to_string(version.version);
  }

  Result<std::unique_ptr<serving::ServedModel>> Load(const std::string& resolved_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_ASSIGN_OR_RETURN(ModelVersion version, registry_.service->Resolve(resolved_id));
    KEEL_ASSIGN_OR_RETURN(std::string model_json, registry_.service->ReadFile(version, "model.json"));
    KEEL_ASSIGN_OR_RETURN(std::string signature_json, registry_.service->ReadFile(version, "signature.json"));
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Model> model,
                          runtime::LoadModelFiles(model_json, signature_json, resolved_id));
    return std::make_unique<serving::ServedModel>(version.model, std::to_string(version.version), std::move(model),
                                                  batch_);
  }

 private:
  std::mutex mu_;
  Registry registry_;
  const serving::BatchOptions batch_;
};

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
}

server::HttpServerOptions ServerOptions(const ServeArgs& args) {
  server::HttpServerOptions o;
  o.host = args.host;
  o.port = static_cast<uint16_t>(args.port);
  o.threads = args.threads;
  o.max_body = args.max_body;
  o.max_connections = args.max_connections;
  o.idle_timeout = Millis(args.idle_timeout);
  o.header_timeout = Millis(args.header_timeout);
  o.body_timeout = Millis(args.body_timeout);
  o.drain_timeout = Millis(args.drain_timeout);
  return o;
}

// SIGTERM and SIGINT stop the server gracefully; SIGHUP rereads
// deploy.yaml. The signals are blocked in every thread and taken here with
// sigwait, so no handler runs in a signal context. SIGUSR1 only ends this
// thread.
class SignalThread {
 public:
  SignalThread(server::HttpServer* server, std::function<void()> on_hangup)
      : server_(server), on_hangup_(std::move(on_hangup)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~SignalThread() {
    ending_.store(true);
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

  static void BlockSignals() {
    sigset_t set = Set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

 private:
  static sigset_t Set() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, s);
    return set;
  }

  void Loop() {
    const sigset_t set = Set();
    for (;;) {
      int signal = 0;
      if (sigwait(&set, &signal) != 0) return;
      if (signal == SIGUSR1) {
        if (ending_.load()) return;
        continue;  // not ours: someone else's kill -USR1
      }
      if (signal == SIGHUP) {
        on_hangup_();
        continue;
      }
      server_->Stop();
      std::cerr << "keel serve: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT")
                << ": finishing requests in flight, then stopping" << std::endl;
    }
  }

  server::HttpServer* server_;
  std::function<void()> on_hangup_;
  std::atomic<bool> ending_{false};
  std::thread thread_;
};

// Each connection is a file descriptor: allow as many as the hard limit does
// (Debian's soft default of 1024 is below --max-connections' default).
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::string Describe(const serving::Route& route) {
  std::string text = route.primary->id() + " (" + std::string(route.primary->model->Backend()) + ")";
  if (route.canary) text += ", canary " + route.canary->id() + " at " + std::to_string(route.canary_percent) + "%";
  if (route.shadow) text += ", shadow " + route.shadow->id();
  return text;
}

Status Serve(Context& ctx, const ServeArgs& args) {
  if (args.port < 0 || args.port > 65535) return InvalidArgumentError("--port " + std::to_string(args.port) + " is not 0..65535");
  if (args.deploy_file.empty() != args.env.empty()) {
    return InvalidArgumentError("--deploy and --env go together: --deploy deploy.yaml --env production");
  }
  if (args.models.empty() && args.deploy_file.empty()) {
    return InvalidArgumentError("nothing to serve: give --model ID (e.g. census@production) or --deploy deploy.yaml --env ENV");
  }
  deploy::DeployFileSource deploy_file(ctx.env, args.deploy_file, args.env);
  // The file is checked before the server starts, so a typo fails at once.
  if (deploy_file.enabled()) KEEL_RETURN_IF_ERROR(deploy_file.Read().status());
  KEEL_ASSIGN_OR_RETURN(Registry registry, OpenRegistry(ctx));
  if (args.max_batch_delay_us < 0) return InvalidArgumentError("--max-batch-delay-us must not be negative");
  if (args.max_batch_delay_us > 0 && args.max_batch_size == 0) {
    return InvalidArgumentError("--max-batch-delay-us needs --max-batch-size (the most rows one predict call takes)");
  }
  RegistrySource source(std::move(registry),
                        {args.max_batch_size, std::chrono::microseconds(args.max_batch_delay_us)});
  serving::Deployments deployments(&source);
  std::unique_ptr<server::AccessLog> access_log;
  if (!args.access_log.empty()) {
    KEEL_ASSIGN_OR_RETURN(access_log, server::AccessLog::Open(args.access_log, args.access_log_sample));
  }
  // Every thread from here on inherits the blocked signals, which only the
  // signal thread takes.
  SignalThread::BlockSignals();
  // Declared before the server: it outlives the answers it defers.
  server::TaskQueue background;
  server::ServerState state;
  state.background = &background;
  state.access_log = access_log.get();
  state.deployments = &deployments;
  state.version = KEEL_VERSION;
  server::Router router(&state);
  server::HttpServer http(ServerOptions(args), &router);
  state.http = &http;

  RaiseOpenFileLimit();
  KEEL_RETURN_IF_ERROR(http.Listen());
  std::cout << "keel serve: listening on http://" << args.host << ":" << http.port() << " ("
            << http.threads() << (http.threads() == 1 ? " I/O thread)" : " I/O threads)")
            << std::endl;
  std::mutex reload_mu;  // one deploy.yaml reload at a time
  SignalThread signals(&http, [&] {
    if (!deploy_file.enabled()) {
      std::cerr << "keel serve: SIGHUP: no --deploy file to reread" << std::endl;
      return;
    }
    std::lock_guard<std::mutex> lock(reload_mu);
    Result<serving::Route> route = deploy_file.Apply(&deployments);
    if (!route.ok()) {
      std::cerr << "keel serve: SIGHUP: " << route.status().message() << " (still serving what served before)"
                << std::endl;
      return;
    }
    std::cout << "keel serve: " << deploy_file.file() << " reloaded: serving " << Describe(*route) << std::endl;
  });

  // The models load while the server already answers: /v2/health/live is
  // 200 at once, /v2/health/ready 503 until every model is in place.
  Status load_status;
  std::thread loader([&] {
    auto report = [&](const Result<serving::Route>& route, const std::string& what) {
      if (!route.ok()) {
        load_status = route.status().WithPrefix("cannot serve " + what);
        http.Stop();
        return false;
      }
      std::cout << "keel serve: serving " << Describe(*route) << " at /v2/models/" << route->primary->name
                << std::endl;
      return true;
    };
    for (const std::string& id : args.models) {
      if (!report(deployments.Deploy({.model = id}), id)) return;
    }
    if (deploy_file.enabled()) {
      std::lock_guard<std::mutex> lock(reload_mu);
      if (!report(deploy_file.Apply(&deployments), args.deploy_file + " (" + args.env + ")")) return;
    }
    deployments.SetReady();
    std::cout << "keel serve: ready" << std::endl;
  });
  http.Run();
  loader.join();
  KEEL_RETURN_IF_ERROR(load_status);
  std::cout << "keel serve: stopped" << std::endl;
  return Status::Ok();
}

}  // namespace

void RegisterServeCommand(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "serve registered models over the V2 inference protocol (HTTP)");
  cmd->add_option("--host", args->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "port to listen on (0: any free port)")->capture_default_str();
  cmd->add_option("--model", args->models, "a registered model ID to serve, e.g. census@production (repeatable)");
  cmd->add_option("--deploy", args->deploy_file, "a deploy.yaml to serve from (reread on SIGHUP)");
  cmd->add_option("--env", args->env, "the environment of --deploy to serve, e.g. production");
  cmd->add_option("--threads", args->threads, "I/O threads (0: one per core it may run on)")
      ->capture_default_str();
  cmd->add_option("--max-body", args->max_body, "largest request body in bytes (413 above)")->capture_default_str();
  cmd->add_option("--max-connections", args->max_connections, "open connections at most; more are refused with 503")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", args->idle_timeout, "seconds a connection may wait between requests")
      ->capture_default_str();
  cmd->add_option("--header-timeout", args->header_timeout, "seconds to receive a request's header")
      ->capture_default_str();
  cmd->add_option("--body-timeout", args->body_timeout, "seconds to receive a request's body after its header, and to send a response")
      ->capture_default_str();
  cmd->add_option("--drain-timeout", args->drain_timeout,
                  "seconds SIGTERM waits for requests in flight before closing their connections")
      ->capture_default_str();
  cmd->add_option("--max-batch-size", args->max_batch_size,
                  "merge concurrent requests of a model into predict calls of at most this many rows (0: off)")
      ->capture_default_str();
  cmd->add_option("--max-batch-delay-us", args->max_batch_delay_us,
                  "how long a request may wait for others to join its batch, in microseconds")
      ->capture_default_str();
  cmd->add_option("--access-log", args->access_log, "append one line per request to this file (-: stderr)");
  cmd->add_option("--access-log-sample", args->access_log_sample, "the share of requests logged, in (0, 1]")
      ->capture_default_str();
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return Serve(ctx, *args); }; });
}

}  // namespace keel::cli
