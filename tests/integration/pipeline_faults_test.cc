// Pipelines when things go wrong: a failing stage, stages running side by
// side, `keel run` killed or interrupted mid-stage, a stage that does not
// write its out. Stages synchronise through files they wait for, never
// through sleeps of a guessed length.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

struct StageReport {
  std::string action;
  Strings reasons;
  std::optional<int> exit_code;
};

// `keel --json run` output by stage name.
std::map<std::string, StageReport> ParseRun(const nlohmann::json& j) {
  std::map<std::string, StageReport> out;
  if (!j.is_object() || !j.contains("stages") || !j["stages"].is_array()) {
    ADD_FAILURE() << "no \"stages\" array in " << j.dump();
    return out;
  }
  for (const nlohmann::json& s : j["stages"]) {
    if (!s.is_object() || !s.value("name", nlohmann::json()).is_string() ||
        !s.value("action", nlohmann::json()).is_string() || !s.value("reasons", nlohmann::json()).is_array()) {
      ADD_FAILURE() << "malformed stage " << s.dump();
      continue;
    }
    StageReport r;
    r.action = s["action"].get<std::string>();
    for (const nlohmann::json& reason : s["reasons"]) {
      r.reasons.push_back(reason.is_string() ? reason.get<std::string>() : "not a string: " + reason.dump());
    }
    if (s.contains("exit_code")) r.exit_code = s["exit_code"].get<int>();
    out[s["name"].get<std::string>()] = r;
  }
  return out;
}

std::map<std::string, std::string> Actions(const std::map<std::string, StageReport>& run) {
  std::map<std::string, std::string> out;
  for (const auto& [name, s] : run) out[name] = s.action;
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// STAGE's entry in keel.lock ("  NAME:" and everything indented under it),
// or "" when there is none.
std::string LockEntry(const std::string& lock, const std::string& stage) {
  size_t start = lock.find("\n  " + stage + ":\n");
  if (start == std::string::npos) return "";
  std::istringstream in(lock.substr(start + 1));
  std::string line;
  std::getline(in, line);
  std::string entry = line + "\n";
  while (std::getline(in, line)) {
    size_t indent = line.find_first_not_of(' ');
    if (indent != std::string::npos && indent <= 2) break;
    entry += line + "\n";
  }
  return entry;
}

// A shell loop that waits until CONDITION holds, giving up (exit 97) after
// about 20 s so that a broken keel fails the test instead of hanging it.
std::string WaitUntil(const std::string& condition) {
  return "i=0\nuntil " + condition + "; do\n  i=$((i+1))\n  if [ \"$i\" -gt 400 ]; then exit 97; fi\n  sleep 0.05\ndone\n";
}

// Writes this shell's pid to FILE atomically (a reader never sees it empty).
std::string WritePid(const std::string& file) { return "echo $$ > " + file + ".tmp\nmv " + file + ".tmp " + file + "\n"; }

class PipelineFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(RunProgram(dir_.path(), {"git", "init", "-q"}).exit_code, 0);
    RunResult r = RunKeel(dir_.path(), {"init"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // `keel --json run ARGS`; the JSON is printed whatever the exit code.
  std::map<std::string, StageReport> Run(const Strings& extra, int want_exit, RunResult* result = nullptr) {
    Strings args = {"--json", "run"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = RunKeel(dir_.path(), args);
    EXPECT_EQ(r.exit_code, want_exit) << r.err;
    if (result != nullptr) *result = r;
    try {
      return ParseRun(nlohmann::json::parse(r.out));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
      return {};
    }
  }
  void ExpectAllUpToDate() {
    RunResult r = RunKeel(dir_.path(), {"--json", "status"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("stages") && j["stages"].is_array()) << r.out;
    EXPECT_FALSE(j["stages"].empty());
    for (const nlohmann::json& s : j["stages"]) {
      EXPECT_EQ(s.value("state", ""), "up to date") << s.dump();
    }
  }

  void Write(const std::string& rel, const std::string& data) {
    std::error_code ec;
    fs::remove(dir_ / rel, ec);  // an out may be a read-only hardlink into the store
    WriteFile(dir_ / rel, data);
  }
  std::string Read(const std::string& rel) { return ReadFile(dir_ / rel); }
  bool Exists(const std::string& rel) { return PathExists(dir_ / rel); }
  std::string Lock() { return Exists("keel.lock") ? Read("keel.lock") : ""; }

  // Polls for `rel` while `keel` runs; false (and the test failed) when keel
  // ended first or 20 s passed.
  bool WaitForFileWhileRunning(const std::string& rel, pid_t keel) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Exists(rel)) return true;
      int status = 0;
      if (::waitpid(keel, &status, WNOHANG) == keel) {
        ADD_FAILURE() << "keel ended (status " << status << ") before " << rel << " appeared";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << rel << " did not appear within 20 s";
    ::kill(keel, SIGKILL);
    WaitFor(keel);
    return false;
  }
  pid_t ReadPid(const std::string& rel) { return static_cast<pid_t>(std::stol(Read(rel))); }

  // `first` writes first.txt; `second` needs it, writes its pid to
  // second.pid, then waits for the file `go` before writing second.txt.
  void WriteBlockingPipeline() {
    Write("keel.yaml", R"(stages:
  first:
    cmd: echo first > first.txt
    outs: [first.txt]
  second:
    cmd: exec sh second.sh
    deps: [first.txt, second.sh]
    outs: [second.txt]
)");
    Write("second.sh", WritePid("second.pid") + WaitUntil("[ -f go ]") + "cat first.txt > second.txt\n");
  }

  // After `keel run` was stopped while `second` waited: first recorded,
  // second not; the next run skips first, runs second and records both.
  void ExpectInterruptedSecondAndRecover() {
    std::string lock = Lock();
    EXPECT_TRUE(Contains(LockEntry(lock, "first"), "path: first.txt")) << lock;
    EXPECT_EQ(LockEntry(lock, "second"), "") << lock;

    Write("go", "");
    auto run = Run({}, 0);
    EXPECT_EQ(Actions(run), (std::map<std::string, std::string>{{"first", "skipped"}, {"second", "ran"}}));
    EXPECT_EQ(run["second"].reasons, Strings{"never run"});
    EXPECT_EQ(Read("second.txt"), "first\n");
    EXPECT_NE(LockEntry(Lock(), "second"), "") << Lock();
    ExpectAllUpToDate();
  }

  // Starts `keel run`, waits until `second` is running, sends `sig`; returns
  // keel's exit code and the pid of second's shell, or -1 when it never ran.
  // Signals keel while the second stage runs: keel must exit with 128 +
  // signal having waited for the stage it ended (gone, not a zombie), with
  // keel.lock recording the first stage and not the second.
  void ExpectSignalEndsRun(int sig, int exit_expected) {
    WriteBlockingPipeline();
    auto [exit_code, stage] = RunAndSignalDuringSecond(sig);
    ASSERT_GT(stage, 1);
    EXPECT_EQ(exit_code, exit_expected);
    int alive = ::kill(stage, 0);
    int error = errno;
    EXPECT_EQ(alive, -1);
    EXPECT_EQ(error, ESRCH);
    EXPECT_FALSE(Exists("second.txt"));
    ExpectInterruptedSecondAndRecover();
  }

  std::pair<int, pid_t> RunAndSignalDuringSecond(int sig) {
    pid_t keel = StartKeel(dir_.path(), {"run"});
    if (!WaitForFileWhileRunning("second.pid", keel)) return {-1, -1};
    pid_t stage = ReadPid("second.pid");
    ::kill(keel, sig);
    return {WaitFor(keel), stage};
  }

  TempDir dir_;
};

TEST_F(PipelineFaultsTest, FailingStageStopsItsDownstreamOnlyAndKeepsItsLockEntry) {
  Write("keel.yaml", R"(stages:
  b:
    cmd: echo b > b.txt
    outs: [b.txt]
  c:
    cmd: echo c > c.txt
    outs: [c.txt]
  d:
    cmd: cat b.txt > d.txt
    deps: [b.txt]
    outs: [d.txt]
)");
  Run({}, 0);
  std::string lock = Lock();
  std::string b_before = LockEntry(lock, "b");
  std::string d_before = LockEntry(lock, "d");
  ASSERT_NE(b_before, "") << lock;
  ASSERT_NE(d_before, "") << lock;

  // b fails with status 3 once c has started; c goes on only once keel has
  // reaped b, so c is still running when keel learns that b failed.
  Write("b.sh", WritePid("b.pid") + WaitUntil("[ -f c.started ]") + "exit 3\n");
  Write("c.sh", "touch c.started\n" + WaitUntil("[ -f b.pid ]") + WaitUntil("! kill -0 \"$(cat b.pid)\" 2>/dev/null") +
                    "echo c2 > c.txt\n");
  Write("keel.yaml", R"(stages:
  b:
    cmd: exec sh b.sh
    outs: [b.txt]
  c:
    cmd: exec sh c.sh
    outs: [c.txt]
  d:
    cmd: cat b.txt > d.txt
    deps: [b.txt]
    outs: [d.txt]
)");
  RunResult r;
  auto run = Run({"-j", "2"}, 8, &r);
  EXPECT_EQ(Actions(run), (std::map<std::string, std::string>{{"b", "failed"}, {"c", "ran"}, {"d", "not_run"}}));
  EXPECT_EQ(run["b"].exit_code, 3);
  EXPECT_FALSE(run["c"].exit_code.has_value());
  EXPECT_FALSE(run["d"].exit_code.has_value());
  EXPECT_TRUE(Contains(r.err, "stage 'b' failed (exit status 3)")) << r.err;
  EXPECT_EQ(Read("c.txt"), "c2\n");
  lock = Lock();
  EXPECT_EQ(LockEntry(lock, "b"), b_before) << lock;
  EXPECT_EQ(LockEntry(lock, "d"), d_before) << lock;
  EXPECT_TRUE(Contains(LockEntry(lock, "c"), "c.sh")) << lock;

  // Fixed, the next run completes what was left.
  Write("keel.yaml", R"(stages:
  b:
    cmd: echo b3 > b.txt
    outs: [b.txt]
  c:
    cmd: exec sh c.sh
    outs: [c.txt]
  d:
    cmd: cat b.txt > d.txt
    deps: [b.txt]
    outs: [d.txt]
)");
  run = Run({"-j", "2"}, 0);
  EXPECT_EQ(Actions(run), (std::map<std::string, std::string>{{"b", "ran"}, {"c", "skipped"}, {"d", "ran"}}));
  EXPECT_EQ(Read("d.txt"), "b3\n");
  ExpectAllUpToDate();
}

TEST_F(PipelineFaultsTest, CommandListStopsAtTheFirstFailingCommand) {
  Write("keel.yaml", R"(stages:
  steps:
    cmd:
      - echo one >> trace.txt
      - exit 4
      - echo three >> trace.txt && echo s > steps.txt
    outs: [steps.txt]
)");
  RunResult r;
  auto run = Run({}, 8, &r);
  EXPECT_EQ(run["steps"].action, "failed");
  EXPECT_EQ(run["steps"].exit_code, 4);
  EXPECT_TRUE(Contains(r.err, "stage 'steps' failed (exit status 4)")) << r.err;
  EXPECT_EQ(Read("trace.txt"), "one\n");
  EXPECT_EQ(LockEntry(Lock(), "steps"), "");
}

TEST_F(PipelineFaultsTest, IndependentStagesOverlapWithTwoJobs) {
  // Each stage finishes only after the other has started: with one job at a
  // time the first would wait in vain.
  for (const auto& [self, other] : std::vector<std::pair<std::string, std::string>>{{"x", "y"}, {"y", "x"}}) {
    Write(self + ".sh", "date +%s%N > start_" + self + ".tmp\nmv start_" + self + ".tmp start_" + self + "\n" +
                            WaitUntil("[ -f start_" + other + " ]") + "date +%s%N > end_" + self + "\necho " +
                            self + " > " + self + ".txt\n");
  }
  Write("keel.yaml", R"(stages:
  x:
    cmd: exec sh x.sh
    outs: [x.txt]
  y:
    cmd: exec sh y.sh
    outs: [y.txt]
)");
  auto run = Run({"-j", "2"}, 0);
  EXPECT_EQ(Actions(run), (std::map<std::string, std::string>{{"x", "ran"}, {"y", "ran"}}));
  auto time = [&](const std::string& rel) { return std::stoll(Read(rel)); };
  int64_t start_x = time("start_x"), end_x = time("end_x"), start_y = time("start_y"), end_y = time("end_y");
  EXPECT_LT(start_x, end_y);
  EXPECT_LT(start_y, end_x);
}

TEST_F(PipelineFaultsTest, SigkillMidStageThenRunAgainCompletes) {
  WriteBlockingPipeline();
  pid_t keel = StartKeel(dir_.path(), {"run"});
  ASSERT_TRUE(WaitForFileWhileRunning("second.pid", keel));
  pid_t stage = ReadPid("second.pid");
  ASSERT_EQ(::kill(keel, SIGKILL), 0);
  EXPECT_EQ(WaitFor(keel), 128 + SIGKILL);
  // Nothing is left to stop the orphaned stage: end it here. Its only
  // children are short `sleep`s that end by themselves.
  ASSERT_GT(stage, 1);
  ::kill(stage, SIGKILL);
  EXPECT_FALSE(Exists("second.txt"));
  ExpectInterruptedSecondAndRecover();
}

TEST_F(PipelineFaultsTest, SigtermMidStageEndsTheStageAndKeepsTheLockConsistent) {
  ExpectSignalEndsRun(SIGTERM, 143);
}

TEST_F(PipelineFaultsTest, SigintMidStageExitsWith130) { ExpectSignalEndsRun(SIGINT, 130); }

TEST_F(PipelineFaultsTest, StageThatDoesNotWriteItsOutFailsAndNoStaleOutSurvives) {
  Write("keel.yaml", R"(stages:
  make:
    cmd: echo v1 > made.txt && echo v1 > extra.txt
    outs: [made.txt, extra.txt]
  folder:
    cmd: mkdir -p outdir && echo old > outdir/old.txt
    outs: [outdir/]
)");
  Run({}, 0);
  std::string make_before = LockEntry(Lock(), "make");
  ASSERT_NE(make_before, "");
  ASSERT_EQ(Read("extra.txt"), "v1\n");

  // The new command writes made.txt only, after looking for the old extra.txt.
  Write("keel.yaml", R"(stages:
  make:
    cmd: if [ -e extra.txt ]; then echo present > saw.txt; else echo absent > saw.txt; fi; echo v2 > made.txt
    outs: [made.txt, extra.txt]
  folder:
    cmd: mkdir -p outdir && echo new > outdir/new.txt
    outs: [outdir/]
)");
  RunResult r;
  auto run = Run({}, 8, &r);
  EXPECT_EQ(Actions(run), (std::map<std::string, std::string>{{"make", "failed"}, {"folder", "ran"}}));
  EXPECT_TRUE(Contains(r.err, "make")) << r.err;
  EXPECT_TRUE(Contains(r.err, "extra.txt")) << r.err;
  EXPECT_EQ(Read("saw.txt"), "absent\n");
  EXPECT_FALSE(Exists("extra.txt"));
  EXPECT_EQ(LockEntry(Lock(), "make"), make_before) << Lock();
  // A folder out is emptied too: only what this run wrote is in it.
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_ / "outdir")) entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, Strings{"new.txt"});
}

TEST_F(PipelineFaultsTest, MetricsMustBeNumbers) {
  Write("evaluate.sh", R"(printf '{"auc": 0.91, "split": {"test": {"rows": 120}}, "verdict": "good"}' > metrics.json
)");
  Write("keel.yaml", R"(stages:
  evaluate:
    cmd: sh evaluate.sh
    metrics: [{metrics.json: {cache: false}}]
)");
  RunResult r;
  auto run = Run({}, 8, &r);
  EXPECT_EQ(Actions(run), (std::map<std::string, std::string>{{"evaluate", "failed"}}));
  EXPECT_TRUE(Contains(r.err, "metrics.json")) << r.err;
  EXPECT_TRUE(Contains(r.err, "'verdict'")) << r.err;
  EXPECT_TRUE(Contains(r.err, "not a number")) << r.err;
  EXPECT_EQ(LockEntry(Lock(), "evaluate"), "") << Lock();

  // Numbers, nested or not, in JSON or YAML, are fine.
  Write("evaluate.sh", R"(printf '{"auc": 0.91, "split": {"test": {"rows": 120}}}' > metrics.json
printf 'loss: 1.5e-3\n' > m.yaml
)");
  Write("keel.yaml", R"(stages:
  evaluate:
    cmd: sh evaluate.sh
    metrics: [{metrics.json: {cache: false}}, m.yaml]
)");
  auto ok = Run({}, 0, &r);
  EXPECT_EQ(Actions(ok), (std::map<std::string, std::string>{{"evaluate", "ran"}})) << r.err;
}

}  // namespace
}  // namespace keel::testing
