// Tracked runs end to end: what `keel run` records (params, metrics,
// tags, artifacts, inputs, git state, environment), what stages log with
// the Python client or by hand, and `keel runs|metrics|exp` reading it
// back. Stages synchronise with the test through files, never sleeps.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;
using Ids = std::vector<int64_t>;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Strings Lines(const std::string& text) {
  Strings out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string Trim(const std::string& s) {
  size_t start = s.find_first_not_of(' ');
  if (start == std::string::npos) return "";
  return s.substr(start, s.find_last_not_of(' ') - start + 1);
}

// A shell loop that waits until CONDITION holds, giving up (exit 97) after
// about 30 s so that a broken keel fails the test instead of hanging it.
std::string WaitUntil(const std::string& condition) {
  return "i=0\nuntil " + condition + "; do\n  i=$((i+1))\n  if [ \"$i\" -gt 600 ]; then exit 97; fi\n  sleep 0.05\ndone\n";
}

// The `env:` line of a stage whose commands `import keel` from the source tree.
std::string PythonEnv() {
  return std::string("    env: {PYTHONPATH: \"") + KEEL_SOURCE_DIR +
         "/clients/python\", PYTHONDONTWRITEBYTECODE: \"1\"}\n";
}

// (stage, role, path) -> hash, from keel.lock's deps and outs.
using Inputs = std::map<std::tuple<std::string, std::string, std::string>, std::string>;

Inputs LockInputs(const std::string& lock) {
  Inputs out;
  std::string stage, role, path;
  for (const std::string& line : Lines(lock)) {
    size_t indent = line.find_first_not_of(' ');
    if (indent == std::string::npos) continue;
    std::string text = line.substr(indent);
    if (indent == 2 && text.back() == ':') {
      stage = text.substr(0, text.size() - 1);
      role.clear();
    } else if (indent == 4) {
      role = text == "deps:" ? "dep" : text == "outs:" ? "out" : "";
    } else if (!role.empty() && text.rfind("- path: ", 0) == 0) {
      path = text.substr(8);
    } else if (!role.empty() && text.rfind("hash: ", 0) == 0) {
      out[{stage, role, path}] = text.substr(6);
    }
  }
  return out;
}

Inputs RunInputs(const nlohmann::json& run) {
  Inputs out;
  for (const nlohmann::json& i : run.at("inputs")) {
    out[{i.at("stage").get<std::string>(), i.at("role").get<std::string>(), i.at("path").get<std::string>()}] =
        i.at("hash").get<std::string>();
  }
  return out;
}

std::map<std::string, double> MetricValues(const nlohmann::json& run) {
  std::map<std::string, double> out;
  for (const auto& [name, m] : run.at("metrics").items()) out[name] = m.at("value").get<double>();
  return out;
}

std::map<std::string, std::string> StringMap(const nlohmann::json& j) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) out[k] = v.get<std::string>();
  return out;
}

std::map<std::string, std::string> StageActions(const nlohmann::json& run) {
  std::map<std::string, std::string> out;
  for (const nlohmann::json& s : run.at("stages")) out[s.at("name").get<std::string>()] = s.at("action").get<std::string>();
  return out;
}

// True once `pid` (not our child) is gone or a zombie.
bool ProcessEnded(pid_t pid) {
  if (::kill(pid, 0) == -1 && errno == ESRCH) return true;
  std::string stat;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::getline(in, stat);
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

class TrackingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "census";
    MakeDirs(root_);
    ASSERT_EQ(RunProgram(root_, {"git", "init", "-q"}).exit_code, 0);
    RunResult r = RunKeel(root_, {"init"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  RunResult Keel(const Strings& args) { return RunKeel(root_, args); }

  // `keel --json ARGS`, expecting exit code `want_exit`; stdout parsed as JSON.
  nlohmann::json Json(Strings args, int want_exit = 0) {
    args.insert(args.begin(), "--json");
    RunResult r = Keel(args);
    EXPECT_EQ(r.exit_code, want_exit) << "keel --json " << args[1] << ": " << r.err;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
      return nlohmann::json::object();
    }
  }

  // `keel --json run EXTRA...`; returns the run's id (0 when none).
  int64_t Run(const Strings& extra = {}, int want_exit = 0) {
    Strings args = {"run"};
    args.insert(args.end(), extra.begin(), extra.end());
    nlohmann::json j = Json(args, want_exit);
    EXPECT_TRUE(j.contains("run_id")) << j.dump();
    return j.value("run_id", int64_t{0});
  }

  nlohmann::json Show(int64_t id) { return Json({"runs", "show", std::to_string(id)}); }

  // Ids printed by `keel --json runs list EXTRA...`, in order.
  Ids List(const Strings& extra = {}) {
    Strings args = {"runs", "list"};
    args.insert(args.end(), extra.begin(), extra.end());
    nlohmann::json j = Json(args);
    Ids ids;
    if (!j.contains("runs")) return ids;
    for (const nlohmann::json& r : j["runs"]) ids.push_back(r.at("id").get<int64_t>());
    return ids;
  }

  // (step, value) of `keel --json metrics history ID NAME`.
  std::vector<std::pair<int64_t, double>> History(int64_t id, const std::string& name) {
    nlohmann::json j = Json({"metrics", "history", std::to_string(id), name});
    std::vector<std::pair<int64_t, double>> out;
    if (!j.contains("history")) return out;
    EXPECT_EQ(j.value("run", int64_t{0}), id);
    EXPECT_EQ(j.value("metric", ""), name);
    for (const nlohmann::json& p : j["history"]) out.emplace_back(p.at("step").get<int64_t>(), p.at("value").get<double>());
    return out;
  }

  void Write(const std::string& rel, const std::string& data) {
    std::error_code ec;
    fs::remove(Path(rel), ec);  // an out may be a read-only hardlink into the store
    WriteFile(Path(rel), data);
  }
  std::string Read(const std::string& rel) { return ReadFile(Path(rel)); }
  bool Exists(const std::string& rel) { return PathExists(Path(rel)); }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }

  // Polls for `rel` while `keel` runs; false (and the test failed) when keel
  // ended first or 30 s passed.
  bool WaitForFileWhileRunning(const std::string& rel, pid_t keel) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Exists(rel)) return true;
      int status = 0;
      if (::waitpid(keel, &status, WNOHANG) == keel) {
        ADD_FAILURE() << "keel ended (status " << status << ") before " << rel << " appeared";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << rel << " did not appear within 30 s";
    ::kill(keel, SIGKILL);
    WaitFor(keel);
    return false;
  }

  // A one-stage pipeline: `train` writes metrics.json {auc: AUC} and
  // model.txt from train.max_depth; params train.lr, train.max_depth,
  // train.optimizer. An auc of "fail" makes the stage fail.
  void WriteShellTrainPipeline() {
    Write("keel.yaml", R"(stages:
  train:
    cmd: sh train.sh
    deps: [train.sh, auc.txt]
    params: [train]
    outs: [model.txt]
    metrics: [metrics.json]
)");
    Write("train.sh",
          "auc=$(cat auc.txt)\n"
          "if [ \"$auc\" = fail ]; then echo failing >&2; exit 1; fi\n"
          "grep max_depth params.yaml > model.txt\n"
          "printf '{\"auc\": %s}\\n' \"$auc\" > metrics.json\n"
          "echo \"trained, auc $auc\"\n");
  }
  void SetTrain(const std::string& lr, const std::string& depth, const std::string& optimizer,
                const std::string& auc) {
    Write("params.yaml", "train:\n  lr: " + lr + "\n  max_depth: " + depth + "\n  optimizer: " + optimizer + "\n");
    Write("auc.txt", auc + "\n");
  }

  TempDir dir_;
  std::string root_;
};

constexpr const char* kTrainPy = R"(import json
import keel

keel.log_params({"optimizer": "adam"})
for i in range(20):
    keel.log_metric("loss", 1.0 / (i + 1), step=i)
keel.log_metrics({"acc": 0.5, "f1": 0.25}, step=3)
keel.set_tag("team", "census")
with open("model.bin", "wb") as f:
    f.write(b"weights 0.1 0.2 0.3\n")
keel.log_artifact("model.bin")
with open("metrics.json", "w") as f:
    json.dump({"auc": 0.875}, f)
with open("prepared.csv") as f:
    print("trained on", len(f.readlines()), "rows")
)";

TEST_F(TrackingTest, RunRecordsWhatTheStagesLoggedAndUsed) {
  Write("params.yaml", "train:\n  lr: 0.1\n  max_depth: 6\n");
  Write("train.py", kTrainPy);
  Write("keel.yaml", std::string(R"(stages:
  prepare:
    cmd: printf 'a,b\n1,2\n3,4\n' > prepared.csv
    outs: [prepared.csv]
  train:
    cmd: /usr/bin/python3 train.py
    deps: [train.py, prepared.csv]
    params: [train.lr, train.max_depth]
    outs: [model.bin]
    metrics: [metrics.json]
)") + PythonEnv());
  int64_t id = Run();
  ASSERT_GT(id, 0);
  nlohmann::json run = Show(id);

  EXPECT_EQ(run.value("id", int64_t{0}), id);
  EXPECT_EQ(run.value("status", ""), "finished");
  EXPECT_EQ(run.value("experiment", ""), "census");
  EXPECT_TRUE(run["end_time"].is_number()) << run["end_time"];
  EXPECT_GE(run["end_time"].get<int64_t>(), run["start_time"].get<int64_t>());
  EXPECT_EQ(StringMap(run["params"]), (std::map<std::string, std::string>{
                                          {"train.lr", "0.1"}, {"train.max_depth", "6"}, {"optimizer", "adam"}}));

  std::map<std::string, std::pair<double, int64_t>> metrics;
  for (const auto& [name, m] : run["metrics"].items()) {
    metrics[name] = {m.at("value").get<double>(), m.at("step").get<int64_t>()};
  }
  EXPECT_EQ(metrics, (std::map<std::string, std::pair<double, int64_t>>{
                         {"loss", {1.0 / 20, 19}}, {"acc", {0.5, 3}}, {"f1", {0.25, 3}}, {"auc", {0.875, 0}}}));
  EXPECT_EQ(StringMap(run["tags"]), (std::map<std::string, std::string>{{"team", "census"}}));

  ASSERT_EQ(run["artifacts"].size(), 1u) << run["artifacts"];
  const nlohmann::json& artifact = run["artifacts"][0];
  EXPECT_EQ(artifact.value("stage", ""), "train");
  EXPECT_EQ(artifact.value("name", ""), "model.bin");
  EXPECT_EQ(artifact.value("hash", ""), Sha256OfFile(Path("model.bin")));
  EXPECT_EQ(artifact.value("size", uint64_t{0}), std::string("weights 0.1 0.2 0.3\n").size());

  EXPECT_EQ(StageActions(run), (std::map<std::string, std::string>{{"prepare", "ran"}, {"train", "ran"}}));
  for (const nlohmann::json& s : run["stages"]) EXPECT_EQ(s.value("exit_code", -1), 0) << s;

  Inputs lock = LockInputs(Read("keel.lock"));
  ASSERT_EQ(lock.size(), 5u) << Read("keel.lock");  // prepared.csv; train.py, prepared.csv, model.bin, metrics.json
  EXPECT_EQ(RunInputs(run), lock);

  for (const char* key : {"keel", "os", "sqlite", "host"}) {
    ASSERT_TRUE(run["environment"].contains(key)) << key << " missing from " << run["environment"];
    EXPECT_NE(run["environment"][key].get<std::string>(), "") << key;
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(run["environment"]["host"], std::string(host));

  std::vector<std::pair<int64_t, double>> want;
  for (int i = 0; i < 20; ++i) want.emplace_back(i, 1.0 / (i + 1));
  EXPECT_EQ(History(id, "loss"), want);

  RunResult log = Keel({"runs", "log", std::to_string(id), "train"});
  EXPECT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(log.out, "trained on 3 rows\n");
}

TEST_F(TrackingTest, ExperimentNameGroupsRuns) {
  Write("keel.yaml", "stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n");
  int64_t plain = Run();
  int64_t alpha1 = Run({"-e", "alpha"});
  int64_t beta = Run({"--experiment", "beta"});
  int64_t alpha2 = Run({"-e", "alpha"});

  EXPECT_EQ(Show(plain).value("experiment", ""), "census");
  EXPECT_EQ(Show(alpha1).value("experiment", ""), "alpha");
  EXPECT_EQ(Show(beta).value("experiment", ""), "beta");

  nlohmann::json exps = Json({"exp", "list"});
  std::map<std::string, int64_t> counts;
  for (const nlohmann::json& e : exps.at("experiments")) counts[e.at("name").get<std::string>()] = e.at("runs").get<int64_t>();
  EXPECT_EQ(counts, (std::map<std::string, int64_t>{{"census", 1}, {"alpha", 2}, {"beta", 1}}));

  EXPECT_EQ(List({"--experiment", "alpha"}), (Ids{alpha2, alpha1}));
  EXPECT_EQ(List({"-e", "beta", "-e", "census"}), (Ids{beta, plain}));
  EXPECT_EQ(List(), (Ids{alpha2, beta, alpha1, plain}));

  RunResult unknown = Keel({"runs", "list", "--experiment", "alpah"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;
  EXPECT_TRUE(Contains(unknown.err, "did you mean 'alpha'")) << unknown.err;
}

TEST_F(TrackingTest, CompareMarksOnlyTheParamThatChanged) {
  WriteShellTrainPipeline();
  SetTrain("0.1", "6", "adam", "0.9");
  int64_t a = Run();
  SetTrain("0.05", "6", "adam", "0.9");
  int64_t b = Run();

  RunResult text = Keel({"runs", "compare", std::to_string(a), std::to_string(b)});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  std::string section;
  std::set<std::pair<std::string, std::string>> marked;
  std::set<std::string> params_rows;
  for (const std::string& line : Lines(text.out)) {
    std::string t = Trim(line);
    if (!t.empty() && t.back() == ':' && t.find(' ') == std::string::npos) {
      section = t.substr(0, t.size() - 1);
      continue;
    }
    std::istringstream words(t);
    std::string first, key;
    words >> first;
    bool star = first == "*";
    key = star ? "" : first;
    if (star) words >> key;
    if (section == "params") params_rows.insert(key);
    if (star) marked.insert({section, key});
  }
  EXPECT_EQ(params_rows, (std::set<std::string>{"train.lr", "train.max_depth", "train.optimizer"})) << text.out;
  EXPECT_EQ(marked, (std::set<std::pair<std::string, std::string>>{{"params", "train.lr"}})) << text.out;

  nlohmann::json j = Json({"runs", "compare", std::to_string(a), std::to_string(b)});
  EXPECT_EQ(j.at("runs"), (nlohmann::json{a, b}));
  std::vector<std::pair<std::string, std::string>> differs;
  for (const nlohmann::json& row : j.at("rows")) {
    if (row.at("differs").get<bool>()) differs.emplace_back(row.at("section"), row.at("key"));
    if (row.at("section") == "params" && row.at("key") == "train.lr") {
      EXPECT_EQ(row.at("values"), (nlohmann::json{"0.1", "0.05"}));
    }
  }
  EXPECT_EQ(differs, (std::vector<std::pair<std::string, std::string>>{{"params", "train.lr"}})) << j.dump(1);

  nlohmann::json only = Json({"runs", "compare", "-d", std::to_string(a), std::to_string(b)});
  EXPECT_EQ(only.at("rows").size(), 1u) << only.dump(1);
}

TEST_F(TrackingTest, ListFiltersSortsAndLimits) {
  WriteShellTrainPipeline();
  SetTrain("0.1", "6", "adam", "0.95");
  int64_t r1 = Run();
  SetTrain("0.01", "6", "sgd", "0.85");
  int64_t r2 = Run();
  SetTrain("0.05", "8", "adamw", "0.97");
  int64_t r3 = Run();
  SetTrain("1e-3", "6.0", "adagrad", "0.92");
  int64_t r4 = Run();
  SetTrain("0.5", "4", "adam", "fail");
  int64_t r5 = Run({}, 8);
  ASSERT_EQ(Keel({"runs", "tag", std::to_string(r2), "reviewed", "yes"}).exit_code, 0);
  ASSERT_EQ(Keel({"runs", "tag", std::to_string(r3), "reviewed", "yes"}).exit_code, 0);
  ASSERT_EQ(Keel({"runs", "tag", std::to_string(r4), "reviewed", "no"}).exit_code, 0);

  EXPECT_EQ(List(), (Ids{r5, r4, r3, r2, r1}));
  EXPECT_EQ(List({"--where", "metrics.auc > 0.9 and params.train.max_depth = 6"}), (Ids{r4, r1}));
  EXPECT_EQ(List({"--sort", "-metrics.auc"}), (Ids{r3, r1, r4, r2, r5}));
  EXPECT_EQ(List({"--sort", "metrics.auc"}), (Ids{r2, r4, r1, r3, r5}));
  EXPECT_EQ(List({"--sort", "params.train.lr"}), (Ids{r4, r2, r3, r1, r5}));
  EXPECT_EQ(List({"--sort", "-metrics.auc", "--limit", "2"}), (Ids{r3, r1}));
  // The failed run r5 recorded the params it used too.
  EXPECT_EQ(List({"--where", "params.train.optimizer like 'adam%'"}), (Ids{r5, r3, r1}));
  EXPECT_EQ(List({"--where", "params.train.optimizer = 'sgd'"}), (Ids{r2}));
  EXPECT_EQ(List({"--where", "tags.reviewed = 'yes'"}), (Ids{r3, r2}));
  EXPECT_EQ(List({"--where", "tags.reviewed != 'yes'"}), (Ids{r4}));
  EXPECT_EQ(List({"--where", "status = 'failed'"}), (Ids{r5}));
  EXPECT_EQ(List({"--where", "status = 'finished' and metrics.auc < 0.96"}), (Ids{r4, r2, r1}));
  EXPECT_EQ(List({"--where", "metrics.auc > 0.99"}), Ids{});

  struct Bad {
    std::string where;
    Strings messages;
  };
  std::vector<Bad> bad = {
      {"metric.auc > 1", {"unknown field 'metric.auc'", "did you mean 'metrics.auc'"}},
      {"metrics.acu > 1", {"no run has a metric 'acu'", "did you mean 'auc'"}},
      {"metrics.auc == 1", {"unknown operator '=='"}},
      {"metrics.auc > 'high'", {"metrics.auc is a number", "'high' is a string"}},
  };
  for (const Bad& b : bad) {
    RunResult r = Keel({"runs", "list", "--where", b.where});
    EXPECT_EQ(r.exit_code, 2) << b.where << ": " << r.out << r.err;
    for (const std::string& m : b.messages) EXPECT_TRUE(Contains(r.err, m)) << b.where << ": " << r.err;
  }
  RunResult sort = Keel({"runs", "list", "--sort", "-metrics.acu"});
  EXPECT_EQ(sort.exit_code, 2) << sort.out << sort.err;
  EXPECT_TRUE(Contains(sort.err, "--sort")) << sort.err;
  EXPECT_TRUE(Contains(sort.err, "did you mean 'auc'")) << sort.err;
  RunResult field = Keel({"runs", "list", "--sort", "bogus"});
  EXPECT_EQ(field.exit_code, 2) << field.out << field.err;
  EXPECT_TRUE(Contains(field.err, "unknown field 'bogus'")) << field.err;
}

TEST_F(TrackingTest, GitStateTellsCleanRunsAndSameChangesApart) {
  // Nothing the stage reads changes below: every run after the commit skips
  // it and leaves keel.lock as committed.
  Write("keel.yaml", "stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n");
  Write("params.yaml", "train:\n  lr: 0.1\n");
  Run();
  ASSERT_EQ(RunProgram(root_, {"git", "add", "-A"}).exit_code, 0);
  RunResult commit = RunProgram(root_, {"git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c",
                                        "commit.gpgsign=false", "commit", "-q", "-m", "pipeline"});
  ASSERT_EQ(commit.exit_code, 0) << commit.err;
  RunResult head = RunProgram(root_, {"git", "rev-parse", "HEAD"});
  ASSERT_EQ(head.exit_code, 0) << head.err;
  std::string head_commit = Trim(head.out.substr(0, head.out.find('\n')));

  nlohmann::json clean = Show(Run());
  EXPECT_EQ(clean.value("git_commit", ""), head_commit);
  EXPECT_EQ(clean.value("git_dirty", true), false) << RunProgram(root_, {"git", "status", "--short"}).out;
  EXPECT_EQ(clean.value("diff_hash", "x"), "");

  auto dirty_run = [&](const std::string& params) {
    Write("params.yaml", params);
    nlohmann::json run = Show(Run());
    EXPECT_EQ(run.value("git_commit", ""), head_commit);
    EXPECT_EQ(run.value("git_dirty", false), true);
    std::string hash = run.value("diff_hash", "");
    EXPECT_NE(hash, "");
    EXPECT_EQ(RunProgram(root_, {"git", "checkout", "-q", "--", "params.yaml"}).exit_code, 0);
    return hash;
  };
  std::string first = dirty_run("train:\n  lr: 0.1\n# try A\n");
  std::string again = dirty_run("train:\n  lr: 0.1\n# try A\n");
  std::string other = dirty_run("train:\n  lr: 0.1\n# try B\n");
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);

  nlohmann::json reverted = Show(Run());
  EXPECT_EQ(reverted.value("git_dirty", true), false);

  Write("notes.txt", "an untracked file\n");
  nlohmann::json untracked = Show(Run());
  EXPECT_EQ(untracked.value("git_dirty", false), true);
  EXPECT_NE(untracked.value("diff_hash", ""), "");
  EXPECT_NE(untracked.value("diff_hash", ""), first);
  EXPECT_EQ(List({"--where", "dirty = true"}).size(), 5u);  // before the commit, 3 changes, untracked
}

// keel.yaml of one stage `wait` that writes "RUN_ID PID" to `started`,
// then waits for a file `go` that never comes.
constexpr const char* kBlockingPipeline = R"(stages:
  wait:
    cmd: exec sh wait.sh
    outs: [waited.txt]
)";

TEST_F(TrackingTest, RunOfSigkilledKeelIsMarkedKilledByTheNextCommand) {
  Write("keel.yaml", kBlockingPipeline);
  Write("wait.sh", "echo \"$KEEL_RUN_ID $$\" > started.tmp\nmv started.tmp started\n" + WaitUntil("[ -f go ]") +
                       "echo done > waited.txt\n");
  pid_t keel = StartKeel(root_, {"run"});
  ASSERT_TRUE(WaitForFileWhileRunning("started", keel));
  int64_t id = 0;
  pid_t stage = 0;
  std::istringstream(Read("started")) >> id >> stage;
  ASSERT_GT(id, 0);
  ASSERT_GT(stage, 1);
  ASSERT_EQ(::kill(keel, SIGKILL), 0);
  EXPECT_EQ(WaitFor(keel), 128 + SIGKILL);
  // Nothing is left to stop the orphaned stage: end its process group here.
  ::kill(-stage, SIGKILL);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!ProcessEnded(stage) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(ProcessEnded(stage));

  nlohmann::json list = Json({"runs", "list"});
  ASSERT_EQ(list.at("runs").size(), 1u) << list.dump(1);
  const nlohmann::json& run = list["runs"][0];
  EXPECT_EQ(run.value("id", int64_t{0}), id);
  EXPECT_EQ(run.value("status", ""), "killed");
  EXPECT_TRUE(run["end_time"].is_number()) << run.dump();
  EXPECT_EQ(Show(id).value("status", ""), "killed");
}

TEST_F(TrackingTest, SigtermedRunIsMarkedKilledByKeel) {
  Write("keel.yaml", kBlockingPipeline);
  Write("wait.sh", "echo \"$KEEL_RUN_ID $$\" > started.tmp\nmv started.tmp started\n" + WaitUntil("[ -f go ]") +
                       "echo done > waited.txt\n");
  pid_t keel = StartKeel(root_, {"run"});
  ASSERT_TRUE(WaitForFileWhileRunning("started", keel));
  int64_t id = 0;
  pid_t stage = 0;
  std::istringstream(Read("started")) >> id >> stage;
  ASSERT_GT(id, 0);
  ASSERT_GT(stage, 1);
  ASSERT_EQ(::kill(keel, SIGTERM), 0);
  EXPECT_EQ(WaitFor(keel), 143);
  // keel ends the stage and waits for it before it exits.
  bool stage_ended = ProcessEnded(stage);
  EXPECT_TRUE(stage_ended);
  if (!stage_ended) ::kill(-stage, SIGKILL);

  nlohmann::json run = Show(id);
  EXPECT_EQ(run.value("status", ""), "killed");
  EXPECT_TRUE(run["end_time"].is_number()) << run.dump();
  EXPECT_EQ(StageActions(run), (std::map<std::string, std::string>{{"wait", "interrupted"}}));
  EXPECT_EQ(List({"--where", "status = 'killed'"}), Ids{id});
}

constexpr const char* kLogPy = R"(import sys
import keel

name, count = sys.argv[1], int(sys.argv[2])
keel.log_param("seen_run_" + name, keel.active_run_id())
for i in range(count):
    keel.log_metric(name, i * 0.5, step=i)
)";

TEST_F(TrackingTest, StagesLogWhileOtherCommandsReadAndWriteTheStore) {
  Write("keel.yaml", "stages:\n  hello:\n    cmd: echo hello > hello.txt\n    outs: [hello.txt]\n");
  int64_t earlier = Run();

  Write("log.py", kLogPy);
  std::string stage_a = "    cmd: exec sh a.sh\n    outs: [a.txt]\n" + PythonEnv();
  std::string stage_b = "    cmd: exec sh b.sh\n    outs: [b.txt]\n" + PythonEnv();
  Write("keel.yaml", "stages:\n  a:\n" + stage_a + "  b:\n" + stage_b);
  for (const std::string s : {"a", "b"}) {
    Write(s + ".sh", "touch " + s + ".started\n" + WaitUntil("[ -f go ]") + "/usr/bin/python3 log.py m_" + s +
                         " 20000\necho " + s + " > " + s + ".txt\n");
  }
  pid_t keel = StartKeel(root_, {"run", "-j", "2"});
  ASSERT_TRUE(WaitForFileWhileRunning("a.started", keel));
  ASSERT_TRUE(WaitForFileWhileRunning("b.started", keel));

  int rounds = 0;
  int failures = 0;
  int exit_code = -1;
  bool saw_running = false;
  auto round = [&] {
    ++rounds;
    RunResult list = Keel({"--json", "runs", "list"});
    if (list.exit_code != 0) {
      ++failures;
      ADD_FAILURE() << "runs list: " << list.err;
    } else {
      nlohmann::json j = nlohmann::json::parse(list.out, nullptr, false);
      if (!j.is_object() || !j.contains("runs")) {
        ++failures;
        ADD_FAILURE() << "runs list: not JSON: " << list.out;
      } else {
        for (const nlohmann::json& r : j["runs"]) saw_running = saw_running || r.value("status", "") == "running";
      }
    }
    RunResult tag = Keel({"runs", "tag", std::to_string(earlier), "round", std::to_string(rounds)});
    if (tag.exit_code != 0) {
      ++failures;
      ADD_FAILURE() << "runs tag: " << tag.err;
    }
  };
  round();  // the stages wait for `go`: the run is in the middle
  EXPECT_TRUE(saw_running);
  Write("go", "");
  for (;;) {
    round();
    int status = 0;
    if (::waitpid(keel, &status, WNOHANG) == keel) {
      exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
  }
  EXPECT_EQ(exit_code, 0);
  EXPECT_EQ(failures, 0);
  EXPECT_GE(rounds, 2);

  Ids ids = List();
  ASSERT_EQ(ids.size(), 2u);
  int64_t id = ids[0];
  nlohmann::json run = Show(id);
  EXPECT_EQ(run.value("status", ""), "finished");
  EXPECT_EQ(StringMap(run["params"]), (std::map<std::string, std::string>{
                                          {"seen_run_m_a", std::to_string(id)}, {"seen_run_m_b", std::to_string(id)}}));
  for (const std::string name : {"m_a", "m_b"}) {
    std::vector<std::pair<int64_t, double>> history = History(id, name);
    ASSERT_EQ(history.size(), 20000u) << name;
    size_t wrong = 0;
    for (size_t i = 0; i < history.size(); ++i) {
      if (history[i] != std::pair<int64_t, double>(static_cast<int64_t>(i), static_cast<double>(i) * 0.5)) ++wrong;
    }
    EXPECT_EQ(wrong, 0u) << name;
  }
  EXPECT_EQ(StringMap(Show(earlier)["tags"]), (std::map<std::string, std::string>{{"round", std::to_string(rounds)}}));
}

TEST_F(TrackingTest, TwoRunsStartedAtOnceBothRecordEverything) {
  Write("log.py", kLogPy);
  Write("keel.yaml", "stages:\n  log:\n    cmd: exec sh log.sh\n    outs: [log.txt]\n" + PythonEnv());
  Write("log.sh", "echo \"start $KEEL_RUN_ID\" >> order.txt\n/usr/bin/python3 log.py m 500\n"
                  "echo \"end $KEEL_RUN_ID\" >> order.txt\necho done > log.txt\n");
  pid_t first = StartKeel(root_, {"run", "--force"});
  pid_t second = StartKeel(root_, {"run", "--force"});
  EXPECT_EQ(WaitFor(first), 0);
  EXPECT_EQ(WaitFor(second), 0);

  Ids ids = List();
  ASSERT_EQ(ids.size(), 2u);
  ASSERT_NE(ids[0], ids[1]);
  int64_t lo = ids[1], hi = ids[0];
  EXPECT_EQ(Read("order.txt"), "start " + std::to_string(lo) + "\nend " + std::to_string(lo) + "\nstart " +
                                   std::to_string(hi) + "\nend " + std::to_string(hi) + "\n");
  for (int64_t id : ids) {
    nlohmann::json run = Show(id);
    EXPECT_EQ(run.value("status", ""), "finished") << id;
    EXPECT_EQ(StringMap(run["params"]), (std::map<std::string, std::string>{{"seen_run_m", std::to_string(id)}}));
    EXPECT_EQ(StageActions(run), (std::map<std::string, std::string>{{"log", "ran"}}));
    std::vector<std::pair<int64_t, double>> history = History(id, "m");
    ASSERT_EQ(history.size(), 500u) << id;
    EXPECT_EQ(history.back(), (std::pair<int64_t, double>(499, 249.5)));
  }
}

TEST_F(TrackingTest, BadEventLinesAreSkippedWithAWarningNamingTheLine) {
  Write("keel.yaml", "stages:\n  events:\n    cmd: sh events.sh\n    outs: [events.txt]\n");
  std::string append = "' >> \"$KEEL_METRICS_FILE\"\n";
  Write("events.sh", "printf '%s\\n' '{\"metric\":\"good\",\"value\":1,\"step\":0}" + append +
                         "printf '%s\\n' 'this is not json" + append +
                         "printf '%s\\n' '{\"metric\":\"bad\",\"value\":\"high\"}" + append +
                         "printf '%s\\n' '{\"metric\":\"good\",\"value\":2,\"step\":1}" + append +
                         "echo done > events.txt\n");
  RunResult r = Keel({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Strings warnings;
  for (const std::string& line : Lines(r.out + r.err)) {
    if (Contains(line, "warning")) warnings.push_back(line);
  }
  ASSERT_EQ(warnings.size(), 2u) << r.out << r.err;
  EXPECT_TRUE(Contains(warnings[0], ":2: not JSON")) << warnings[0];
  EXPECT_TRUE(Contains(warnings[1], ":3: metric 'bad': value is \"high\", not a number")) << warnings[1];

  Ids ids = List();
  ASSERT_EQ(ids.size(), 1u);
  nlohmann::json run = Show(ids[0]);
  EXPECT_EQ(run.value("status", ""), "finished");
  EXPECT_EQ(MetricValues(run), (std::map<std::string, double>{{"good", 2}}));
  EXPECT_EQ(History(ids[0], "good"), (std::vector<std::pair<int64_t, double>>{{0, 1}, {1, 2}}));
}

TEST_F(TrackingTest, TagNoteDeleteRestorePurge) {
  Write("keel.yaml", "stages:\n  m:\n    cmd: sh m.sh\n    metrics: [m.json]\n");
  Write("m.sh", "echo '{\"auc\": 0.8, \"loss\": 0.3}' > m.json\n");
  int64_t r1 = Run();
  int64_t r2 = Run({"--force"});
  std::string id1 = std::to_string(r1);

  ASSERT_EQ(Keel({"runs", "tag", id1, "stage", "prod"}).exit_code, 0);
  ASSERT_EQ(Keel({"runs", "tag", id1, "owner", "ana"}).exit_code, 0);
  EXPECT_EQ(StringMap(Show(r1)["tags"]), (std::map<std::string, std::string>{{"stage", "prod"}, {"owner", "ana"}}));
  ASSERT_EQ(Keel({"runs", "untag", id1, "stage"}).exit_code, 0);
  EXPECT_EQ(StringMap(Show(r1)["tags"]), (std::map<std::string, std::string>{{"owner", "ana"}}));

  ASSERT_EQ(Keel({"runs", "note", id1, "baseline for the census model"}).exit_code, 0);
  EXPECT_EQ(Show(r1).value("note", ""), "baseline for the census model");
  ASSERT_EQ(Keel({"runs", "note", id1, ""}).exit_code, 0);
  EXPECT_EQ(Show(r1).value("note", "x"), "");

  ASSERT_EQ(Keel({"runs", "delete", id1}).exit_code, 0);
  EXPECT_EQ(List(), Ids{r2});
  EXPECT_EQ(List({"--deleted"}), (Ids{r2, r1}));
  EXPECT_EQ(Show(r1).value("deleted", false), true);
  ASSERT_EQ(Keel({"runs", "restore", id1}).exit_code, 0);
  EXPECT_EQ(List(), (Ids{r2, r1}));
  EXPECT_EQ(Show(r1).value("deleted", true), false);

  ASSERT_EQ(Keel({"runs", "delete", id1}).exit_code, 0);
  EXPECT_EQ(Json({"runs", "purge"}).value("purged", -1), 1);
  RunResult gone = Keel({"runs", "show", id1});
  EXPECT_EQ(gone.exit_code, 3) << gone.out << gone.err;
  EXPECT_EQ(List({"--deleted"}), Ids{r2});

  RunResult missing = Keel({"runs", "show", "999"});
  EXPECT_EQ(missing.exit_code, 3) << missing.err;
  EXPECT_TRUE(Contains(missing.err, "no run 999")) << missing.err;
  RunResult tag_missing = Keel({"runs", "tag", "999", "k", "v"});
  EXPECT_EQ(tag_missing.exit_code, 3) << tag_missing.err;
  EXPECT_TRUE(Contains(tag_missing.err, "no run 999")) << tag_missing.err;
  RunResult untag = Keel({"runs", "untag", std::to_string(r2), "nosuch"});
  EXPECT_EQ(untag.exit_code, 3) << untag.err;
  RunResult word = Keel({"runs", "show", "abc"});
  EXPECT_EQ(word.exit_code, 2) << word.err;
  EXPECT_TRUE(Contains(word.err, "'abc'")) << word.err;

  RunResult metric = Keel({"metrics", "history", std::to_string(r2), "nosuch"});
  EXPECT_EQ(metric.exit_code, 3) << metric.err;
  EXPECT_TRUE(Contains(metric.err, "no metric 'nosuch'")) << metric.err;
  EXPECT_TRUE(Contains(metric.err, "auc, loss")) << metric.err;
}

TEST_F(TrackingTest, SkippedRerunRecordsThePreviousParamsMetricsAndInputs) {
  WriteShellTrainPipeline();
  SetTrain("0.1", "6", "adam", "0.93");
  int64_t first = Run();
  int64_t again = Run();
  ASSERT_NE(first, again);
  nlohmann::json ran = Show(first);
  nlohmann::json skipped = Show(again);
  EXPECT_EQ(StageActions(ran), (std::map<std::string, std::string>{{"train", "ran"}}));
  EXPECT_EQ(StageActions(skipped), (std::map<std::string, std::string>{{"train", "skipped"}}));
  EXPECT_EQ(skipped.value("status", ""), "finished");
  EXPECT_EQ(StringMap(skipped["params"]), (std::map<std::string, std::string>{
                                              {"train.lr", "0.1"}, {"train.max_depth", "6"}, {"train.optimizer", "adam"}}));
  EXPECT_EQ(skipped["params"], ran["params"]);
  EXPECT_EQ(MetricValues(skipped), (std::map<std::string, double>{{"auc", 0.93}}));
  EXPECT_EQ(MetricValues(skipped), MetricValues(ran));
  EXPECT_EQ(RunInputs(skipped), RunInputs(ran));
  EXPECT_EQ(RunInputs(skipped), LockInputs(Read("keel.lock")));
}

// Logged values reach the store while the stage still runs: the stage
// waits for the test to have seen its first value through keel.
TEST_F(TrackingTest, LoggedValuesAreReadWhileTheStageRuns) {
  Write("keel.yaml",
        "stages:\n  train:\n    cmd: exec sh train.sh\n    outs: [done.txt]\n");
  Write("train.sh", "printf '{\"metric\": \"loss\", \"value\": 0.5, \"step\": 1}\\n' >> \"$KEEL_METRICS_FILE\"\n" +
                        WaitUntil("[ -f seen ]") +
                        "printf '{\"metric\": \"loss\", \"value\": 0.25, \"step\": 2}\\n' >> \"$KEEL_METRICS_FILE\"\n"
                        "echo done > done.txt\n");
  pid_t keel = StartKeel(root_, {"run"});
  bool seen = false;
  int status = 0;
  bool ended = false;
  while (!seen && !ended) {
    ended = ::waitpid(keel, &status, WNOHANG) == keel;
    RunResult history = Keel({"--json", "metrics", "history", "1", "loss"});
    if (ended || history.exit_code != 0) continue;  // the run or its first value is not there yet
    nlohmann::json j = nlohmann::json::parse(history.out);
    ASSERT_EQ(j.at("history").size(), 1u) << history.out;
    EXPECT_EQ(j.at("history")[0].at("value"), 0.5);
    EXPECT_EQ(Show(1).value("status", ""), "running");
    Write("seen", "");
    seen = true;
  }
  if (!ended) {
    ASSERT_EQ(::waitpid(keel, &status, 0), keel);
  }
  int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  EXPECT_TRUE(seen);
  EXPECT_EQ(exit_code, 0);
  EXPECT_EQ(History(1, "loss"), (std::vector<std::pair<int64_t, double>>{{1, 0.5}, {2, 0.25}}));
}

// A run's inputs name the `keel data` versions they are.
TEST_F(TrackingTest, InputsLinkToDataVersions) {
  Write("data.csv", "a,b\n1,2\n");
  ASSERT_EQ(Keel({"data", "add", "data.csv"}).exit_code, 0);
  Write("keel.yaml", "stages:\n  copy:\n    cmd: cp data.csv out.csv\n    deps: [data.csv]\n    outs: [out.csv]\n");
  int64_t first = Run();
  Write("data.csv", "a,b\n3,4\n");
  ASSERT_EQ(Keel({"data", "add", "data.csv"}).exit_code, 0);
  int64_t second = Run();

  nlohmann::json log = Json({"data", "log", "data.csv"});  // newest first
  ASSERT_EQ(log.size(), 2u);
  auto version_of = [&](int64_t run, const std::string& path) {
    nlohmann::json shown = Show(run);
    for (const nlohmann::json& in : shown.at("inputs")) {
      if (in.at("path") == path) return in.at("data_version");
    }
    return nlohmann::json("absent");
  };
  EXPECT_EQ(version_of(first, "data.csv"), log[1].at("id"));
  EXPECT_EQ(version_of(second, "data.csv"), log[0].at("id"));
  EXPECT_EQ(version_of(second, "out.csv"), nullptr);  // an out, not added data
}

// A stage that fails after its commands ran (here: a metrics file that is
// not numbers) still records the params and deps it used.
TEST_F(TrackingTest, StageFailingOnItsMetricsRecordsWhatItUsed) {
  Write("params.yaml", "train:\n  lr: 0.3\n");
  Write("in.txt", "x\n");
  Write("m.sh", "echo '{\"auc\": \"high\"}' > m.json\n");
  Write("keel.yaml",
        "stages:\n  train:\n    cmd: sh m.sh\n    deps: [in.txt]\n"
        "    params: [train.lr]\n    metrics: [m.json]\n");
  int64_t id = Run({}, 8);
  nlohmann::json run = Show(id);
  EXPECT_EQ(run.value("status", ""), "failed");
  EXPECT_EQ(run.at("params").value("train.lr", ""), "0.3");
  std::vector<std::string> inputs;
  for (const nlohmann::json& in : run.at("inputs")) inputs.push_back(in.value("role", "") + " " + in.value("path", ""));
  EXPECT_EQ(inputs, (std::vector<std::string>{"dep in.txt"})) << run.dump(1);
  EXPECT_TRUE(run.at("metrics").empty());
}

}  // namespace
}  // namespace keel::testing
