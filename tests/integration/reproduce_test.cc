// The census-income example end to end: keel run trains with the built-in
// trainer and registers census@N; keel model reproduce rebuilds a version
// from its commit and data versions alone, bit for bit, and names what
// differs when it cannot.
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

class ReproduceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The example's stages call `keel`, as they would with keel installed.
    std::string bin = fs::path(KEEL_BINARY).parent_path();
    const char* path = std::getenv("PATH");
    ::setenv("PATH", (bin + ":" + (path ? path : "/usr/bin:/bin")).c_str(), 1);
  }

  void SetUp() override {
    fs::copy(SourcePath("examples/census-income"), dir_.path(), fs::copy_options::recursive);
    // Fewer rounds than the example's, for the test's time.
    std::string params = ReadFile(dir_ / "params.yaml");
    params.replace(params.find("num_boost_round: 150"), 20, "num_boost_round: 25");
    WriteFile(dir_ / "params.yaml", params);
    Git({"init", "-q"});
    ASSERT_EQ(Keel({"init"}).exit_code, 0);
    ASSERT_EQ(Keel({"data", "add", "data/adult.csv"}).exit_code, 0);
    Commit("census example");
  }

  RunResult Keel(const Strings& args) { return RunKeel(dir_.path(), args); }
  void Git(const Strings& args) {
    Strings argv = {"git", "-c", "user.name=t", "-c", "user.email=t@localhost"};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunProgram(dir_.path(), argv);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void Commit(const std::string& message) {
    Git({"add", "-A"});
    Git({"commit", "-qm", message});
  }

  TempDir dir_;
};

TEST_F(ReproduceTest, ExampleRegistersAndReproducesBitForBit) {
  RunResult run = Keel({"run"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_TRUE(Contains(run.out, "registered census@1")) << run.out;
  Commit("run 1");
  nlohmann::json show = RunKeelJson(dir_.path(), {"--json", "model", "show", "census@1"});
  EXPECT_EQ(show["flavor"], "xgboost");
  EXPECT_GT(show["metrics"]["auc"].get<double>(), 0.9);

  // A second version from a committed change of params.
  WriteFile(dir_ / "params.yaml", [&] {
    std::string p = ReadFile(dir_ / "params.yaml");
    p.replace(p.find("max_depth: 5"), 12, "max_depth: 4");
    return p;
  }());
  Commit("max_depth 4");
  ASSERT_EQ(Keel({"run"}).exit_code, 0);
  Commit("run 2");

  for (const char* id : {"census@1", "census@2"}) {
    nlohmann::json r = RunKeelJson(dir_.path(), {"--json", "model", "reproduce", id});
    EXPECT_EQ(r["identical"], true) << r.dump(2);
    EXPECT_EQ(r["rebuilt_hash"], r["registered_hash"]);
    EXPECT_EQ(r["rebuilt_digest"], r["digest"]);
    EXPECT_EQ(r["model_file_identical"], true);
    EXPECT_TRUE(r["differences"].empty()) << r.dump(2);
  }
  // Nothing of the rebuild is left behind, and the project is untouched.
  for (const auto& e : fs::directory_iterator(dir_ / ".keel")) {
    EXPECT_FALSE(Contains(e.path().filename().string(), "reproduce")) << e.path();
  }
  EXPECT_TRUE(Contains(ReadFile(dir_ / "params.yaml"), "max_depth: 4"));
}

TEST_F(ReproduceTest, ADirtyRegistrationIsReportedWithWhatDiffers) {
  ASSERT_EQ(Keel({"run"}).exit_code, 0);
  Commit("run 1");
  // Changed but not committed: the version records a dirty tree.
  std::string p = ReadFile(dir_ / "params.yaml");
  p.replace(p.find("max_depth: 5"), 12, "max_depth: 3");
  WriteFile(dir_ / "params.yaml", p);
  ASSERT_EQ(Keel({"run"}).exit_code, 0);
  RunResult r = Keel({"model", "reproduce", "census@2"});
  EXPECT_EQ(r.exit_code, 9) << r.out << r.err;
  EXPECT_TRUE(Contains(r.err, "census@2 was registered from a work tree with uncommitted changes")) << r.err;
  EXPECT_TRUE(Contains(r.out, "census@2 NOT reproduced")) << r.out;
  EXPECT_TRUE(Contains(r.out, "model file model.json: differs")) << r.out;
  EXPECT_TRUE(Contains(r.out, "file metrics.json: differs")) << r.out;
  EXPECT_TRUE(Contains(r.out, "params train.max_depth: registered 3, rebuilt 5")) << r.out;
  EXPECT_TRUE(Contains(r.out, "metrics auc: registered ")) << r.out;
}

TEST_F(ReproduceTest, VersionsWithoutACommitOrUnknownIdsAreClearErrors) {
  RunResult r = Keel({"model", "reproduce", "census@1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(Contains(r.err, "unknown model 'census'")) << r.err;
  TempDir bare;
  ASSERT_EQ(RunKeel(bare.path(), {"init"}).exit_code, 0);
  MakeDirs(bare / "m");
  WriteFile(bare / "m/model.json", "{}");
  ASSERT_EQ(RunKeel(bare.path(), {"model", "register", "m", "--from", "m"}).exit_code, 0);
  r = RunKeel(bare.path(), {"model", "reproduce", "m@1"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_TRUE(Contains(r.err, "m@1 has no git commit")) << r.err;
}

}  // namespace
}  // namespace keel::testing
