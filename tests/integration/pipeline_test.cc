// `keel run|status|dag|checkout|params diff` on real pipelines whose stages
// are /bin/sh commands: what runs, in which order, why, and what is recorded.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;
using Strings = std::vector<std::string>;

// One stage of `keel --json run` ("action") or `keel --json status` ("state").
struct StageReport {
  std::string verdict;
  Strings reasons;
  std::optional<int> exit_code;
};

struct Report {
  Strings order;  // stage names as listed
  std::map<std::string, StageReport> stages;

  std::map<std::string, std::string> Verdicts() const {
    std::map<std::string, std::string> out;
    for (const auto& [name, s] : stages) out[name] = s.verdict;
    return out;
  }
  Strings Reasons(const std::string& stage) const {
    auto it = stages.find(stage);
    if (it == stages.end()) {
      ADD_FAILURE() << "stage '" << stage << "' not reported";
      return {};
    }
    return it->second.reasons;
  }
  bool Has(const std::string& stage, const std::string& reason) const {
    Strings r = Reasons(stage);
    return std::find(r.begin(), r.end(), reason) != r.end();
  }
  size_t Index(const std::string& stage) const {
    return static_cast<size_t>(std::find(order.begin(), order.end(), stage) - order.begin());
  }
};

// Reads {"stages": [{"name", VERDICT_KEY, "reasons", "exit_code"?}]}.
Report ParseStages(const nlohmann::json& j, const std::string& verdict_key) {
  Report report;
  if (!j.is_object() || !j.contains("stages") || !j["stages"].is_array()) {
    ADD_FAILURE() << "no \"stages\" array in " << j.dump();
    return report;
  }
  for (const nlohmann::json& s : j["stages"]) {
    if (!s.is_object() || !s.contains("name") || !s.contains(verdict_key) || !s.contains("reasons")) {
      ADD_FAILURE() << "malformed stage " << s.dump();
      continue;
    }
    StageReport r;
    if (!s["name"].is_string() || !s[verdict_key].is_string() || !s["reasons"].is_array()) {
      ADD_FAILURE() << "malformed stage " << s.dump();
      continue;
    }
    r.verdict = s[verdict_key].get<std::string>();
    for (const nlohmann::json& reason : s["reasons"]) {
      if (reason.is_string()) r.reasons.push_back(reason.get<std::string>());
      else ADD_FAILURE() << "reason is not a string: " << s.dump();
    }
    if (s.contains("exit_code")) r.exit_code = s["exit_code"].get<int>();
    std::string name = s["name"].get<std::string>();
    EXPECT_EQ(report.stages.count(name), 0u) << "stage '" << name << "' listed twice";
    report.order.push_back(name);
    report.stages[name] = r;
  }
  return report;
}

Strings Lines(const std::string& text) {
  Strings out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  Strings lines = Lines(text);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Every file and folder under `root` (but .git and .keel) with its content;
// empty when `root` does not exist.
std::map<std::string, std::string> Snapshot(const std::string& root) {
  std::map<std::string, std::string> out;
  if (!PathExists(root)) return out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    std::string rel = fs::relative(it->path(), root).string();
    if (rel == ".git" || rel == ".keel") {
      it.disable_recursion_pending();
      continue;
    }
    out[rel] = it->is_directory() ? "dir" : "file:" + ReadFile(it->path());
  }
  return out;
}

// The lines of STAGE's entry in keel.lock ("  NAME:" and everything indented
// under it), or "" when the lock has no entry for it.
std::string LockEntry(const std::string& lock, const std::string& stage) {
  size_t start = lock.find("\n  " + stage + ":\n");
  if (start == std::string::npos) return "";
  std::string entry;
  std::istringstream in(lock.substr(start + 1));
  std::string line;
  std::getline(in, line);
  entry = line + "\n";
  while (std::getline(in, line)) {
    size_t indent = line.find_first_not_of(' ');
    if (indent != std::string::npos && indent <= 2) break;
    entry += line + "\n";
  }
  return entry;
}

size_t CountLines(const std::string& path) {
  if (!PathExists(path)) return 0;
  std::string text = ReadFile(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// a -> b, a -> c, {b, c} -> d; d lists its deps out of name order.
constexpr const char* kDiamond = R"(stages:
  a:
    cmd: cat data/a_in.txt > a.txt && echo a >> a.txt
    deps: [data/a_in.txt]
    outs: [a.txt]
  b:
    cmd: cat a.txt data/b_in.txt > b.txt && echo b >> b.txt
    deps: [a.txt, data/b_in.txt]
    outs: [b.txt]
  c:
    cmd: cat a.txt data/raw/x.csv data/raw/y.csv > c.txt && echo c >> c.txt
    deps: [a.txt, data/raw/]
    outs: [c.txt]
  d:
    cmd: cat b.txt c.txt > d.txt && echo d >> d.txt
    deps: [c.txt, b.txt]
    outs: [d.txt]
)";

// The diamond plus a stage `e` that nothing depends on and that needs nothing.
constexpr const char* kDiamondAndE = R"(  e:
    cmd: echo e > e.txt
    outs: [e.txt]
)";

const std::vector<std::pair<std::string, std::string>> kDiamondEdges = {
    {"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(RunProgram(dir_.path(), {"git", "init", "-q"}).exit_code, 0);
    RunResult r = RunKeel(dir_.path(), {"init"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  RunResult Keel(const Strings& args) { return RunKeel(dir_.path(), args); }

  // `keel --json ARGS`, expecting exit code `want_exit`; stdout parsed as JSON.
  nlohmann::json Json(Strings args, int want_exit = 0) {
    args.insert(args.begin(), "--json");
    RunResult r = Keel(args);
    EXPECT_EQ(r.exit_code, want_exit) << "keel --json " << args[1] << ": " << r.err;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
      return {};
    }
  }
  Report Run(const Strings& extra = {}, int want_exit = 0) {
    Strings args = {"run"};
    args.insert(args.end(), extra.begin(), extra.end());
    return ParseStages(Json(args, want_exit), "action");
  }
  Report Status() { return ParseStages(Json({"status"}), "state"); }
  void ExpectAllUpToDate() {
    Report st = Status();
    EXPECT_FALSE(st.stages.empty());
    for (const auto& [name, s] : st.stages) {
      EXPECT_EQ(s.verdict, "up to date") << name;
      EXPECT_EQ(s.reasons, Strings{}) << name;
    }
  }

  RunResult Git(Strings args) {
    args.insert(args.begin(), {"git", "-c", "user.name=keel-test", "-c", "user.email=keel-test@localhost", "-c",
                               "commit.gpgsign=false"});
    RunResult r = RunProgram(dir_.path(), args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  }
  std::string Commit(const Strings& paths, const std::string& message) {
    Strings add = {"add", "--"};
    add.insert(add.end(), paths.begin(), paths.end());
    Git(add);
    Git({"commit", "-q", "-m", message});
    return Git({"rev-parse", "HEAD"}).out.substr(0, 40);
  }

  void Write(const std::string& rel, const std::string& data) {
    fs::path p = fs::path(dir_.path()) / rel;
    if (p.has_parent_path()) MakeDirs(p.parent_path().string());
    // Unlink first: an out may be a read-only hardlink into the store.
    std::error_code ec;
    fs::remove(p, ec);
    WriteFile(p.string(), data);
  }
  std::string Read(const std::string& rel) { return ReadFile(dir_ / rel); }
  bool Exists(const std::string& rel) { return PathExists(dir_ / rel); }
  void Remove(const std::string& rel) {
    std::error_code ec;
    fs::remove_all(dir_ / rel, ec);
    ASSERT_FALSE(ec) << rel << ": " << ec.message();
  }
  std::string Lock() { return Exists("keel.lock") ? Read("keel.lock") : ""; }

  void WriteDiamond(const std::string& extra_stages = "") {
    Write("keel.yaml", std::string(kDiamond) + extra_stages);
    Write("data/a_in.txt", "A\n");
    Write("data/b_in.txt", "B\n");
    Write("data/raw/x.csv", "X\n");
    Write("data/raw/y.csv", "Y\n");
  }

  void ExpectEdgesRespected(const Report& run, const std::vector<std::pair<std::string, std::string>>& edges) {
    for (const auto& [up, down] : edges) {
      EXPECT_LT(run.Index(up), run.Index(down)) << up << " must come before " << down;
    }
  }

  // First run: every stage `ran` for `never run`, listed in an order that
  // respects `edges`; second run: every stage `skipped` and keel.lock byte
  // for byte the same.
  void RunTwice(const Strings& run_args, const std::set<std::string>& stages,
                const std::vector<std::pair<std::string, std::string>>& edges) {
    Report first = Run(run_args);
    EXPECT_EQ(std::set<std::string>(first.order.begin(), first.order.end()), stages);
    EXPECT_EQ(first.order.size(), stages.size());
    for (const auto& [name, s] : first.stages) {
      EXPECT_EQ(s.verdict, "ran") << name;
      EXPECT_EQ(s.reasons, Strings{"never run"}) << name;
      EXPECT_FALSE(s.exit_code.has_value()) << name;
    }
    ExpectEdgesRespected(first, edges);
    std::string lock = Lock();
    ASSERT_NE(lock, "");
    EXPECT_TRUE(Contains(lock, "schema: 1")) << lock;

    Report second = Run(run_args);
    EXPECT_EQ(second.order.size(), stages.size());
    for (const auto& [name, s] : second.stages) {
      EXPECT_EQ(s.verdict, "skipped") << name;
      EXPECT_EQ(s.reasons, Strings{}) << name;
    }
    ExpectEdgesRespected(second, edges);
    EXPECT_EQ(Lock(), lock) << "a run that changed nothing rewrote keel.lock differently";

    // Rewritten for certain by running everything again: still the same bytes.
    Strings forced_args = run_args;
    forced_args.push_back("--force");
    Report forced = Run(forced_args);
    EXPECT_EQ(forced.order.size(), stages.size());
    for (const auto& [name, s] : forced.stages) {
      EXPECT_EQ(s.verdict, "ran") << name;
      EXPECT_EQ(s.reasons, Strings{"forced"}) << name;
    }
    ExpectEdgesRespected(forced, edges);
    EXPECT_EQ(Lock(), lock) << "running the same stages again recorded them differently";
  }

  TempDir dir_;
};

TEST_F(PipelineTest, DiamondRunsInTopologicalOrderThenSkipsWithAnIdenticalLock) {
  WriteDiamond();
  RunTwice({}, {"a", "b", "c", "d"}, kDiamondEdges);
  // Each out holds its inputs as they were when it ran: d saw complete b and c.
  EXPECT_EQ(Read("a.txt"), "A\na\n");
  EXPECT_EQ(Read("b.txt"), "A\na\nB\nb\n");
  EXPECT_EQ(Read("c.txt"), "A\na\nX\nY\nc\n");
  EXPECT_EQ(Read("d.txt"), "A\na\nB\nb\nA\na\nX\nY\nc\nd\n");

  // Stages in keel.yaml order, each out recorded with the hash of its bytes.
  std::string lock = Lock();
  size_t pos = 0;
  for (const std::string name : {"a", "b", "c", "d"}) {
    size_t at = lock.find("\n  " + name + ":\n");
    ASSERT_NE(at, std::string::npos) << lock;
    EXPECT_GT(at, pos) << name << " out of keel.yaml order:\n" << lock;
    pos = at;
    EXPECT_TRUE(Contains(LockEntry(lock, name), "path: " + name + ".txt")) << lock;
    EXPECT_TRUE(Contains(LockEntry(lock, name), "hash: " + Sha256OfFile(dir_ / (name + ".txt")))) << lock;
  }
  EXPECT_TRUE(Contains(LockEntry(lock, "b"), "path: data/b_in.txt")) << lock;
  EXPECT_TRUE(Contains(LockEntry(lock, "c"), "path: data/raw\n")) << lock;
  ExpectAllUpToDate();
}

TEST_F(PipelineTest, FanOutRunsEveryBranchAfterTheRootThenSkips) {
  std::string yaml = R"(stages:
  a:
    cmd: cat data/a_in.txt > a.txt && echo a >> a.txt
    deps: [data/a_in.txt]
    outs: [a.txt]
)";
  std::vector<std::pair<std::string, std::string>> edges;
  std::set<std::string> stages = {"a"};
  for (int i = 1; i <= 4; ++i) {
    std::string b = "b" + std::to_string(i);
    yaml += "  " + b + ":\n    cmd: cat a.txt > " + b + ".txt && echo " + b + " >> " + b +
            ".txt\n    deps: [a.txt]\n    outs: [" + b + ".txt]\n";
    edges.push_back({"a", b});
    stages.insert(b);
  }
  Write("keel.yaml", yaml);
  Write("data/a_in.txt", "A\n");
  RunTwice({"-j", "4"}, stages, edges);
  for (int i = 1; i <= 4; ++i) {
    std::string b = "b" + std::to_string(i);
    EXPECT_EQ(Read(b + ".txt"), "A\na\n" + b + "\n");
  }
}

constexpr const char* kParamsPipeline = R"(stages:
  prepare:
    cmd: grep split params.yaml > prepared.txt
    params: [prepare.split]
    outs: [prepared.txt]
  train:
    cmd: cat prepared.txt > model.txt && grep eta params.yaml >> model.txt
    deps: [prepared.txt]
    params: [train.eta]
    outs: [model.txt]
  evaluate:
    cmd: cat model.txt > metrics.txt
    deps: [model.txt]
    outs: [metrics.txt]
  shape:
    cmd: grep depth params.yaml > shape.txt
    params: [train.depth]
    outs: [shape.txt]
  tune:
    cmd: cat params.yaml > tune.txt
    params: [train]
    outs: [tune.txt]
  report:
    cmd: echo report > report.txt
    outs: [report.txt]
)";

TEST_F(PipelineTest, ChangingAParamRerunsExactlyItsUsersAndTheirDownstream) {
  Write("keel.yaml", kParamsPipeline);
  Write("params.yaml", "prepare:\n  split: 0.2\ntrain:\n  eta: 0.1\n  depth: 3\n");
  Run();
  EXPECT_TRUE(Contains(LockEntry(Lock(), "train"), "train.eta: 0.1")) << Lock();

  Write("params.yaml", "prepare:\n  split: 0.2\ntrain:\n  eta: 0.2\n  depth: 3\n");
  Report run = Run();
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"prepare", "skipped"},
                                                                {"train", "ran"},
                                                                {"evaluate", "ran"},
                                                                {"shape", "skipped"},
                                                                {"tune", "ran"},
                                                                {"report", "skipped"}}));
  EXPECT_EQ(run.Reasons("train"), Strings{"param train.eta 0.1 → 0.2"});
  // A whole section names the leaf that changed.
  EXPECT_EQ(run.Reasons("tune"), Strings{"param train.eta 0.1 → 0.2"});
  EXPECT_TRUE(run.Has("evaluate", "dep model.txt changed"));
  EXPECT_EQ(Read("model.txt"), "  split: 0.2\n  eta: 0.2\n");
  EXPECT_TRUE(Contains(LockEntry(Lock(), "train"), "train.eta: 0.2")) << Lock();
  ExpectAllUpToDate();

  // A key added to, then removed from, a section only one stage reads whole.
  Write("params.yaml", "prepare:\n  split: 0.2\ntrain:\n  eta: 0.2\n  depth: 3\n  momentum: 0.9\n");
  run = Run();
  EXPECT_EQ(run.Verdicts()["tune"], "ran");
  EXPECT_EQ(run.Reasons("tune"), Strings{"param train.momentum added"});
  for (const std::string other : {"prepare", "train", "evaluate", "shape", "report"}) {
    EXPECT_EQ(run.Verdicts()[other], "skipped") << other;
  }
  Write("params.yaml", "prepare:\n  split: 0.2\ntrain:\n  eta: 0.2\n  depth: 3\n");
  run = Run();
  EXPECT_EQ(run.Reasons("tune"), Strings{"param train.momentum removed"});
  EXPECT_EQ(run.Verdicts()["train"], "skipped");
}

TEST_F(PipelineTest, ChangingADepRerunsItsStageAndDownstreamAndStatusSaysWhy) {
  WriteDiamond();
  Run();
  Write("data/b_in.txt", "B2\n");

  Report st = Status();
  EXPECT_EQ(st.Verdicts(), (std::map<std::string, std::string>{
                               {"a", "up to date"}, {"b", "stale"}, {"c", "up to date"}, {"d", "stale"}}));
  EXPECT_EQ(st.Reasons("b"), Strings{"dep data/b_in.txt changed"});
  EXPECT_EQ(st.Reasons("d"), Strings{"upstream b is stale"});
  EXPECT_EQ(st.Reasons("a"), Strings{});

  Report run = Run();
  EXPECT_EQ(run.Verdicts(),
            (std::map<std::string, std::string>{{"a", "skipped"}, {"b", "ran"}, {"c", "skipped"}, {"d", "ran"}}));
  EXPECT_EQ(run.Reasons("b"), Strings{"dep data/b_in.txt changed"});
  EXPECT_TRUE(run.Has("d", "dep b.txt changed"));
  EXPECT_EQ(Read("d.txt"), "A\na\nB2\nb\nA\na\nX\nY\nc\nd\n");
  ExpectAllUpToDate();

  // A file inside a folder dep: the folder is named without its slash.
  Write("data/raw/y.csv", "Y2\n");
  st = Status();
  EXPECT_EQ(st.Reasons("c"), Strings{"dep data/raw changed"});
  EXPECT_EQ(st.Reasons("d"), Strings{"upstream c is stale"});
  run = Run();
  EXPECT_EQ(run.Verdicts(),
            (std::map<std::string, std::string>{{"a", "skipped"}, {"b", "skipped"}, {"c", "ran"}, {"d", "ran"}}));
  EXPECT_EQ(Read("c.txt"), "A\na\nX\nY2\nc\n");
}

constexpr const char* kReasonsPipeline = R"(stages:
  gen:
    cmd: echo $MODE > gen.txt
    env: {MODE: fast}
    deps: [one.txt]
    outs: [gen.txt]
  use:
    cmd: cat gen.txt > use.txt
    deps: [gen.txt]
    outs: [use.txt]
)";

TEST_F(PipelineTest, StatusNamesEachKindOfChange) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string yaml = kReasonsPipeline;
    size_t at = yaml.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return yaml.replace(at, from.size(), to);
  };
  Write("keel.yaml", kReasonsPipeline);
  Write("one.txt", "1\n");
  Write("two.txt", "2\n");
  Run();
  EXPECT_EQ(Read("use.txt"), "fast\n");
  ExpectAllUpToDate();

  const std::vector<std::pair<std::string, std::string>> cases = {
      {with("{MODE: fast}", "{MODE: slow}"), "env MODE changed"},
      {with("echo $MODE > gen.txt", "echo $MODE > gen.txt && echo more >> gen.txt"), "cmd changed"},
      {with("deps: [one.txt]", "deps: [one.txt, two.txt]"), "dep two.txt added"},
      {with("deps: [one.txt]", "deps: []"), "dep one.txt removed"},
  };
  for (const auto& [yaml, reason] : cases) {
    Write("keel.yaml", yaml);
    Report st = Status();
    EXPECT_EQ(st.Verdicts()["gen"], "stale") << reason;
    EXPECT_EQ(st.Reasons("gen"), Strings{reason});
    EXPECT_EQ(st.Reasons("use"), Strings{"upstream gen is stale"}) << reason;
  }
  Write("keel.yaml", kReasonsPipeline);
  ExpectAllUpToDate();

  // An edited out: stale, and the run puts the recorded version back from
  // the run-cache without running the command.
  Write("use.txt", "tampered\n");
  Report st = Status();
  EXPECT_EQ(st.Reasons("use"), Strings{"out use.txt changed"});
  EXPECT_EQ(st.Reasons("gen"), Strings{});
  Report run = Run();
  EXPECT_EQ(run.Verdicts()["use"], "restored");
  EXPECT_EQ(run.Reasons("use"), Strings{"out use.txt changed"});
  EXPECT_EQ(Read("use.txt"), "fast\n");

  // A deleted out upstream: restored, and its downstream stays up to date.
  Remove("gen.txt");
  st = Status();
  EXPECT_EQ(st.Reasons("gen"), Strings{"out gen.txt missing"});
  run = Run();
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"gen", "restored"}, {"use", "skipped"}}));
  EXPECT_EQ(Read("gen.txt"), "fast\n");
  ExpectAllUpToDate();
}

constexpr const char* kCounterPipeline = R"(stages:
  train:
    cmd: echo run >> counter.txt && grep eta params.yaml > model.txt
    params: [train.eta]
    outs: [model.txt]
)";

TEST_F(PipelineTest, RunCacheRestoresOutsOfAnEarlierRunWithoutRunningTheCommand) {
  Write("keel.yaml", kCounterPipeline);
  Write("params.yaml", "train:\n  eta: 0.1\n");
  EXPECT_EQ(Run().Verdicts()["train"], "ran");
  EXPECT_EQ(CountLines(dir_ / "counter.txt"), 1u);
  std::string lock_01 = Lock();

  Write("params.yaml", "train:\n  eta: 0.2\n");
  Report run = Run();
  EXPECT_EQ(run.Verdicts()["train"], "ran");
  EXPECT_EQ(run.Reasons("train"), Strings{"param train.eta 0.1 → 0.2"});
  EXPECT_EQ(CountLines(dir_ / "counter.txt"), 2u);
  EXPECT_EQ(Read("model.txt"), "  eta: 0.2\n");

  // Back to 0.1 with the out gone: the 0.1 run is restored, not rerun.
  Write("params.yaml", "train:\n  eta: 0.1\n");
  Remove("model.txt");
  run = Run();
  EXPECT_EQ(run.Verdicts()["train"], "restored");
  EXPECT_TRUE(run.Has("train", "param train.eta 0.2 → 0.1"));
  EXPECT_EQ(CountLines(dir_ / "counter.txt"), 2u);
  EXPECT_EQ(Read("model.txt"), "  eta: 0.1\n");
  EXPECT_EQ(Lock(), lock_01) << "the restored run is recorded as the run it restores";
  ExpectAllUpToDate();

  // Only the out gone: restored too.
  Remove("model.txt");
  run = Run();
  EXPECT_EQ(run.Verdicts()["train"], "restored");
  EXPECT_EQ(run.Reasons("train"), Strings{"out model.txt missing"});
  EXPECT_EQ(CountLines(dir_ / "counter.txt"), 2u);
  EXPECT_EQ(Read("model.txt"), "  eta: 0.1\n");

  // --no-run-cache runs the command instead.
  Remove("model.txt");
  run = Run({"--no-run-cache"});
  EXPECT_EQ(run.Verdicts()["train"], "ran");
  EXPECT_EQ(run.Reasons("train"), Strings{"out model.txt missing"});
  EXPECT_EQ(CountLines(dir_ / "counter.txt"), 3u);
  EXPECT_EQ(Read("model.txt"), "  eta: 0.1\n");
  Write("params.yaml", "train:\n  eta: 0.2\n");
  run = Run({"--no-run-cache"});
  EXPECT_EQ(run.Verdicts()["train"], "ran");
  EXPECT_EQ(CountLines(dir_ / "counter.txt"), 4u);
}

TEST_F(PipelineTest, DryRunChangesNothingAndSaysWhatWouldHappen) {
  WriteDiamond();
  auto before = Snapshot(dir_.path());
  Report dry = Run({"--dry-run"});
  EXPECT_EQ(dry.stages.size(), 4u);
  EXPECT_EQ(dry.Verdicts()["a"], "would_run");
  EXPECT_EQ(dry.Reasons("a"), Strings{"never run"});
  for (const std::string name : {"b", "c", "d"}) {
    std::string v = dry.Verdicts()[name];
    EXPECT_TRUE(v == "would_run" || v == "may_run") << name << ": " << v;
  }
  EXPECT_EQ(Snapshot(dir_.path()), before);
  EXPECT_FALSE(Exists("keel.lock"));
  EXPECT_FALSE(Exists("a.txt"));

  Run();
  Write("data/b_in.txt", "B2\n");
  std::string lock = Lock();
  before = Snapshot(dir_.path());
  std::map<std::string, std::string> runs = Snapshot(dir_ / ".keel/cache/runs");
  dry = Run({"--dry-run"});
  EXPECT_EQ(dry.Verdicts(), (std::map<std::string, std::string>{
                                {"a", "skipped"}, {"b", "would_run"}, {"c", "skipped"}, {"d", "may_run"}}));
  EXPECT_EQ(dry.Reasons("b"), Strings{"dep data/b_in.txt changed"});
  ExpectEdgesRespected(dry, kDiamondEdges);
  EXPECT_EQ(Snapshot(dir_.path()), before);
  EXPECT_EQ(Lock(), lock);
  EXPECT_EQ(Snapshot(dir_ / ".keel/cache/runs"), runs);

  // A deleted out with a recorded run: would be restored, and is not.
  Write("data/b_in.txt", "B\n");
  Remove("d.txt");
  before = Snapshot(dir_.path());
  dry = Run({"--dry-run"});
  EXPECT_EQ(dry.Verdicts(), (std::map<std::string, std::string>{
                                {"a", "skipped"}, {"b", "skipped"}, {"c", "skipped"}, {"d", "would_restore"}}));
  EXPECT_EQ(dry.Reasons("d"), Strings{"out d.txt missing"});
  EXPECT_EQ(Snapshot(dir_.path()), before);
  EXPECT_FALSE(Exists("d.txt"));
  EXPECT_EQ(Lock(), lock);
}

TEST_F(PipelineTest, StageSelectionUpstreamDownstreamAndForce) {
  WriteDiamond(kDiamondAndE);
  // A stage and what it needs.
  Report run = Run({"b"});
  EXPECT_EQ(run.order, (Strings{"a", "b"}));
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"a", "ran"}, {"b", "ran"}}));
  for (const std::string absent : {"c.txt", "d.txt", "e.txt"}) EXPECT_FALSE(Exists(absent)) << absent;

  // A stage and what needs it, not what it needs.
  Write("data/a_in.txt", "A2\n");  // a is stale now, and must stay so
  run = Run({"c", "--downstream"});
  EXPECT_EQ(run.order, (Strings{"c", "d"}));
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"c", "ran"}, {"d", "ran"}}));
  EXPECT_EQ(Read("a.txt"), "A\na\n");
  EXPECT_EQ(Read("d.txt"), "A\na\nB\nb\nA\na\nX\nY\nc\nd\n");
  EXPECT_FALSE(Exists("e.txt"));
  EXPECT_EQ(Status().Verdicts()["a"], "stale");
  Write("data/a_in.txt", "A\n");

  // --force reruns up-to-date stages, selected ones only.
  run = Run({"b", "--force"});
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"a", "ran"}, {"b", "ran"}}));
  EXPECT_TRUE(run.Has("a", "forced"));
  EXPECT_TRUE(run.Has("b", "forced"));

  run = Run();
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{
                                {"a", "skipped"}, {"b", "skipped"}, {"c", "skipped"}, {"d", "skipped"}, {"e", "ran"}}));
  run = Run({"--force"});
  for (const auto& [name, s] : run.stages) {
    EXPECT_EQ(s.verdict, "ran") << name;
    EXPECT_EQ(s.reasons, Strings{"forced"}) << name;
  }
  EXPECT_EQ(run.stages.size(), 5u);
}

// Every stage keel.yaml starts with; cases below start on line 5.
constexpr const char* kBystander = R"(stages:
  bystander:
    cmd: echo x > bystander.txt
    outs: [bystander.txt]
)";

struct InvalidCase {
  std::string name;
  std::string stages;                               // appended to kBystander
  std::vector<std::pair<int, int>> positions;       // any of these line:column
  Strings message;                                  // all of these in stderr
};

TEST_F(PipelineTest, InvalidPipelinesAreRefusedWithLineAndColumnAndRunNothing) {
  Write("keel.yaml", "stages:\n  base:\n    cmd: echo base > base.txt\n    outs: [base.txt]\n");
  Run();
  Write("in.txt", "in\n");
  Write("loop.txt", "loop\n");
  Write("params.yaml", "train:\n  eta: 0.1\n");
  std::string lock = Lock();
  ASSERT_NE(lock, "");

  const std::vector<InvalidCase> cases = {
      {"unknown key",
       "  one:\n"                       // 5
       "    cmd: cat in.txt > one.txt\n"  // 6
       "    dep: [in.txt]\n"            // 7
       "    outs: [one.txt]\n",
       {{7, 5}},
       {"unknown key 'dep'", "(did you mean 'deps'?)"}},
      {"cycle",
       "  alpha:\n"                          // 5
       "    cmd: cat gamma.txt > alpha.txt\n"  // 6
       "    deps: [gamma.txt]\n"             // 7
       "    outs: [alpha.txt]\n"             // 8
       "  beta:\n"                           // 9
       "    cmd: cat alpha.txt > beta.txt\n"  // 10
       "    deps: [alpha.txt]\n"             // 11
       "    outs: [beta.txt]\n"              // 12
       "  gamma:\n"                          // 13
       "    cmd: cat beta.txt delta.txt > gamma.txt\n"
       "    deps: [beta.txt, delta.txt]\n"   // 15
       "    outs: [gamma.txt]\n"
       "  delta:\n"                          // 17
       "    cmd: echo d > delta.txt\n"
       "    outs: [delta.txt]\n",
       // A cycle has no single offending spot: one of its stages, deps or outs.
       {{5, 3}, {9, 3}, {13, 3}, {7, 12}, {11, 12}, {15, 12}, {8, 12}, {12, 12}, {16, 12}},
       {"cycle"}},
      {"same out twice",
       "  producer_one:\n"                   // 5
       "    cmd: echo 1 > shared.txt\n"
       "    outs: [shared.txt]\n"            // 7
       "  producer_two:\n"                   // 8
       "    cmd: echo 2 > shared.txt\n"
       "    outs: [shared.txt]\n",           // 10
       {{7, 12}, {10, 12}},
       {"both", "producer_one", "producer_two", "shared.txt"}},
      {"out is its own dep",
       "  looper:\n"                         // 5
       "    cmd: cat loop.txt > loop.txt\n"
       "    deps: [loop.txt]\n"              // 7
       "    outs: [loop.txt]\n",             // 8
       {{7, 12}, {8, 12}},
       {"loop.txt", "both a dep and an out"}},
      {"dep from nowhere",
       "  reader:\n"                         // 5
       "    cmd: cat data/nowhere.csv > reader.txt\n"
       "    deps: [in.txt, data/nowhere.csv]\n"  // 7
       "    outs: [reader.txt]\n",
       {{7, 20}},
       {"data/nowhere.csv", "neither exists nor is an out of any stage"}},
      {"missing param",
       "  trainer:\n"                        // 5
       "    cmd: echo t > trainer.txt\n"
       "    params: [train.eta, train.missing]\n"  // 7
       "    outs: [trainer.txt]\n",
       {{7, 25}},
       {"train.missing", "params.yaml"}},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.name);
    Write("keel.yaml", kBystander + c.stages);
    for (const std::string command : {"run", "status", "dag"}) {
      RunResult r = Keel({command});
      EXPECT_EQ(r.exit_code, 2) << command << ": " << r.out << r.err;
      bool at_position = false;
      for (const auto& [line, col] : c.positions) {
        at_position |= Contains(r.err, "keel.yaml:" + std::to_string(line) + ":" + std::to_string(col) + ":");
      }
      EXPECT_TRUE(at_position) << command << ": " << r.err;
      for (const std::string& part : c.message) EXPECT_TRUE(Contains(r.err, part)) << part << " in " << r.err;
    }
    EXPECT_FALSE(Exists("bystander.txt"));
    EXPECT_EQ(Lock(), lock);
    for (const std::string out : {"one.txt", "alpha.txt", "beta.txt", "gamma.txt", "delta.txt", "shared.txt",
                                  "reader.txt", "trainer.txt"}) {
      EXPECT_FALSE(Exists(out)) << out;
    }
    EXPECT_EQ(Read("loop.txt"), "loop\n");
  }
}

TEST_F(PipelineTest, CycleMessageNamesExactlyTheStagesOfTheCycle) {
  Write("keel.yaml", R"(stages:
  delta:
    cmd: echo d > delta.txt
    outs: [delta.txt]
  alpha:
    cmd: cat gamma.txt > alpha.txt
    deps: [gamma.txt]
    outs: [alpha.txt]
  beta:
    cmd: cat alpha.txt > beta.txt
    deps: [alpha.txt]
    outs: [beta.txt]
  gamma:
    cmd: cat beta.txt delta.txt > gamma.txt
    deps: [beta.txt, delta.txt]
    outs: [gamma.txt]
)");
  RunResult r = Keel({"run"});
  EXPECT_EQ(r.exit_code, 2);
  size_t at = r.err.find("cycle: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  std::string cycle = r.err.substr(at + 7, r.err.find('\n', at) - at - 7);
  Strings names;
  for (size_t from = 0;;) {
    size_t arrow = cycle.find(" -> ", from);
    names.push_back(cycle.substr(from, arrow - from));
    if (arrow == std::string::npos) break;
    from = arrow + 4;
  }
  // The last name may be followed by an explanation or punctuation.
  std::string& last = names.back();
  last = last.substr(0, last.find(' '));
  while (!last.empty() && !std::isalnum(static_cast<unsigned char>(last.back()))) last.pop_back();
  ASSERT_EQ(names.size(), 4u) << cycle;
  EXPECT_EQ(names.front(), names.back()) << cycle;
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end() - 1), (std::set<std::string>{"alpha", "beta", "gamma"}))
      << cycle;
  EXPECT_FALSE(Exists("delta.txt"));
}

TEST_F(PipelineTest, DagAsTextDotAndJson) {
  WriteDiamond(kDiamondAndE);
  RunResult text = Keel({"dag"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  Strings lines = Lines(text.out);
  std::map<std::string, std::string> upstream;
  Report order;
  for (const std::string& line : lines) {
    size_t arrow = line.find(" <- ");
    std::string name = line.substr(0, arrow);
    upstream[name] = arrow == std::string::npos ? "" : line.substr(arrow + 4);
    order.order.push_back(name);
  }
  EXPECT_EQ(lines.size(), 5u) << text.out;
  EXPECT_EQ(upstream, (std::map<std::string, std::string>{
                          {"a", ""}, {"b", "a"}, {"c", "a"}, {"d", "b, c"}, {"e", ""}}))
      << text.out;
  ExpectEdgesRespected(order, kDiamondEdges);

  RunResult dot = Keel({"dag", "--dot"});
  ASSERT_EQ(dot.exit_code, 0) << dot.err;
  Strings dot_lines = Lines(dot.out);
  ASSERT_FALSE(dot_lines.empty());
  EXPECT_EQ(dot_lines.front(), "digraph keel {");
  EXPECT_EQ(dot_lines.back(), "}");
  std::set<std::string> edges;
  for (const std::string& line : dot_lines) {
    if (Contains(line, "->")) edges.insert(line);
  }
  EXPECT_EQ(edges, (std::set<std::string>{"  \"a\" -> \"b\";", "  \"a\" -> \"c\";", "  \"b\" -> \"d\";",
                                          "  \"c\" -> \"d\";"}))
      << dot.out;

  nlohmann::json j = Json({"dag"});
  ASSERT_TRUE(j.contains("stages") && j["stages"].is_array()) << j.dump();
  std::map<std::string, Strings> json_upstream;
  Report json_order;
  for (const nlohmann::json& s : j["stages"]) {
    Strings up = s["upstream"].get<Strings>();
    std::sort(up.begin(), up.end());
    json_upstream[s["name"].get<std::string>()] = up;
    json_order.order.push_back(s["name"].get<std::string>());
  }
  EXPECT_EQ(json_upstream, (std::map<std::string, Strings>{
                               {"a", {}}, {"b", {"a"}}, {"c", {"a"}}, {"d", {"b", "c"}}, {"e", {}}}));
  ExpectEdgesRespected(json_order, kDiamondEdges);
  EXPECT_FALSE(Exists("a.txt")) << "dag ran a stage";
}

constexpr const char* kCheckoutPipeline = R"(stages:
  prepare:
    cmd: mkdir -p prepared && cat data/raw.csv > prepared/all.csv && grep split params.yaml > prepared/split.txt
    deps: [data/raw.csv]
    params: [prepare.split]
    outs: [prepared/]
  train:
    cmd: cat prepared/all.csv prepared/split.txt > model.bin
    deps: [prepared/]
    outs: [model.bin]
)";

TEST_F(PipelineTest, CheckoutRestoresOutsAndTrackedDataAndFollowsGit) {
  Write("keel.yaml", kCheckoutPipeline);
  Write("params.yaml", "prepare:\n  split: 0.2\n");
  Write("data/raw.csv", "x,y\n1,2\n");
  RunResult add = Keel({"data", "add", "data/raw.csv"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  Run();
  auto outs = [&] {
    return std::map<std::string, std::string>{{"prepared/all.csv", Read("prepared/all.csv")},
                                              {"prepared/split.txt", Read("prepared/split.txt")},
                                              {"model.bin", Read("model.bin")},
                                              {"data/raw.csv", Read("data/raw.csv")}};
  };
  auto state1 = outs();
  EXPECT_EQ(state1["model.bin"], "x,y\n1,2\n  split: 0.2\n");
  auto entries = [](const nlohmann::json& j, const std::string& key, const std::string& strip) {
    std::map<std::string, bool> out;
    if (!j.contains(key) || !j[key].is_array()) {
      ADD_FAILURE() << "no \"" << key << "\" array in " << j.dump();
      return out;
    }
    for (const nlohmann::json& e : j[key]) {
      std::string path = e["path"].get<std::string>();
      if (path.size() > strip.size() && path.compare(path.size() - strip.size(), strip.size(), strip) == 0) {
        path.resize(path.size() - strip.size());
      }
      out[path] = e["changed"].get<bool>();
    }
    return out;
  };

  // Deleted outs and data come back byte for byte.
  Remove("prepared");
  Remove("model.bin");
  Remove("data/raw.csv");
  nlohmann::json co = Json({"checkout"});
  EXPECT_EQ(entries(co, "outs", "/"), (std::map<std::string, bool>{{"prepared", true}, {"model.bin", true}}));
  EXPECT_EQ(entries(co, "data", ".keel"), (std::map<std::string, bool>{{"data/raw.csv", true}}));
  EXPECT_EQ(outs(), state1);
  ExpectAllUpToDate();
  co = Json({"checkout"});
  EXPECT_EQ(entries(co, "outs", "/"), (std::map<std::string, bool>{{"prepared", false}, {"model.bin", false}}));

  // An edited out that is stored nowhere is not overwritten without --force.
  Write("model.bin", "tampered");
  RunResult refused = Keel({"checkout"});
  EXPECT_EQ(refused.exit_code, 5) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "model.bin")) << refused.err;
  EXPECT_EQ(Read("model.bin"), "tampered");
  RunResult forced = Keel({"checkout", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(outs(), state1);

  // Two committed states; checking out the first's keel.lock and params
  // brings back the first's outs.
  std::string commit1 = Commit({"keel.yaml", "params.yaml", "keel.lock", "data/raw.csv.keel", ".gitignore"}, "one");
  Write("params.yaml", "prepare:\n  split: 0.3\n");
  Report run = Run();
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"prepare", "ran"}, {"train", "ran"}}));
  auto state2 = outs();
  EXPECT_EQ(state2["model.bin"], "x,y\n1,2\n  split: 0.3\n");
  std::string commit2 = Commit({"params.yaml", "keel.lock"}, "two");

  Git({"checkout", "-q", commit1, "--", "keel.lock", "params.yaml"});
  co = Json({"checkout"});
  EXPECT_EQ(entries(co, "outs", "/"), (std::map<std::string, bool>{{"prepared", true}, {"model.bin", true}}));
  EXPECT_EQ(outs(), state1);
  ExpectAllUpToDate();

  Git({"checkout", "-q", commit2, "--", "keel.lock", "params.yaml"});
  RunResult back = Keel({"checkout"});
  EXPECT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(outs(), state2);
  ExpectAllUpToDate();
}

constexpr const char* kParamsDiffPipeline = R"(stages:
  train:
    cmd: echo t > t.txt
    params:
      - train.eta
      - {search.yaml: [grid.lr]}
    outs: [t.txt]
)";

TEST_F(PipelineTest, ParamsDiffAgainstHeadAndAnOlderCommit) {
  Write("keel.yaml", kParamsDiffPipeline);
  Write("params.yaml", "legacy: 1\ntrain:\n  eta: 0.05\n  depth: 3\n");
  Write("search.yaml", "grid:\n  lr: 0.5\n");
  std::string commit1 = Commit({"keel.yaml", "params.yaml", "search.yaml"}, "one");
  Write("params.yaml", "legacy: 1\ntrain:\n  eta: 0.1\n  depth: 3\n");
  Commit({"params.yaml"}, "two");

  nlohmann::json none = Json({"params", "diff"});
  EXPECT_EQ(none["changes"], nlohmann::json::array()) << none.dump();

  Write("params.yaml", "train:\n  eta: 0.2\n  depth: 3\n  added: 7\n");
  Write("search.yaml", "grid:\n  lr: 0.7\n");
  // file, key, old, new; a null side as "null", a value that is not a string
  // as "not a string: ...".
  using Change = std::tuple<std::string, std::string, std::string, std::string>;
  auto changes = [](const nlohmann::json& j) {
    auto text = [](const nlohmann::json& v) -> std::string {
      if (v.is_null()) return "null";
      return v.is_string() ? v.get<std::string>() : "not a string: " + v.dump();
    };
    std::set<Change> out;
    if (!j.is_object() || !j.contains("changes") || !j["changes"].is_array()) {
      ADD_FAILURE() << "no \"changes\" array in " << j.dump();
      return out;
    }
    for (const nlohmann::json& c : j["changes"]) {
      out.insert({text(c.value("file", nlohmann::json())), text(c.value("key", nlohmann::json())),
                  text(c.value("old", nlohmann::json("absent"))), text(c.value("new", nlohmann::json("absent")))});
    }
    return out;
  };
  EXPECT_EQ(changes(Json({"params", "diff"})), (std::set<Change>{
                                                   {"params.yaml", "train.eta", "0.1", "0.2"},
                                                   {"params.yaml", "train.added", "null", "7"},
                                                   {"params.yaml", "legacy", "1", "null"},
                                                   {"search.yaml", "grid.lr", "0.5", "0.7"},
                                               }));
  EXPECT_TRUE(changes(Json({"params", "diff", commit1})).count({"params.yaml", "train.eta", "0.05", "0.2"}));

  RunResult human = Keel({"params", "diff"});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  auto has_line_with = [&](const Strings& parts) {
    for (const std::string& line : Lines(human.out)) {
      bool all = true;
      for (const std::string& p : parts) all = all && Contains(line, p);
      if (all) return true;
    }
    return false;
  };
  EXPECT_TRUE(has_line_with({"params.yaml", "train.eta", "0.1", "0.2"})) << human.out;
  EXPECT_TRUE(has_line_with({"params.yaml", "train.added", "7"})) << human.out;
  EXPECT_TRUE(has_line_with({"params.yaml", "legacy", "1"})) << human.out;
  EXPECT_TRUE(has_line_with({"search.yaml", "grid.lr", "0.5", "0.7"})) << human.out;
  EXPECT_FALSE(Contains(human.out, "train.depth")) << human.out;
}

constexpr const char* kCommandsPipeline = R"(stages:
  multi:
    cmd:
      - echo one > multi.txt
      - echo two >> multi.txt
      - echo "$KEEL_STAGE $GREETING" >> multi.txt
    env:
      GREETING: hello world
    outs: [multi.txt]
  inner:
    cmd: pwd -P > where.txt && cat input.txt > gen/deep/copy.txt && echo $KEEL_STAGE >> gen/deep/copy.txt
    wdir: sub
    deps: [input.txt]
    outs: [where.txt, gen/deep/copy.txt]
)";

TEST_F(PipelineTest, CommandListEnvKeelStageAndWdir) {
  Write("keel.yaml", kCommandsPipeline);
  Write("sub/input.txt", "in\n");
  Report run = Run();
  EXPECT_EQ(run.Verdicts(), (std::map<std::string, std::string>{{"multi", "ran"}, {"inner", "ran"}}));
  EXPECT_EQ(Read("multi.txt"), "one\ntwo\nmulti hello world\n");
  EXPECT_EQ(Read("sub/where.txt"), fs::canonical(dir_ / "sub").string() + "\n");
  // The folders holding an out are created before the stage runs.
  EXPECT_EQ(Read("sub/gen/deep/copy.txt"), "in\ninner\n");
  EXPECT_FALSE(Exists("where.txt"));

  std::string inner = LockEntry(Lock(), "inner");
  EXPECT_TRUE(Contains(inner, "wdir: sub")) << inner;
  for (const std::string path : {"sub/input.txt", "sub/where.txt", "sub/gen/deep/copy.txt"}) {
    EXPECT_TRUE(Contains(inner, "path: " + path + "\n")) << path << " in\n" << inner;
  }
  ExpectAllUpToDate();

  Write("sub/input.txt", "in2\n");
  EXPECT_EQ(Status().Reasons("inner"), Strings{"dep sub/input.txt changed"});
  std::string yaml = kCommandsPipeline;
  yaml.replace(yaml.find("hello world"), 11, "bye");
  Write("keel.yaml", yaml);
  EXPECT_EQ(Status().Reasons("multi"), Strings{"env GREETING changed"});
  run = Run();
  EXPECT_EQ(Read("multi.txt"), "one\ntwo\nmulti bye\n");
  EXPECT_EQ(Read("sub/gen/deep/copy.txt"), "in2\ninner\n");
}

TEST_F(PipelineTest, HumanOutputPrefixesEveryLineWithItsStage) {
  Write("keel.yaml", R"(stages:
  hello:
    cmd: echo hi there && echo second line && echo x > hello.txt && printf partial
    outs: [hello.txt]
  world:
    cmd: echo world says hi && echo y > world.txt
    deps: [hello.txt]
    outs: [world.txt]
)");
  RunResult r = Keel({"run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string line : {"[hello] hi there", "[hello] second line", "[hello] partial",
                                 "[world] world says hi"}) {
    EXPECT_TRUE(HasLine(r.out, line)) << "no line '" << line << "' in\n" << r.out;
  }
  EXPECT_FALSE(HasLine(r.out, "hi there")) << r.out;
}

}  // namespace
}  // namespace keel::testing
