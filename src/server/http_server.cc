#include "server/http_server.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <chrono>
#include <future>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/parallel.h"
#include "serving/inference.h"

namespace keel::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr size_t kHeaderLimit = 64 << 10;
// How much a connection reads at once while waiting for a request: enough
// for a whole request of 64 rows (about 13 KB) in one read.
constexpr size_t kFirstRead = 16 << 10;
// The largest request body buffer a connection keeps for its next request.
constexpr size_t kKeptBody = 1 << 20;
// How much a connection that has waited a whole sweep interval for its next
// request reads at once: it gives its buffers back and waits with this.
constexpr size_t kIdleRead = 512;
constexpr std::string_view kTooManyConnections =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    "Content-Length: 39\r\n\r\n{\"error\": \"too many open connections\"}\n";

std::string ErrorJson(std::string_view message) {
  std::string body = "{\"error\":";
  serving::AppendJsonString(message, &body);
  return body + "}";
}

}  // namespace

using Clock = std::chrono::steady_clock;

// How often an I/O thread looks for connections past their deadline: a
// quarter of the shortest timeout, so that one fires at most a quarter
// late, within 10 ms to 1 s. One sweep per thread instead of a timer per
// connection, which cost a timer update and a cancelled wait per read and
// write (about 6% of the throughput of 64-row requests).
Clock::duration SweepInterval(const HttpServerOptions& options) {
  const auto shortest = std::min({options.idle_timeout, options.header_timeout, options.body_timeout});
  return std::clamp<Clock::duration>(shortest / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
}

class Session;

// One per I/O thread: the thread's io_context, its open sessions and the
// sweep that closes the ones past their deadline (only ever touched on that
// thread). The sweep runs while the thread has sessions.
struct IoThread {
  ~IoThread() {
    // Sessions that handlers still hold when the context is destroyed no
    // longer stop the sweep.
    sweep.reset();
  }

  // An I/O thread that always has a request to handle never blocks, and
  // the kernel then lets it keep its core for a whole time slice (about
  // 3 ms) while other runnable threads there wait: the clients' threads on
  // the same machine, whose requests then wait too. So a thread that has
  // handled requests for kOfferEvery since it last did offers its core
  // (sched_yield returns at once when no other thread is waiting). At c8
  // on two cores shared with wrk, offers every 500 us took the p99 of
  // 1-row requests from about 3.5 ms to under 1 ms. Each offer is a context
  // switch: at 250 us, 64-row requests at c64 ran 7% slower.
  void OfferCore() {
    const Clock::time_point now = Clock::now();
    if (now - last_offer < kOfferEvery) return;
    last_offer = now;
    sched_yield();
  }
  static constexpr Clock::duration kOfferEvery = std::chrono::microseconds(500);

  void AddSession(Session* session, Clock::duration interval);
  void RemoveSession(Session* session);
  void Sweep(Clock::duration interval);

  // Declared first, destroyed last: sessions still held by handlers the
  // context destroys unregister themselves from the set.
  std::unordered_set<Session*> sessions;
  net::io_context context{1};
  std::optional<net::steady_timer> sweep;
  bool sweeping = false;
  Clock::time_point last_offer;
};

struct HttpServer::Impl {
  Impl(HttpServerOptions o, HttpHandler* h) : options(std::move(o)), handler(h) {}

  void Accept();
  void OnAccepted(tcp::socket socket);
  void Drain();
  void SessionClosed();

  HttpServerOptions options;
  HttpHandler* handler;
  std::vector<std::unique_ptr<IoThread>> threads;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> drain_timer;
  std::optional<net::steady_timer> accept_retry;
  size_t next_thread = 0;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> open{0};
  std::atomic<uint64_t> refused{0};
};

class Session : public std::enable_shared_from_this<Session>, public Deferral {
 public:
  Session(tcp::socket socket, HttpServer::Impl* server, IoThread* thread)
      : socket_(std::move(socket)), server_(server), thread_(thread) {}

  ~Session() {
    // Only its I/O thread touches the session set (and once that thread
    // has stopped, the thread destroying the server).
    assert(thread_->context.get_executor().running_in_this_thread() || thread_->context.stopped());
    thread_->RemoveSession(this);
    Close();
  }

  void Start() {
    thread_->AddSession(this, SweepInterval(options()));
    beast::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    WaitForRequest();
  }

  // The sweep: closes a connection whose read or write outlasts its
  // timeout, and has one that has waited a whole interval for its next
  // request give its buffers back (10,000 idle connections would hold
  // 160 MB of read buffers otherwise).
  void Sweep(Clock::time_point now, Clock::duration interval) {
    if (deadline_ <= now) return Close();
    if (waiting_ && !idle_ && now - waiting_since_ >= interval) {
      idle_ = true;
      beast::error_code ignored;
      socket_.cancel(ignored);  // the read's handler gives the buffers back and waits again
    }
  }

  // The read and body buffers the connection holds.
  size_t HeldBytes() const { return buffer_.capacity() + (parser_ ? parser_->get().body().capacity() : 0); }

  // The server is stopping: a connection between requests closes now, one
  // with a request in flight after answering it.
  void OnStop() {
    if (!busy_) Close();
  }
  // The drain timed out: close whatever state the connection is in.
  void ForceClose() { Close(); }

 private:
  const HttpServerOptions& options() const { return server_->options; }

  // The reads and writes from now on must be done within `timeout`.
  void Deadline(std::chrono::milliseconds timeout) { deadline_ = Clock::now() + timeout; }

  void WaitForRequest() {
    busy_ = false;
    if (server_->stopping.load()) return Close();
    if (buffer_.size() > 0) return ReadHeader();
    Deadline(options().idle_timeout);
    waiting_since_ = Clock::now();
    ReadFirst();
  }

  // Waits for the first bytes of the next request.
  void ReadFirst() {
    waiting_ = true;
    socket_.async_read_some(buffer_.prepare(idle_ ? kIdleRead : kFirstRead),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->waiting_ = false;
                              if (ec == net::error::operation_aborted && self->idle_ && !self->closed_) {
                                self->buffer_.shrink_to_fit();  // it holds nothing: freed
                                self->parser_.reset();
                                return self->ReadFirst();
                              }
                              if (ec) return self->Close();
                              self->idle_ = false;
                              self->buffer_.commit(n);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    busy_ = true;
    // The last request's body lends its buffer to this one's, up to
    // kKeptBody: a 64-row request then costs no allocation for its body.
    std::string body;
    if (parser_ && parser_->get().body().capacity() <= kKeptBody) body = std::move(parser_->get().body());
    body.clear();
    parser_.emplace();
    parser_->get().body() = std::move(body);
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options().max_body);
    Deadline(options().header_timeout);
    beast::error_code ec;
    ParseBuffered(/*header_only=*/true, ec);
    if (ec || parser_->is_header_done()) return OnHeader(ec);
    http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnHeader(ec);
    });
  }

  // Parses what buffer_ already holds, up to the end of the header or of
  // the request, so that a request that came whole (the common case) is
  // read without Beast's asynchronous read operations. `ec`: a parse error.
  void ParseBuffered(bool header_only, beast::error_code& ec) {
    while (buffer_.size() > 0 && !(header_only ? parser_->is_header_done() : parser_->is_done())) {
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) {
        ec = {};
        return;
      }
      if (ec || used == 0) return;
    }
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& header = parser_->get();
    if (parser_->is_done()) return OnRequest();
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(socket_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    Deadline(options().body_timeout);
    beast::error_code ec;
    ParseBuffered(/*header_only=*/false, ec);
    if (ec) return OnReadError(ec);
    if (parser_->is_done()) return OnRequest();
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->OnReadError(ec);
      self->OnRequest();
    });
  }

  void OnReadError(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      // A declared length over the limit fails the header, before the
      // parser's content_length() may be asked: its field names the size.
      const std::string limit =
          " over the limit of " + std::to_string(options().max_body) + " bytes (--max-body)";
      const beast::string_view declared = parser_->get()[http::field::content_length];
      if (!declared.empty()) {
        return Refuse(413, "request body of " + std::string(declared.data(), declared.size()) +
                               " bytes is" + limit);
      }
      return Refuse(413, "request body is" + limit);
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return RespondError(400, "malformed HTTP request: " + ec.message());
    }
    Close();  // the client went away, or timed out
  }

  std::function<void()> Defer() override {
    deferred_ = true;
    // The I/O thread must not run out of work while the answer is pending
    // (a graceful stop would otherwise end it and lose the answer).
    auto work = std::make_shared<net::executor_work_guard<net::io_context::executor_type>>(
        net::make_work_guard(thread_->context));
    // The returned function gives its hold on the session to the posted
    // answer: the handler may destroy the function on another thread after
    // the answer is sent, and a session must end on its I/O thread, whose
    // session set it leaves.
    return [self = shared_from_this(), work]() mutable {
      net::io_context& context = self->thread_->context;
      net::post(context, [self = std::move(self), work = std::move(work)] {
        self->deferred_ = false;
        self->Respond(self->parser_->get().keep_alive() && !self->server_->stopping.load());
      });
    };
  }

  void OnRequest() {
    deadline_ = Clock::time_point::max();  // no read or write pending while it is handled
    auto& message = parser_->get();
    HttpRequest request = HeaderOf(message);
    // HEAD is answered as GET would be, without the body.
    head_only_ = message.method() == http::verb::head;
    if (head_only_) request.method = "GET";
    request.body = message.body();
    request.body_buffer = &message.body();
    out_.status = 200;
    out_.content_type = "application/json";
    out_.body.clear();
    out_.allow = {};
    server_->handler->Handle(request, &out_, this);
    thread_->OfferCore();
    if (deferred_) return;  // Defer()'s function responds
    Respond(message.keep_alive() && !server_->stopping.load());
  }

  // Answers a request whose header was read without handling it, and
  // tells the handler, which counts and logs it.
  void Refuse(int status, const std::string& message) {
    PrepareError(status, message);
    server_->handler->Refused(HeaderOf(parser_->get()), out_);
    Respond(/*keep_alive=*/false);
  }

  // The method and target of a parsed header, without its body.
  static HttpRequest HeaderOf(const http::request<http::string_body>& header) {
    return {std::string_view(header.method_string().data(), header.method_string().size()),
            std::string_view(header.target().data(), header.target().size()), {}, nullptr};
  }

  void RespondError(int status, const std::string& message) {
    PrepareError(status, message);
    Respond(/*keep_alive=*/false);
  }

  // Makes out_ the error answer, a whole JSON body.
  void PrepareError(int status, const std::string& message) {
    head_only_ = false;
    out_.status = status;
    out_.allow = {};
    out_.content_type = "application/json";
    out_.body = ErrorJson(message);
  }

  // Writes the status line and headers into head_ and sends them with
  // out_.body in one write: the response is always a whole body of known
  // length.
  void Respond(bool keep_alive) {
    head_.assign("HTTP/1.1 ");
    AppendNumber(static_cast<uint64_t>(out_.status), &head_);
    head_ += ' ';
    const beast::string_view reason = http::obsolete_reason(static_cast<http::status>(out_.status));
    head_.append(reason.data(), reason.size());
    head_ += "\r\nContent-Type: ";
    head_ += out_.content_type;
    head_ += "\r\nContent-Length: ";
    AppendNumber(out_.body.size(), &head_);
    head_ += "\r\n";
    if (!out_.allow.empty()) {
      head_ += "Allow: ";
      head_ += out_.allow;
      head_ += "\r\n";
    }
    if (!keep_alive) {
      head_ += "Connection: close\r\n";
    } else if (parser_ && parser_->get().version() == 10) {
      head_ += "Connection: keep-alive\r\n";  // an HTTP/1.0 client keeps the connection only when told so
    }
    head_ += "\r\n";
    Deadline(options().body_timeout);
    const std::array<net::const_buffer, 2> buffers{net::buffer(head_),
                                                   head_only_ ? net::const_buffer() : net::buffer(out_.body)};
    net::async_write(socket_, buffers, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive) return self->Close();
      self->WaitForRequest();
    });
  }

  static void AppendNumber(uint64_t value, std::string* out) {
    char digits[20];
    const std::to_chars_result end = std::to_chars(digits, digits + sizeof digits, value);
    out->append(digits, end.ptr);
  }

  // The connection no longer counts as open from here on, before the client
  // can see it closed.
  void Close() {
    if (closed_) return;
    closed_ = true;
    server_->SessionClosed();
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);  // cancels a pending read or write
  }

  tcp::socket socket_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool waiting_ = false;  // for the first bytes of a request
  Clock::time_point waiting_since_;
  bool idle_ = false;  // waited a whole sweep interval: holds no buffers
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string head_;  // the response's status line and headers
  bool head_only_ = false;  // a HEAD request: no body follows head_
  HttpResponse out_;
  HttpServer::Impl* server_;
  IoThread* thread_;
  bool busy_ = false;
  bool closed_ = false;
  bool deferred_ = false;
};

void IoThread::AddSession(Session* session, Clock::duration interval) {
  sessions.insert(session);
  if (sweeping) return;
  sweeping = true;
  if (!sweep) sweep.emplace(context);
  Sweep(interval);
}

void IoThread::RemoveSession(Session* session) {
  sessions.erase(session);
  if (sessions.empty() && sweeping && sweep) sweep->cancel();
}

// Waits `interval`, then closes the sessions past their deadline; again
// while there are sessions.
void IoThread::Sweep(Clock::duration interval) {
  sweep->expires_after(interval);
  sweep->async_wait([this, interval](beast::error_code ec) {
    if (!ec) {
      const Clock::time_point now = Clock::now();
      // Closing leaves the set as it is: a session leaves it when its last
      // handler has run.
      for (Session* session : sessions) session->Sweep(now, interval);
    }
    if (sessions.empty()) {
      sweeping = false;
      return;
    }
    Sweep(interval);
  });
}

void HttpServer::Impl::Accept() {
  IoThread& target = *threads[next_thread];
  next_thread = (next_thread + 1) % threads.size();
  acceptor->async_accept(target.context, [this, &target](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopping.load()) return;
    if (ec) {
      // Out of file descriptors, most likely: try again shortly rather than
      // spinning on the same error.
      accept_retry.emplace(threads[0]->context, std::chrono::milliseconds(50));
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping.load()) Accept();
      });
      return;
    }
    if (static_cast<size_t>(open.load()) >= options.max_connections) {
      refused.fetch_add(1);
      beast::error_code ignored;
      net::write(socket, net::buffer(kTooManyConnections.data(), kTooManyConnections.size()), ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    } else {
      open.fetch_add(1);
      net::post(target.context, [this, &target, s = std::move(socket)]() mutable {
        std::make_shared<Session>(std::move(s), this, &target)->Start();
      });
    }
    Accept();
  });
}

void HttpServer::Impl::SessionClosed() {
  if (open.fetch_sub(1) == 1 && stopping.load()) {
    net::post(threads[0]->context, [this] {
      if (drain_timer) drain_timer->cancel();
    });
  }
}

void HttpServer::Impl::Drain() {
  beast::error_code ignored;
  acceptor->close(ignored);
  if (accept_retry) accept_retry->cancel();
  for (auto& thread : threads) {
    net::post(thread->context, [t = thread.get()] {
      std::vector<Session*> sessions(t->sessions.begin(), t->sessions.end());
      for (Session* session : sessions) session->OnStop();
    });
  }
  drain_timer.emplace(threads[0]->context, options.drain_timeout);
  drain_timer->async_wait([this](beast::error_code ec) {
    if (ec) return;  // cancelled: every connection closed in time
    // Closing cancels their pending reads and writes; once those handlers
    // have run, the contexts run out of work and Run() returns.
    for (auto& thread : threads) {
      net::post(thread->context, [t = thread.get()] {
        std::vector<Session*> sessions(t->sessions.begin(), t->sessions.end());
        for (Session* session : sessions) session->ForceClose();
      });
    }
  });
  if (open.load() == 0) drain_timer->cancel();
  work.clear();
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler* handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {
  int count = impl_->options.threads > 0 ? impl_->options.threads : static_cast<int>(UsableCores());
  for (int i = 0; i < count; ++i) {
    impl_->threads.push_back(std::make_unique<IoThread>());
    impl_->work.push_back(net::make_work_guard(impl_->threads.back()->context));
  }
}

HttpServer::~HttpServer() = default;

Status HttpServer::Listen() {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(impl_->options.host, ec);
  if (ec) return InvalidArgumentError("--host '" + impl_->options.host + "' is not an IP address");
  const tcp::endpoint endpoint(address, impl_->options.port);
  const std::string where = impl_->options.host + ":" + std::to_string(impl_->options.port);
  tcp::acceptor& acceptor = impl_->acceptor.emplace(impl_->threads[0]->context);
  if (acceptor.open(endpoint.protocol(), ec); ec) return UnavailableError("cannot listen on " + where + ": " + ec.message());
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) return UnavailableError("cannot listen on " + where + ": " + ec.message());
  if (acceptor.listen(net::socket_base::max_listen_connections, ec); ec) {
    return UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  impl_->Accept();
  return Status::Ok();
}

int HttpServer::threads() const { return static_cast<int>(impl_->threads.size()); }

uint16_t HttpServer::port() const { return impl_->acceptor ? impl_->acceptor->local_endpoint().port() : 0; }

void HttpServer::Run() {
  std::vector<std::thread> others;
  for (size_t i = 1; i < impl_->threads.size(); ++i) {
    others.emplace_back([context = &impl_->threads[i]->context] { context->run(); });
  }
  impl_->threads[0]->context.run();
  for (std::thread& t : others) t.join();
}

void HttpServer::Stop() {
  if (impl_->stopping.exchange(true)) return;
  net::post(impl_->threads[0]->context, [impl = impl_.get()] { impl->Drain(); });
}

int64_t HttpServer::open_connections() const { return impl_->open.load(); }

size_t HttpServer::HeldBufferBytes() const {
  std::vector<std::future<size_t>> parts;
  for (auto& thread : impl_->threads) {
    auto part = std::make_shared<std::promise<size_t>>();
    parts.push_back(part->get_future());
    net::post(thread->context, [t = thread.get(), part] {
      size_t bytes = 0;
      for (const Session* session : t->sessions) bytes += session->HeldBytes();
      part->set_value(bytes);
    });
  }
  size_t total = 0;
  for (std::future<size_t>& part : parts) total += part.get();
  return total;
}
uint64_t HttpServer::refused_connections() const { return impl_->refused.load(); }

}  // namespace keel::server
