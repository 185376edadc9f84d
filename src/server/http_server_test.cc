// HttpServer in-process, against 127.0.0.1: its timeouts (an idle
// connection and a client that stops reading are closed; a request being
// handled, however long it takes, is not), HEAD, requests however their
// bytes arrive, idle buffers given back, and answers from other threads.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "server/test_server.h"

namespace keel::server {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// "/big" answers 64 MiB; "/held" answers only when the test releases it;
// "/echo" answers the request's method and body; anything else "ok".
class TestHandler : public HttpHandler {
 public:
  void Handle(const HttpRequest& request, HttpResponse* response, Deferral* deferral) override {
    response->content_type = "text/plain";
    if (request.target == "/big") {
      response->body.assign(64 << 20, 'x');
    } else if (request.target == "/echo") {
      response->body = std::string(request.method) + " " + std::string(request.body);
    } else if (request.target == "/held") {
      response->body = "held";
      std::function<void()> respond = deferral->Defer();
      std::lock_guard<std::mutex> lock(mu_);
      held_ = std::move(respond);
      changed_.notify_all();
    } else {
      response->body = "ok";
    }
  }

  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return held_ != nullptr; });
  }
  // Answers "/held". REQUIRES: WaitUntilHeld().
  void ReleaseHeld() { TakeHeld()(); }
  // The function that answers "/held". REQUIRES: WaitUntilHeld().
  std::function<void()> TakeHeld() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(held_);
  }

  void Refused(const HttpRequest& request, const HttpResponse& response) override {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.push_back(std::string(request.method) + " " + std::string(request.target) + " " +
                       std::to_string(response.status) + " " + response.body);
  }
  std::vector<std::string> RefusedRequests() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::function<void()> held_;
  std::vector<std::string> refused_;
};

// A blocking connection that gives up on a read after 30 s rather than
// hanging the test.
class Connection {
 public:
  explicit Connection(uint16_t port) : socket_(context_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    timeval limit{30, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }

  void Send(std::string_view text) { net::write(socket_, net::buffer(text.data(), text.size())); }

  // Reads until the server closes the connection (or the read limit);
  // returns what came, and whether it was the server's close.
  std::pair<std::string, bool> ReadToClose() {
    std::string got = std::move(pending_);
    pending_.clear();
    char chunk[1 << 16];
    for (;;) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(net::buffer(chunk), ec);
      got.append(chunk, n);
      if (ec) return {got, ec == net::error::eof || ec == net::error::connection_reset};
    }
  }

  // Reads up to the end of the first `end` that comes (a response's body);
  // what follows is kept for the next read.
  std::string ReadResponse(std::string_view end) {
    char chunk[4096];
    size_t found;
    while ((found = pending_.find(end)) == std::string::npos) {
      boost::system::error_code ec;
      size_t n = socket_.read_some(net::buffer(chunk), ec);
      if (ec) return pending_ + " [" + ec.message() + "]";
      pending_.append(chunk, n);
    }
    std::string got = pending_.substr(0, found + end.size());
    pending_.erase(0, found + end.size());
    return got;
  }

 private:
  net::io_context context_;
  tcp::socket socket_;
  std::string pending_;  // read but not yet returned
};

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions options) {
    options.threads = 1;
    running_ = std::make_unique<testing::RunningServer>(options, &handler_);
    ASSERT_TRUE(running_->listen_status().ok()) << running_->listen_status().ToString();
    server_ = &running_->server();
  }

  TestHandler handler_;
  std::unique_ptr<testing::RunningServer> running_;
  HttpServer* server_ = nullptr;
};

constexpr std::string_view kGet = "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(HttpServerTest, AnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  Start({.idle_timeout = std::chrono::milliseconds(100)});
  Connection client(server_->port());
  client.Send(kGet);
  EXPECT_NE(client.ReadResponse("ok").find("200 OK"), std::string::npos);
  // No next request: the server closes the connection.
  const auto start = std::chrono::steady_clock::now();
  auto [rest, closed] = client.ReadToClose();
  EXPECT_TRUE(closed);
  EXPECT_EQ(rest, "");
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST_F(HttpServerTest, HeadIsAnsweredAsGetWithoutTheBody) {
  Start({});
  Connection client(server_->port());
  client.Send("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(client.ReadResponse("\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n");
  // No body came: the next response on the connection starts clean.
  client.Send(kGet);
  EXPECT_EQ(client.ReadResponse("ok"), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
}

// However a request's bytes arrive (whole, pipelined, in pieces, chunked),
// each is read once and answered in order.
TEST_F(HttpServerTest, RequestsAreReadHoweverTheirBytesArrive) {
  Start({});
  Connection client(server_->port());
  // Two pipelined requests in one write.
  client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
              "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo");
  EXPECT_NE(client.ReadResponse("POST one").find("Content-Length: 8\r\n"), std::string::npos);
  EXPECT_NE(client.ReadResponse("POST two").find("200 OK"), std::string::npos);
  // A header and a body in pieces.
  client.Send("POST /echo HTTP/1.1\r\nHo");
  client.Send("st: x\r\nContent-Length: 6\r\n\r\nthr");
  client.Send("ee");
  client.Send("!");
  EXPECT_NE(client.ReadResponse("POST three!").find("200 OK"), std::string::npos);
  // A chunked body, its chunks in separate writes.
  client.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfour\r\n");
  client.Send("1\r\n!\r\n0\r\n\r\n");
  EXPECT_NE(client.ReadResponse("POST four!").find("200 OK"), std::string::npos);
  // A malformed request after a good one in the same write.
  client.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/9\r\n\r\n");
  EXPECT_NE(client.ReadResponse("ok").find("200 OK"), std::string::npos);
  auto [rest, closed] = client.ReadToClose();
  EXPECT_TRUE(closed);
  EXPECT_NE(rest.find("400 Bad Request"), std::string::npos) << rest;
}

// A body over max_body is refused, whether its length is declared or it
// comes in chunks, and the handler is told of each refusal and its answer.
TEST_F(HttpServerTest, ABodyOverTheLimitIsRefusedAndTheHandlerTold) {
  Start({.max_body = 100});
  Connection declared(server_->port());
  declared.Send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
  auto [got, closed] = declared.ReadToClose();
  EXPECT_NE(got.find("413 Payload Too Large"), std::string::npos) << got;
  EXPECT_TRUE(closed);
  Connection chunked(server_->port());
  chunked.Send("POST /b?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" +
               std::string(100, 'x') + "\r\n1\r\nx\r\n0\r\n\r\n");
  std::tie(got, closed) = chunked.ReadToClose();
  EXPECT_NE(got.find("413 Payload Too Large"), std::string::npos) << got;
  // The handler sees the answer about to be sent.
  EXPECT_EQ(handler_.RefusedRequests(),
            (std::vector<std::string>{
                R"x(POST /a 413 {"error":"request body of 101 bytes is over the limit of 100 bytes (--max-body)"})x",
                R"x(POST /b?q=1 413 {"error":"request body is over the limit of 100 bytes (--max-body)"})x"}));
}

TEST_F(HttpServerTest, IdleConnectionsGiveTheirBuffersBack) {
  // Sweeps every 250 ms: a connection that has waited that long for its
  // next request gives its buffers back (and is closed only after 30 s).
  Start({.idle_timeout = std::chrono::seconds(30), .header_timeout = std::chrono::seconds(1)});
  const std::string body(13000, 'b');  // about a 64-row request
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::vector<std::unique_ptr<Connection>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<Connection>(server_->port()));
    clients.back()->Send(request);
    EXPECT_NE(clients.back()->ReadResponse(body).find("200 OK"), std::string::npos);
    // Just answered: it keeps its read buffer and its body for the next.
    if (i == 0) {
      EXPECT_GE(server_->HeldBufferBytes(), 16384u + 13000u);
    }
  }
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server_->HeldBufferBytes() > 20 * 512u && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // between polls of the I/O thread
  }
  EXPECT_LE(server_->HeldBufferBytes(), 20 * 512u);
  // And they still serve.
  for (auto& client : clients) {
    client->Send(request);
    EXPECT_NE(client->ReadResponse(body).find("200 OK"), std::string::npos);
  }
}

TEST_F(HttpServerTest, AClientThatStopsReadingIsClosedAfterTheBodyTimeout) {
  Start({.body_timeout = std::chrono::milliseconds(200)});
  Connection client(server_->port());
  client.Send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  // The client reads nothing: the 64 MiB reply fills the socket buffers,
  // the write stalls and the server gives the connection up.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server_->open_connections() > 0 && std::chrono::steady_clock::now() < limit) std::this_thread::yield();
  ASSERT_EQ(server_->open_connections(), 0);
  auto [got, closed] = client.ReadToClose();
  EXPECT_TRUE(closed);
  EXPECT_NE(got.find("200 OK"), std::string::npos);
  EXPECT_LT(got.size(), size_t{64} << 20);
}

TEST_F(HttpServerTest, ARequestBeingHandledOutlastsEveryTimeout) {
  const auto short_timeout = std::chrono::milliseconds(50);
  Start({.idle_timeout = short_timeout, .header_timeout = short_timeout, .body_timeout = short_timeout});
  Connection held(server_->port());
  held.Send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
  handler_.WaitUntilHeld();
  // A second connection, left idle, is closed by the timeout sweep; the
  // held request is older and still waits for its answer.
  Connection idle(server_->port());
  EXPECT_TRUE(idle.ReadToClose().second);
  handler_.ReleaseHeld();
  EXPECT_NE(held.ReadResponse("held").find("200 OK"), std::string::npos);
}

// A handler may answer from another thread and drop the answering
// function there, after the connection closed: the session must still end
// on its I/O thread, the only one that touches its session set.
// ThreadSanitizer checks this (scripts/test runs keel_server_tests under it).
TEST_F(HttpServerTest, AnAnswerFunctionDroppedOnAnotherThreadEndsNoSessionThere) {
  Start({});
  for (int i = 0; i < 10; ++i) {
    std::function<void()> respond;
    {
      Connection held(server_->port());
      held.Send("GET /held HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      handler_.WaitUntilHeld();
      respond = handler_.TakeHeld();
      std::thread([&respond] { respond(); }).join();
      auto [got, closed] = held.ReadToClose();
      EXPECT_NE(got.find("held"), std::string::npos);
      EXPECT_TRUE(closed);
    }
    // A round trip through the I/O thread: the handlers that ran the close
    // have returned, so only `respond` may still hold the session.
    server_->HeldBufferBytes();
    std::thread([dropped = std::move(respond)] {}).join();
  }
  // A last connection makes the I/O thread touch its session set again.
  Connection last(server_->port());
  last.Send(kGet);
  EXPECT_NE(last.ReadResponse("ok").find("200 OK"), std::string::npos);
}

}  // namespace
}  // namespace keel::server
