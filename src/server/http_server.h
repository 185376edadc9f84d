// keel's HTTP/1.1 server: Boost.Beast, asynchronous, one I/O thread per usable core,
// keep-alive, header and body timeouts, a cap on connections and on body
// size, and a graceful stop that lets in-flight requests finish. It knows
// nothing of what it serves: a Handler turns each request into a response.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace keel::server {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port (see HttpServer::port())
  int threads = 0;       // I/O threads; 0: one per usable core (UsableCores())
  uint64_t max_body = 64ull << 20;
  size_t max_connections = 10000;
  // A connection with no request started is closed after idle_timeout; a
  // request's header must arrive within header_timeout of its first byte,
  // its body within body_timeout after the header, and its response be
  // sent within body_timeout. Checked by a sweep every quarter of the
  // shortest (10 ms to 1 s), so a timeout fires at most that late.
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  // How long Stop() lets in-flight requests finish before closing them.
  std::chrono::milliseconds drain_timeout{30000};
};

struct HttpRequest {
  std::string_view method;  // "GET"
  std::string_view target;  // "/v2/models/census/infer?x=1"
  std::string_view body;
  // The buffer `body` views, which the handler may change, even in size
  // (to parse it in place); `body` is stale after that.
  std::string* body_buffer = nullptr;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // its capacity is kept from one request to the next
  std::string_view allow;  // a 405's Allow header: the methods the target takes
};

// Lets a handler answer a request later, from another thread.
class Deferral {
 public:
  virtual ~Deferral() = default;
  // Called at most once, before Handle returns: the response is then sent
  // only when the returned function is called, exactly once, from any
  // thread, after the response is filled in. The request's views and the
  // response stay valid until then.
  virtual std::function<void()> Defer() = 0;
};

// Called on an I/O thread; must be thread-safe across connections. A
// connection's requests are handled one at a time, in order, on one thread.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void Handle(const HttpRequest& request, HttpResponse* response, Deferral* deferral) = 0;
  // Told of a request the server answers without handling it, with
  // `response`, before it is sent: a 413, whose body was over max_body (the
  // request has no body).
  virtual void Refused(const HttpRequest& /*request*/, const HttpResponse& /*response*/) {}
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler* handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. kUnavailable names the address when it is taken.
  Status Listen();
  // The bound port (after Listen).
  uint16_t port() const;
  // The I/O threads Run() serves on.
  int threads() const;

  // Serves until Stop() has drained every connection. REQUIRES: Listen().
  void Run();

  // Stops accepting, closes idle connections and lets requests in flight
  // finish (up to drain_timeout). Safe from any thread and from a signal
  // handler's io callback; idempotent.
  void Stop();

  // Open connections, and connections refused at the cap, for /metrics.
  int64_t open_connections() const;
  uint64_t refused_connections() const;
  // The read and request body buffers the open connections hold. Asks
  // every I/O thread and waits for their answers: not from an I/O thread,
  // and only while Run() runs.
  size_t HeldBufferBytes() const;

  struct Impl;  // shared with the connections in http_server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace keel::server
