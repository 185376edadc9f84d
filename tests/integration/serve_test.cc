// `keel serve` end to end: the real server on 127.0.0.1 with a real HTTP
// client (libcurl) — every V2 endpoint, the errors, predictions equal to
// `keel predict`, swaps and canaries under load, shadows, /metrics,
// timeouts, the connection cap and a graceful SIGTERM.
#include <arpa/inet.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http_client.h"
#include "keel_runner.h"
#include "keel_server.h"

namespace keel::testing {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

constexpr char kInfer[] = "/v2/models/peng/infer";

// The project every test serves from: penguin species (multiclass, peng@1
// and peng@2) and penguin sex (binary, sex@1), trained by keel.
class Project {
 public:
  Project() {
    ok_ = RunProgram(dir_.path(), {"git", "init", "-q"}).exit_code == 0 && RunKeel(dir_.path(), {"init"}).exit_code == 0;
    const std::string csv = ReadFile(SourcePath("tests/data/penguins.csv"));
    WriteFile(dir_ / "penguins.csv", csv);
    WriteFile(dir_ / "sexed.csv", RowsWithSex(csv));
    ok_ = ok_ && Train("peng", {"--target", "species", "--task", "multiclass", "--param", "num_boost_round=8",
                                "--param", "max_depth=2"});
    ok_ = ok_ && Train("peng", {"--target", "species", "--task", "multiclass", "--param", "num_boost_round=20",
                                "--param", "max_depth=4"});
    ok_ = ok_ && Train("peng", {"--target", "species", "--task", "multiclass", "--param", "num_boost_round=5",
                                "--param", "max_depth=1"});
    ok_ = ok_ && TrainOn("sexed.csv", "sex", {"--target", "sex", "--task", "binary", "--param", "num_boost_round=30"});
  }

  bool ok() const { return ok_; }
  const std::string& path() const { return dir_.path(); }

 private:
  // The rows whose sex is known (the target may not be missing).
  static std::string RowsWithSex(const std::string& csv) {
    std::istringstream in(csv);
    std::string line, out;
    while (std::getline(in, line)) {
      std::vector<std::string> fields;
      std::stringstream ss(line);
      std::string f;
      while (std::getline(ss, f, ',')) fields.push_back(f);
      if (fields.size() > 6 && fields[6] == "NA") continue;
      out += line + "\n";
    }
    return out;
  }

  bool Train(const std::string& name, const Strings& args) { return TrainOn("penguins.csv", name, args); }

  bool TrainOn(const std::string& csv, const std::string& name, const Strings& args) {
    const std::string out = "model-" + std::to_string(++trained_);
    Strings argv = {"train", "xgboost", "--train", csv, "--seed", "1", "--out", out};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunKeel(dir_.path(), argv);
    if (r.exit_code != 0) {
      ADD_FAILURE() << r.err;
      return false;
    }
    r = RunKeel(dir_.path(), {"model", "register", name, "--from", out});
    if (r.exit_code != 0) ADD_FAILURE() << r.err;
    return r.exit_code == 0;
  }

  TempDir dir_;
  int trained_ = 0;
  bool ok_ = false;
};

Project* project = nullptr;

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { project = new Project(); }
  static void TearDownTestSuite() {
    delete project;
    project = nullptr;
  }

  void SetUp() override { ASSERT_TRUE(project->ok()); }

  // Starts a server with `args` and waits until it is ready.
  std::unique_ptr<KeelServer> Start(const Strings& args) {
    auto server = std::make_unique<KeelServer>(project->path(), args);
    EXPECT_TRUE(server->ok()) << server->errors();
    EXPECT_TRUE(server->WaitForOutput("keel serve: ready")) << server->output() << server->errors();
    return server;
  }
};

json Parse(const HttpResult& r) {
  try {
    return json::parse(r.body);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON (" << r.status << " " << r.error << "): " << r.body;
    return json::object();
  }
}

// One row of penguin measurements as a [1, 7] matrix: island and sex as
// their category codes.
std::string MatrixBody(const std::string& id = "") {
  std::string body = "{";
  if (!id.empty()) body += "\"id\":\"" + id + "\",";
  return body + R"("inputs":[{"name":"x","shape":[1,7],"datatype":"FP32","data":[0,39.1,18.7,181,3750,0,2007]}]})";
}

// The rows of a CSV as one V2 tensor per column: BYTES for the
// categorical columns, numbers (null for NA) for the others.
std::string ColumnsBody(const std::string& csv, const std::set<std::string>& categorical, const std::string& skip) {
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> names;
  {
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) names.push_back(f);
  }
  std::vector<json> columns(names.size(), json::array());
  size_t rows = 0;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string f;
    for (size_t i = 0; std::getline(ss, f, ','); ++i) {
      if (f == "NA") {
        columns[i].push_back(nullptr);
      } else if (categorical.contains(names[i])) {
        columns[i].push_back(f);
      } else {
        columns[i].push_back(std::stod(f));
      }
    }
    ++rows;
  }
  json inputs = json::array();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == skip) continue;
    inputs.push_back({{"name", names[i]},
                      {"shape", {rows}},
                      {"datatype", categorical.contains(names[i]) ? "BYTES" : "FP64"},
                      {"data", columns[i]}});
  }
  return json{{"id", "all-rows"}, {"inputs", inputs}}.dump();
}

std::vector<std::vector<std::string>> ReadCsvRows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) fields.push_back(f);
    rows.push_back(fields);
  }
  return rows;
}

// A raw TCP connection, for what a well-behaved client never does.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    // A server that never answers fails the test instead of hanging it.
    timeval timeout{.tv_sec = 60, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& data) { ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size())); }
  // Reads until `text` appears or the server closes; what was read.
  std::string ReadUntil(const std::string& text) {
    std::string got;
    char buf[4096];
    while (got.find(text) == std::string::npos) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }
  // Reads until the server closes the connection.
  std::string ReadToClose() { return ReadUntil(std::string(1, '\0') + "never"); }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

TEST_F(ServeTest, EndpointsAnswerTheProtocol) {
  auto server = Start({"--model", "peng@2", "--model", "sex@1"});
  HttpClient http(server->base());
  EXPECT_EQ(http.Get("/v2/health/live").status, 200);
  EXPECT_EQ(http.Get("/v2/health/ready").status, 200);

  HttpResult r = http.Get("/v2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(Parse(r)["name"], "keel");

  json meta = Parse(http.Get("/v2/models/peng"));
  EXPECT_EQ(meta["name"], "peng");
  EXPECT_EQ(meta["versions"], json::array({"2"}));
  EXPECT_EQ(meta["platform"], "xgboost");
  ASSERT_EQ(meta["inputs"].size(), 7u);
  EXPECT_EQ(meta["inputs"][0], json({{"name", "island"}, {"datatype", "BYTES"}, {"shape", {-1}}}));
  EXPECT_EQ(meta["inputs"][1], json({{"name", "bill_length_mm"}, {"datatype", "FP32"}, {"shape", {-1}}}));
  EXPECT_EQ(meta["outputs"][0], json({{"name", "probability"}, {"datatype", "FP32"}, {"shape", {-1, 3}}}));
  EXPECT_EQ(meta["outputs"][1], json({{"name", "prediction"}, {"datatype", "BYTES"}, {"shape", {-1}}}));
  EXPECT_EQ(Parse(http.Get("/v2/models/peng/versions/2"))["versions"], json::array({"2"}));
  EXPECT_EQ(http.Get("/v2/models/peng/ready").status, 200);
  EXPECT_EQ(http.Get("/v2/models/peng/versions/2/ready").status, 200);
  EXPECT_EQ(Parse(http.Get("/v2/models/sex"))["outputs"][0]["shape"], json::array({-1}));

  r = http.Post(kInfer, MatrixBody("r-1"));
  ASSERT_EQ(r.status, 200) << r.body;
  json out = Parse(r);
  EXPECT_EQ(out["model_name"], "peng");
  EXPECT_EQ(out["model_version"], "2");
  EXPECT_EQ(out["id"], "r-1");
  EXPECT_EQ(out["outputs"][0]["shape"], json::array({1, 3}));
  double sum = 0;
  for (const json& p : out["outputs"][0]["data"]) sum += p.get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(out["outputs"][1]["data"], json::array({"Adelie"}));
  EXPECT_EQ(Parse(http.Post("/v2/models/peng/versions/2/infer", MatrixBody()))["model_version"], "2");

  json deployments = Parse(http.Get("/api/v1/deployments"));
  EXPECT_EQ(deployments["ready"], true);
  ASSERT_EQ(deployments["deployments"].size(), 2u);
  EXPECT_EQ(deployments["deployments"][0]["model"]["id"], "peng@2");
  EXPECT_EQ(deployments["deployments"][0]["model"]["runtime"], "keel-trees");
  EXPECT_EQ(deployments["deployments"][1]["model"]["id"], "sex@1");

  // Keep-alive: HTTP/1.1 by default, and HTTP/1.0 when asked (ApacheBench -k).
  EXPECT_EQ(http.Get("/v2/health/live").new_connections, 0);
  HttpClient http10(server->base());
  http10.UseHttp10KeepAlive();
  r = http10.Post(kInfer, MatrixBody());
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Connection: keep-alive\r\n"), std::string::npos) << r.headers;
  EXPECT_EQ(r.new_connections, 1);
  r = http10.Post(kInfer, MatrixBody());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.new_connections, 0) << "the HTTP/1.0 connection was not kept";
}

TEST_F(ServeTest, PredictionsEqualKeelPredict) {
  auto server = Start({"--model", "peng@2", "--model", "sex@1"});
  HttpClient http(server->base());
  const std::string csv = ReadFile(project->path() + "/penguins.csv");
  for (const auto& [model, target] : {std::pair{std::string("peng"), std::string("species")},
                                      std::pair{std::string("sex"), std::string("sex")}}) {
    SCOPED_TRACE(model);
    RunResult predicted = RunKeel(project->path(), {"predict", model + (model == "peng" ? "@2" : "@1"), "--input", "penguins.csv", "--out",
                                                    model + "-pred.csv"});
    ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
    std::vector<std::vector<std::string>> expected = ReadCsvRows(ReadFile(project->path() + "/" + model + "-pred.csv"));
    std::set<std::string> categorical = {"island", "sex", "species"};
    HttpResult r = http.Post("/v2/models/" + model + "/infer", ColumnsBody(csv, categorical, target));
    ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
    json out = Parse(r);
    const json& probability = out["outputs"][0]["data"];
    const json& prediction = out["outputs"][1]["data"];
    const size_t width = expected[0].size() - 1;  // probability columns, then the prediction
    ASSERT_EQ(prediction.size(), expected.size() - 1);
    ASSERT_EQ(probability.size(), prediction.size() * width);
    for (size_t row = 1; row < expected.size(); ++row) {
      for (size_t k = 0; k < width; ++k) {
        EXPECT_NEAR(probability[(row - 1) * width + k].get<double>(), std::stod(expected[row][k]), 1e-6) << row;
      }
      EXPECT_EQ(prediction[row - 1], expected[row][width]) << row;
    }
  }
}

TEST_F(ServeTest, ErrorsHaveTheirStatusAndAMessage) {
  auto server = Start({"--model", "peng@2", "--max-body", "4096"});
  HttpClient http(server->base());
  auto expect = [&](HttpResult r, long status, const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    json body = Parse(r);
    ASSERT_TRUE(body.contains("error")) << r.body;
    EXPECT_NE(body["error"].get<std::string>().find(message), std::string::npos) << body["error"];
  };
  expect(http.Post(kInfer, "{\"inputs\": [1,"), 400, "malformed JSON");
  expect(http.Post(kInfer, R"({"inputs":[{"name":"x","shape":[1,6],"datatype":"FP32","data":[1,2,3,4,5,6]}]})"), 400,
         "input 'x': shape [1,6] has 6 features; the model takes 7");
  expect(http.Post(kInfer, R"({"inputs":[{"name":"x","shape":[2,7],"datatype":"FP32","data":[1,2,3]}]})"), 400,
         "inputs[0] 'x': shape [2,7] holds 14 elements but data has 3");
  expect(http.Post(kInfer, R"({"inputs":[{"name":"x","shape":[1,7],"datatype":"FP128","data":[1,2,3,4,5,6,7]}]})"),
         400, "unknown datatype 'FP128'");
  expect(http.Post(kInfer, R"({"inputs":[{"name":"x","shape":[7],"datatype":"FP32","data":[1,2,3,4,5,6,7]}]})"), 400,
         "input 'x': shape [7] is not [N, 7]");
  expect(http.Post("/v2/models/nope/infer", MatrixBody()), 404, "model 'nope' is not served");
  expect(http.Post("/v2/models/peng/versions/1/infer", MatrixBody()), 404, "version '1' of model 'peng' is not served");
  expect(http.Get("/v2/models/nope"), 404, "model 'nope' is not served");
  expect(http.Get("/v2/nothing"), 404, "no such endpoint: /v2/nothing");
  expect(http.Get(kInfer), 405, "method GET is not allowed");
  EXPECT_NE(http.Get(kInfer).headers.find("Allow: POST\r\n"), std::string::npos);
  HttpResult deleted = http.Request("DELETE", "/api/v1/deployments");
  EXPECT_EQ(deleted.status, 405);
  EXPECT_NE(deleted.headers.find("Allow: GET, POST\r\n"), std::string::npos) << deleted.headers;
  EXPECT_EQ(http.Get("/v2/health/live").headers.find("Allow:"), std::string::npos);  // not left from the 405
  expect(http.Post(kInfer, std::string(5000, ' ')), 413, "request body of 5000 bytes is over the limit of 4096 bytes (--max-body)");
  // The server is still serving after every error.
  EXPECT_EQ(http.Post(kInfer, MatrixBody()).status, 200);
  expect(http.Post("/api/v1/deployments", R"({"model":"peng@9"})"), 404, "model 'peng' has no version 9");
  expect(http.Post("/api/v1/deployments", R"({"model":"peng@1","canary":{"model":"sex@1","percent":5}})"), 400,
         "canary sex@1 is not a version of peng");
  expect(http.Post("/api/v1/deployments", R"({"modle":"peng@1"})"), 400, "unknown field 'modle'");
  EXPECT_EQ(Parse(http.Get("/api/v1/deployments"))["deployments"][0]["model"]["id"], "peng@2");
}

TEST_F(ServeTest, SwapsUnderLoadLoseNoRequest) {
  auto server = Start({"--model", "peng@1"});
  constexpr int kClients = 4;
  constexpr int kPerClient = 2500;
  std::atomic<int> errors{0};
  std::atomic<int> done{0};
  std::map<std::string, int> versions[kClients];
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient http(server->base());
      for (int i = 0; i < kPerClient; ++i) {
        HttpResult r = http.Post(kInfer, MatrixBody());
        if (r.status != 200) {
          if (errors.fetch_add(1) < 5) ADD_FAILURE() << r.status << " " << r.error << " " << r.body;
        } else {
          ++versions[c][json::parse(r.body)["model_version"].get<std::string>()];
        }
        done.fetch_add(1);
      }
    });
  }
  HttpClient admin(server->base());
  for (int swap = 0; swap < 5; ++swap) {
    // Each swap happens once the clients are a further sixth of the way in.
    while (done.load() < (swap + 1) * kClients * kPerClient / 6) std::this_thread::yield();
    HttpResult r = admin.Post("/api/v1/deployments", swap % 2 == 0 ? R"({"model":"peng@2"})" : R"({"model":"peng@1"})");
    EXPECT_EQ(r.status, 200) << r.body;
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::map<std::string, int> total;
  for (auto& v : versions) {
    for (auto& [version, count] : v) total[version] += count;
  }
  EXPECT_EQ(total["1"] + total["2"], kClients * kPerClient);
  EXPECT_GT(total["2"], 0);
  EXPECT_EQ(Parse(admin.Get("/api/v1/deployments"))["deployments"][0]["model"]["id"], "peng@2");
}

TEST_F(ServeTest, CanaryTakesItsShareAndShadowOnlyListens) {
  auto server = Start({"--model", "peng@1"});
  HttpClient http(server->base());
  HttpResult r = http.Post("/api/v1/deployments",
                           R"({"model":"peng@1","canary":{"model":"peng@2","percent":10},"shadow":"peng@3"})");
  ASSERT_EQ(r.status, 200) << r.body;
  int canary = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string version = Parse(http.Post(kInfer, MatrixBody()))["model_version"];
    ASSERT_TRUE(version == "1" || version == "2") << version;
    canary += version == "2";
  }
  EXPECT_NEAR(canary / 100.0, 10.0, 3.0);
  // A request id always takes the same way.
  for (int i = 0; i < 50; ++i) {
    const std::string id = "order-" + std::to_string(i);
    const json first = Parse(http.Post(kInfer, MatrixBody(id)))["model_version"];
    for (int j = 0; j < 3; ++j) EXPECT_EQ(Parse(http.Post(kInfer, MatrixBody(id)))["model_version"], first);
  }
  const std::string metrics = http.Get("/metrics").body;
  EXPECT_NE(metrics.find("keel_shadow_requests_total{model=\"peng\",version=\"3\"} 10200"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("keel_model_info{model=\"peng\",version=\"3\",role=\"shadow\",runtime=\"keel-trees\"} 1"),
            std::string::npos);
}

TEST_F(ServeTest, BatchingMergesConcurrentRequestsIntoOnePredictCall) {
  auto server = Start({"--model", "peng@2", "--max-batch-size", "16", "--max-batch-delay-us", "50000"});
  HttpClient http(server->base());
  const json expected = Parse(http.Post(kInfer, MatrixBody()))["outputs"];
  constexpr int kClients = 8;
  constexpr int kPerClient = 25;
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(server->base());
      for (int i = 0; i < kPerClient; ++i) {
        const std::string id = std::to_string(c) + "-" + std::to_string(i);
        HttpResult r = client.Post(kInfer, MatrixBody(id));
        const json out = r.status == 200 ? json::parse(r.body) : json::object();
        if (r.status != 200 || out["outputs"] != expected || out["id"] != id) {
          if (wrong.fetch_add(1) < 3) ADD_FAILURE() << r.status << " " << r.body;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const std::string m = http.Get("/metrics").body;
  // Every row went through a batch, in fewer predict calls than requests.
  EXPECT_NE(m.find("keel_inference_batch_size_sum{model=\"peng\",version=\"2\"} 201\n"), std::string::npos) << m;
  const std::string count = "keel_inference_batch_size_count{model=\"peng\",version=\"2\"} ";
  const size_t at = m.find(count);
  ASSERT_NE(at, std::string::npos);
  EXPECT_LT(std::stoi(m.substr(at + count.size())), 1 + kClients * kPerClient);
  EXPECT_NE(m.find("keel_inference_requests_total{model=\"peng\",version=\"2\",code=\"200\"} 201\n"),
            std::string::npos);

  RunResult bad = RunKeel(project->path(), {"serve", "--model", "peng@2", "--max-batch-delay-us", "100"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--max-batch-delay-us needs --max-batch-size"), std::string::npos) << bad.err;
}

// A shadowed route batches as any other: the primary answers from its
// batches, and each request's copy goes through the shadow's own batcher
// after the answer, its disagreements counted.
TEST_F(ServeTest, AShadowedRouteStillBatches) {
  auto server = Start({"--model", "peng@1", "--max-batch-size", "16", "--max-batch-delay-us", "20000"});
  HttpClient http(server->base());
  // A row the two versions class differently: the shadow (5 stumps) and
  // the primary each class a grid of penguins.
  std::vector<std::string> rows;
  for (int island = 0; island < 3; ++island) {
    for (const char* bill : {"36,19", "42,18", "46,17", "49,16", "52,15"}) {
      for (const char* flipper : {"185", "200", "215"}) {
        rows.push_back(std::to_string(island) + "," + bill + "," + flipper + ",4000,0,2008");
      }
    }
  }
  std::string grid;
  for (const std::string& row : rows) grid += (grid.empty() ? "" : ",") + row;
  const std::string grid_body = R"({"inputs":[{"name":"x","shape":[)" + std::to_string(rows.size()) +
                                R"(,7],"datatype":"FP32","data":[)" + grid + "]}]}";
  auto classes = [&](const std::string& model) {
    EXPECT_EQ(http.Post("/api/v1/deployments", R"({"model":")" + model + R"("})").status, 200);
    return Parse(http.Post(kInfer, grid_body))["outputs"][1]["data"];
  };
  const json shadow_classes = classes("peng@3");
  const json primary_classes = classes("peng@1");
  size_t differ = 0;
  while (differ < rows.size() && shadow_classes[differ] == primary_classes[differ]) ++differ;
  ASSERT_LT(differ, rows.size()) << "no row the versions class differently";
  const std::string body =
      R"({"inputs":[{"name":"x","shape":[1,7],"datatype":"FP32","data":[)" + rows[differ] + "]}]}";

  ASSERT_EQ(http.Post("/api/v1/deployments", R"({"model":"peng@1","shadow":"peng@3"})").status, 200);
  constexpr int kClients = 8;
  constexpr int kPerClient = 25;
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      HttpClient client(server->base());
      for (int i = 0; i < kPerClient; ++i) {
        HttpResult r = client.Post(kInfer, body);
        const json out = r.status == 200 ? Parse(r) : json::object();
        if (out["model_version"] != "1" || out["outputs"][1]["data"][0] != primary_classes[differ]) {
          failed.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  constexpr int kShadowed = kClients * kPerClient;
  // The copies run after the answers: wait until every one was compared
  // (the shadow was loaded afresh, so its counters start from zero).
  std::string m;
  auto value = [&](const std::string& series) {
    const size_t at = m.find(series + " ");
    return at == std::string::npos ? -1 : std::stoi(m.substr(at + series.size() + 1));
  };
  const std::string disagreements = "keel_shadow_disagreements_total{model=\"peng\",version=\"3\"}";
  for (auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       value(disagreements) < kShadowed && std::chrono::steady_clock::now() < limit;
       std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
    m = http.Get("/metrics").body;
  }
  EXPECT_EQ(value(disagreements), kShadowed) << m;
  EXPECT_EQ(value("keel_shadow_requests_total{model=\"peng\",version=\"3\"}"), kShadowed);
  EXPECT_EQ(value("keel_shadow_errors_total{model=\"peng\",version=\"3\"}"), 0);
  // Both versions predicted in batches: the shadow's took every copied
  // row, and the primary made fewer predict calls than requests.
  EXPECT_EQ(value("keel_inference_batch_size_sum{model=\"peng\",version=\"3\"}"), kShadowed);
  EXPECT_LT(value("keel_inference_batch_size_count{model=\"peng\",version=\"1\"}"), kShadowed);
}

TEST_F(ServeTest, MetricsCountRequestsByVersionAndStatus) {
  auto server = Start({"--model", "peng@2", "--max-body", "4096"});
  HttpClient http(server->base());
  // Refused from their headers (each closing its connection): counted
  // against the version asked for, the route's primary, or as unrouted.
  ASSERT_EQ(http.Post(kInfer, std::string(5000, ' ')).status, 413);
  ASSERT_EQ(http.Post("/v2/models/peng/versions/2/infer", std::string(5000, ' ')).status, 413);
  ASSERT_EQ(http.Post("/v2/models/nope/infer", std::string(5000, ' ')).status, 413);
  for (int i = 0; i < 7; ++i) ASSERT_EQ(http.Post(kInfer, MatrixBody()).status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http.Post(kInfer, "{").status, 400);
  HttpResult r = http.Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& m = r.body;
  auto has = [&](const std::string& line) { EXPECT_NE(m.find(line + "\n"), std::string::npos) << line << "\n" << m; };
  has("# TYPE keel_inference_requests_total counter");
  has("keel_inference_requests_total{model=\"peng\",version=\"2\",code=\"200\"} 7");
  has("keel_inference_requests_total{model=\"peng\",version=\"2\",code=\"400\"} 3");
  has("keel_inference_requests_total{model=\"peng\",version=\"2\",code=\"413\"} 2");
  has("keel_unrouted_requests_total 1");
  has("# TYPE keel_inference_request_duration_seconds histogram");
  has("keel_inference_request_duration_seconds_bucket{model=\"peng\",version=\"2\",le=\"+Inf\"} 10");
  has("keel_inference_request_duration_seconds_count{model=\"peng\",version=\"2\"} 10");
  has("keel_inference_batch_size_bucket{model=\"peng\",version=\"2\",le=\"1\"} 7");
  has("keel_inference_requests_in_flight 0");
  has("keel_http_connections_open 1");
}

TEST_F(ServeTest, AccessLogSamplesRequests) {
  {
    auto server = Start({"--model", "peng@2", "--access-log", "all.log", "--max-body", "4096"});
    HttpClient http(server->base());
    ASSERT_EQ(http.Post(kInfer, MatrixBody()).status, 200);
    ASSERT_EQ(http.Get("/v2/models/nope").status, 404);
    ASSERT_EQ(http.Post(kInfer, std::string(5000, ' ')).status, 413);  // refused from its header
    server->Signal(SIGTERM);
    ASSERT_EQ(server->Wait(), 0);
  }
  std::istringstream all(ReadFile(project->path() + "/all.log"));
  std::string line;
  ASSERT_TRUE(std::getline(all, line));
  EXPECT_NE(line.find("Z POST /v2/models/peng/infer 200 "), std::string::npos) << line;
  ASSERT_TRUE(std::getline(all, line));
  EXPECT_NE(line.find("Z GET /v2/models/nope 404 "), std::string::npos) << line;
  ASSERT_TRUE(std::getline(all, line));
  EXPECT_NE(line.find("Z POST /v2/models/peng/infer 413 0us "), std::string::npos) << line;
  EXPECT_FALSE(std::getline(all, line));

  {
    auto server = Start({"--model", "peng@2", "--access-log", "sampled.log", "--access-log-sample", "0.1"});
    HttpClient http(server->base());
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(http.Get("/v2/health/live").status, 200);
    server->Signal(SIGTERM);
    ASSERT_EQ(server->Wait(), 0);
  }
  const std::string sampled = ReadFile(project->path() + "/sampled.log");
  const auto lines = std::count(sampled.begin(), sampled.end(), '\n');
  EXPECT_GT(lines, 100);  // 200 expected; binomial sd ~13
  EXPECT_LT(lines, 300);
  RunResult bad = RunKeel(project->path(), {"serve", "--model", "peng@2", "--access-log", "x.log",
                                            "--access-log-sample", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--access-log-sample 0.000000 is not in (0, 1]"), std::string::npos) << bad.err;
}

TEST_F(ServeTest, StalledClientsTimeOutAndConnectionsAreCapped) {
  auto server = Start({"--model", "peng@2", "--header-timeout", "0.2", "--body-timeout", "0.2", "--max-connections", "2"});
  {
    RawConnection stalled(server->port());
    ASSERT_TRUE(stalled.connected());
    stalled.Send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n");  // the header never ends
    EXPECT_EQ(stalled.ReadToClose(), "");
  }
  {
    RawConnection stalled(server->port());
    stalled.Send("POST /v2/models/peng/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp");
    EXPECT_EQ(stalled.ReadToClose(), "");
  }
  RawConnection first(server->port());
  first.Send("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(first.ReadUntil("\"live\":true").find("200 OK"), std::string::npos);
  HttpClient second(server->base());
  EXPECT_EQ(second.Get("/v2/health/live").status, 200);
  // Both connections stay open (keep-alive): a third is refused.
  HttpClient third(server->base());
  HttpResult r = third.Get("/v2/health/live");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Parse(r)["error"], "too many open connections");
}

// One I/O thread per core the server may run on: a server confined to one
// core (taskset, a container's cpuset) does not run two threads that take
// turns on it. The child inherits the affinity of the thread that starts it.
TEST_F(ServeTest, IoThreadsFollowTheCoresItMayRunOn) {
  cpu_set_t all;
  CPU_ZERO(&all);
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  auto server = Start({"--model", "peng@2"});
  const int cores = CPU_COUNT(&all);
  const std::string threads =
      cores == 1 ? "(1 I/O thread)" : "(" + std::to_string(cores) + " I/O threads)";
  EXPECT_NE(server->output().find(threads), std::string::npos) << server->output();
  auto three = Start({"--model", "peng@2", "--threads", "3"});
  EXPECT_NE(three->output().find("(3 I/O threads)"), std::string::npos) << three->output();
  std::unique_ptr<KeelServer> confined;
  bool refused = false;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    int first = 0;
    while (!CPU_ISSET(first, &all)) ++first;
    CPU_SET(first, &one);
    refused = sched_setaffinity(0, sizeof one, &one) != 0;
    if (!refused) confined = Start({"--model", "peng@2"});
  }).join();
  ASSERT_FALSE(refused) << "sched_setaffinity to one core was refused";
  EXPECT_NE(confined->output().find("(1 I/O thread)"), std::string::npos) << confined->output();
  HttpClient client(confined->base());
  EXPECT_EQ(client.Post("/v2/models/peng/infer", MatrixBody("one")).status, 200);
}

TEST_F(ServeTest, SigtermFinishesTheRequestInFlight) {
  auto server = Start({"--model", "peng@2"});
  const std::string body = MatrixBody("last");
  RawConnection client(server->port());
  client.Send("POST /v2/models/peng/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  // The server has read the header: the request is in flight.
  ASSERT_NE(client.ReadUntil("\r\n\r\n").find("100 Continue"), std::string::npos);
  server->Signal(SIGTERM);
  ASSERT_TRUE(server->WaitForError("SIGTERM")) << server->errors();
  client.Send(body);
  const std::string response = client.ReadToClose();
  EXPECT_NE(response.find("HTTP/1.1 200 OK"), std::string::npos) << response;
  EXPECT_NE(response.find("\"id\":\"last\""), std::string::npos) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  EXPECT_EQ(server->Wait(), 0) << server->errors();
  EXPECT_NE(server->output().find("keel serve: stopped"), std::string::npos);
}

TEST_F(ServeTest, SigtermClosesWhatDoesNotFinishWithinTheDrainTimeout) {
  auto server = Start({"--model", "peng@2", "--drain-timeout", "0.2", "--body-timeout", "600"});
  RawConnection client(server->port());
  client.Send("POST /v2/models/peng/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n");
  ASSERT_NE(client.ReadUntil("\r\n\r\n").find("100 Continue"), std::string::npos);
  server->Signal(SIGTERM);
  // The body never comes: the connection is closed once the drain times out.
  EXPECT_EQ(client.ReadToClose(), "");
  EXPECT_EQ(server->Wait(), 0) << server->errors();
  EXPECT_NE(server->output().find("keel serve: stopped"), std::string::npos);
}

TEST_F(ServeTest, SighupRereadsDeployYaml) {
  const std::string file = project->path() + "/deploy.yaml";
  WriteFile(file, "environments:\n  production:\n    model: peng@1\n  staging:\n    model: peng@3\n");
  auto server = Start({"--deploy", "deploy.yaml", "--env", "production"});
  HttpClient http(server->base());
  EXPECT_EQ(Parse(http.Post(kInfer, MatrixBody()))["model_version"], "1");

  WriteFile(file, "environments:\n  production:\n    model: peng@2\n    canary: {model: peng@1, percent: 100}\n");
  server->Signal(SIGHUP);
  ASSERT_TRUE(server->WaitForOutput("deploy.yaml reloaded")) << server->errors();
  EXPECT_EQ(Parse(http.Post(kInfer, MatrixBody()))["model_version"], "1");  // the canary takes 100%
  EXPECT_EQ(Parse(http.Post("/v2/models/peng/versions/2/infer", MatrixBody()))["model_version"], "2");

  // A broken file changes nothing.
  WriteFile(file, "environments:\n  production:\n    modle: peng@3\n");
  server->Signal(SIGHUP);
  ASSERT_TRUE(server->WaitForError("unknown key 'modle'")) << server->errors();
  EXPECT_NE(server->errors().find("deploy.yaml:3:5"), std::string::npos) << server->errors();
  EXPECT_NE(server->errors().find("still serving what served before"), std::string::npos);
  json deployments = Parse(http.Get("/api/v1/deployments"))["deployments"];
  EXPECT_EQ(deployments[0]["model"]["id"], "peng@2");
  EXPECT_EQ(deployments[0]["canary"]["model"]["id"], "peng@1");
}

TEST_F(ServeTest, StartupErrorsAreClear) {
  KeelServer unknown(project->path(), {"--model", "peng@7"});
  EXPECT_EQ(unknown.Wait(), 3);
  EXPECT_NE(unknown.errors().find("cannot serve peng@7: model 'peng' has no version 7 (versions: 1-3)"),
            std::string::npos)
      << unknown.errors();
  WriteFile(project->path() + "/deploy.yaml", "environments:\n  production:\n    model: peng@1\n");
  RunResult bad_env = RunKeel(project->path(), {"serve", "--deploy", "deploy.yaml", "--env", "prod"});
  EXPECT_EQ(bad_env.exit_code, 3) << bad_env.err;
  EXPECT_NE(bad_env.err.find("deploy.yaml: no environment 'prod' (environments: production)"), std::string::npos)
      << bad_env.err;
  RunResult nothing = RunKeel(project->path(), {"serve"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("nothing to serve"), std::string::npos) << nothing.err;
  KeelServer busy_port(project->path(), {"--model", "peng@1"});
  ASSERT_TRUE(busy_port.ok());
  RunResult r = RunKeel(project->path(), {"serve", "--model", "peng@1", "--port", std::to_string(busy_port.port())});
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_NE(r.err.find("cannot listen on 127.0.0.1:" + std::to_string(busy_port.port())), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keel::testing
