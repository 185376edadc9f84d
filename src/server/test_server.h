// Tests' HttpServer: listening on a free port of 127.0.0.1 and running on
// its own thread from construction until destruction (Stop, then join).
#pragma once

#include <thread>

#include "server/http_server.h"

namespace keel::server::testing {

class RunningServer {
 public:
  RunningServer(HttpServerOptions options, HttpHandler* handler) : server_(WithFreePort(std::move(options)), handler) {
    listen_ = server_.Listen();
    if (listen_.ok()) thread_ = std::thread([this] { server_.Run(); });
  }
  ~RunningServer() {
    if (!thread_.joinable()) return;
    server_.Stop();
    thread_.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  // Whether it listens (and runs); the error if not.
  const Status& listen_status() const { return listen_; }
  HttpServer& server() { return server_; }
  uint16_t port() const { return server_.port(); }

 private:
  static HttpServerOptions WithFreePort(HttpServerOptions options) {
    options.host = "127.0.0.1";
    options.port = 0;
    return options;
  }

  HttpServer server_;
  Status listen_;
  std::thread thread_;
};

}  // namespace keel::server::testing
