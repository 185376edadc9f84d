// keel's HTTP layer in-process: HttpServer and Router on 127.0.0.1 with a
// model source the test controls, spoken to with Beast's synchronous client.
#include "server/router.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/test_server.h"
#include "serving/test_models.h"

namespace keel::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Serves m@1 at once; loading m@2 waits until the test lets it go.
class GatedSource : public serving::testing::ConstantSource {
 public:
  GatedSource() : ConstantSource({"m@1", "m@2"}) {}
  Result<std::unique_ptr<serving::ServedModel>> Load(const std::string& id) override {
    if (id == "m@2") {
      std::unique_lock<std::mutex> lock(mu_);
      loading_ = true;
      changed_.notify_all();
      changed_.wait(lock, [this] { return released_; });
    }
    return ConstantSource::Load(id);
  }

  void WaitUntilLoading() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [this] { return loading_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool loading_ = false;
  bool released_ = false;
};

// One keep-alive connection.
class Client {
 public:
  explicit Client(uint16_t port) : socket_(context_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  }
  http::response<http::string_body> Send(http::verb method, const std::string& target, const std::string& body = "") {
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.body() = body;
    request.prepare_payload();
    http::write(socket_, request);
    http::response<http::string_body> response;
    http::read(socket_, buffer_, response);
    return response;
  }

 private:
  net::io_context context_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

class RouterTest : public ::testing::Test {
 protected:
  void Start(int threads) {
    ASSERT_TRUE(deployments_.Deploy({.model = "m@1"}).ok());
    deployments_.SetReady();
    state_.deployments = &deployments_;
    state_.background = &background_;
    router_ = std::make_unique<Router>(&state_);
    HttpServerOptions options;
    options.threads = threads;
    running_ = std::make_unique<testing::RunningServer>(options, router_.get());
    ASSERT_TRUE(running_->listen_status().ok()) << running_->listen_status().ToString();
    server_ = &running_->server();
  }
  // The server stops before what it serves goes away.
  void TearDown() override { running_.reset(); }

  GatedSource source_;
  serving::Deployments deployments_{&source_};
  TaskQueue background_;
  ServerState state_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<testing::RunningServer> running_;
  HttpServer* server_ = nullptr;
};

TEST_F(RouterTest, ADeploymentLoadingDoesNotHoldItsIoThread) {
  Start(/*threads=*/1);  // every connection on the one I/O thread
  std::string posted;
  std::thread deployer([&] {
    Client client(server_->port());
    auto response = client.Send(http::verb::post, "/api/v1/deployments", R"({"model":"m@2"})");
    posted = std::to_string(response.result_int()) + " " + response.body();
  });
  source_.WaitUntilLoading();
  // m@2 is loading: the I/O thread still answers, and m@1 still serves.
  Client other(server_->port());
  EXPECT_EQ(other.Send(http::verb::get, "/v2/health/live").result_int(), 200);
  auto infer = other.Send(http::verb::post, "/v2/models/m/infer",
                          R"({"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}]})");
  EXPECT_EQ(infer.result_int(), 200) << infer.body();
  EXPECT_NE(infer.body().find("\"model_version\":\"1\""), std::string::npos) << infer.body();
  source_.Release();
  deployer.join();
  EXPECT_EQ(posted.substr(0, 4), "200 ");
  EXPECT_NE(posted.find("\"id\":\"m@2\""), std::string::npos) << posted;
  infer = other.Send(http::verb::post, "/v2/models/m/infer",
                     R"({"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}]})");
  EXPECT_NE(infer.body().find("\"model_version\":\"2\""), std::string::npos) << infer.body();
}

TEST_F(RouterTest, AFailedDeploymentAnswersItsErrorFromTheBackground) {
  Start(/*threads=*/2);
  Client client(server_->port());
  auto response = client.Send(http::verb::post, "/api/v1/deployments", R"({"model":"m@9"})");
  EXPECT_EQ(response.result_int(), 404);
  EXPECT_EQ(response.body(), R"({"error":"unknown model ID 'm@9'"})");
  // The connection is kept and what served still serves.
  EXPECT_NE(client.Send(http::verb::get, "/api/v1/deployments").body().find("\"id\":\"m@1\""), std::string::npos);
}

}  // namespace
}  // namespace keel::server
