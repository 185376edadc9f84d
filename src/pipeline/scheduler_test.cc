#include "pipeline/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace keel {

// Shows codes and fates by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}
[[maybe_unused]] static void PrintTo(StageFate fate, std::ostream* os) {
  switch (fate) {
    case StageFate::kNotSelected:
      *os << "kNotSelected";
      return;
    case StageFate::kSucceeded:
      *os << "kSucceeded";
      return;
    case StageFate::kFailed:
      *os << "kFailed";
      return;
    case StageFate::kBlocked:
      *os << "kBlocked";
      return;
    case StageFate::kNotStarted:
      *os << "kNotStarted";
      return;
  }
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using F = StageFate;

struct Pipeline {
  PipelineSpec spec;
  Dag dag;
};

Pipeline Build(const std::string& yaml) {
  Pipeline p;
  Result<PipelineSpec> spec = ParsePipeline(yaml, "keel.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  if (!spec.ok()) return p;
  p.spec = *spec;
  Result<Dag> dag = Dag::Build(p.spec, [](const std::string&) { return true; });
  EXPECT_TRUE(dag.ok()) << dag.status().ToString();
  if (dag.ok()) p.dag = *dag;
  return p;
}

// A StageRunner whose stages run only in the test's imagination: the test
// decides which running stage ends next and how. It checks, as stages
// start, that every selected upstream stage has already succeeded.
class FakeRunner final : public StageRunner {
 public:
  FakeRunner(const Pipeline& p, const std::vector<bool>& selected)
      : p_(p), selected_(selected), succeeded_(p.spec.stages.size(), false) {}

  // Which running stage (an index into the running stages, oldest first)
  // ends at the next WaitAny. Default: the oldest.
  std::function<size_t(const std::vector<size_t>& running)> pick = [](const std::vector<size_t>&) {
    return 0;
  };
  std::set<std::string> failing;  // stages that end unsuccessfully
  // Called in WaitAny just before `stage` is reported to have ended.
  std::function<void(const std::string& stage)> before_end;
  std::optional<std::string> start_error_on;

  std::vector<std::string> events;  // "start a", "end a", "fail a"
  std::vector<std::string> started;
  std::vector<std::string> violations;
  size_t max_running = 0;
  int waits = 0;

  Status Start(size_t stage) override {
    const std::string& name = p_.spec.stages[stage].name;
    if (start_error_on == name) return InternalError("cannot start " + name);
    if (std::count(started.begin(), started.end(), name))
      violations.push_back(name + " started twice");
    if (!selected_[stage]) violations.push_back(name + " started but not selected");
    for (size_t u : p_.dag.upstream(stage)) {
      if (selected_[u] && !succeeded_[u]) {
        violations.push_back(name + " started before " + p_.spec.stages[u].name + " succeeded");
      }
    }
    started.push_back(name);
    events.push_back("start " + name);
    running_.push_back(stage);
    max_running = std::max(max_running, running_.size());
    return Status::Ok();
  }

  Result<Finished> WaitAny() override {
    ++waits;
    if (running_.empty()) return InternalError("WaitAny with nothing running");
    size_t i = pick(running_);
    if (i >= running_.size()) return InternalError("pick out of range");
    size_t stage = running_[i];
    running_.erase(running_.begin() + static_cast<long>(i));
    const std::string& name = p_.spec.stages[stage].name;
    if (before_end) before_end(name);
    bool ok = failing.count(name) == 0;
    succeeded_[stage] = ok;
    events.push_back((ok ? "end " : "fail ") + name);
    return Finished{stage, ok};
  }

 private:
  const Pipeline& p_;
  std::vector<bool> selected_;
  std::vector<bool> succeeded_;
  std::vector<size_t> running_;  // in start order
};

size_t Newest(const std::vector<size_t>& running) {
  return running.size() - 1;
}

std::vector<bool> All(const Pipeline& p) {
  return std::vector<bool>(p.spec.stages.size(), true);
}

std::vector<bool> Only(const Pipeline& p, const std::set<std::string>& names) {
  std::vector<bool> selected(p.spec.stages.size(), false);
  for (size_t s = 0; s < selected.size(); ++s) selected[s] = names.count(p.spec.stages[s].name) > 0;
  return selected;
}

// a → b, a → c, b + c → d → e; f alone.
constexpr char kGraph[] =
    "stages:\n"
    "  a: {cmd: x, outs: [a.out]}\n"
    "  b: {cmd: x, deps: [a.out], outs: [b.out]}\n"
    "  c: {cmd: x, deps: [a.out], outs: [c.out]}\n"
    "  d: {cmd: x, deps: [b.out, c.out], outs: [d.out]}\n"
    "  e: {cmd: x, deps: [d.out]}\n"
    "  f: {cmd: x}\n";

TEST(SchedulerTest, RespectsDependencies) {
  Pipeline p = Build(kGraph);
  for (size_t jobs : {1, 2, 3, 8}) {
    for (bool newest_first : {false, true}) {
      SCOPED_TRACE("jobs " + std::to_string(jobs) +
                   (newest_first ? ", newest first" : ", oldest first"));
      FakeRunner runner(p, All(p));
      if (newest_first) runner.pick = Newest;
      Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), jobs, &runner, nullptr);
      ASSERT_TRUE(fates.ok()) << fates.status().ToString();
      EXPECT_THAT(*fates, ElementsAre(F::kSucceeded, F::kSucceeded, F::kSucceeded, F::kSucceeded,
                                      F::kSucceeded, F::kSucceeded));
      EXPECT_THAT(runner.violations, IsEmpty());
      EXPECT_EQ(runner.started.size(), 6u);
      EXPECT_LE(runner.max_running, jobs);
    }
  }
}

TEST(SchedulerTest, OneJobStartsInTopologicalOrder) {
  Pipeline p = Build(kGraph);
  FakeRunner runner(p, All(p));
  Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), 1, &runner, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(runner.events,
              ElementsAre("start a", "end a", "start b", "end b", "start c", "end c", "start d",
                          "end d", "start e", "end e", "start f", "end f"));
}

TEST(SchedulerTest, NeverExceedsJobs) {
  Pipeline p = Build(
      "stages:\n  s1: {cmd: x}\n  s2: {cmd: x}\n  s3: {cmd: x}\n  s4: {cmd: x}\n  s5: {cmd: x}\n  "
      "s6: {cmd: x}\n");
  for (size_t jobs : {1, 2, 3, 4, 6, 10}) {
    SCOPED_TRACE("jobs " + std::to_string(jobs));
    FakeRunner runner(p, All(p));
    runner.pick = Newest;
    Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), jobs, &runner, nullptr);
    ASSERT_TRUE(fates.ok()) << fates.status().ToString();
    // Six stages ready at once: exactly `jobs` (at most six) run together.
    EXPECT_EQ(runner.max_running, std::min<size_t>(jobs, 6));
    EXPECT_EQ(runner.started.size(), 6u);
    EXPECT_EQ(runner.waits, 6);
  }
}

TEST(SchedulerTest, TwoIndependentStagesRunTogether) {
  Pipeline p = Build(
      "stages:\n"
      "  a: {cmd: x, outs: [a.out]}\n"
      "  b: {cmd: x, outs: [b.out]}\n"
      "  c: {cmd: x, deps: [a.out, b.out]}\n");
  FakeRunner runner(p, All(p));
  runner.pick = Newest;  // b ends first
  Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), 2, &runner, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(runner.events,
              ElementsAre("start a", "start b", "end b", "end a", "start c", "end c"));
  EXPECT_THAT(runner.violations, IsEmpty());
}

TEST(SchedulerTest, FreedSlotGoesToTheNextReadyStage) {
  // a is slow; b ends, and c (after b) starts while a still runs.
  Pipeline p = Build(
      "stages:\n"
      "  a: {cmd: x}\n"
      "  b: {cmd: x, outs: [b.out]}\n"
      "  c: {cmd: x, deps: [b.out]}\n");
  FakeRunner runner(p, All(p));
  runner.pick = Newest;
  Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), 2, &runner, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(runner.events,
              ElementsAre("start a", "start b", "end b", "start c", "end c", "end a"));
}

TEST(SchedulerTest, FailureBlocksDownstreamOnly) {
  // a → b → c, a → d, e → f, a + e → g.
  Pipeline p = Build(
      "stages:\n"
      "  a: {cmd: x, outs: [a.out]}\n"
      "  b: {cmd: x, deps: [a.out], outs: [b.out]}\n"
      "  c: {cmd: x, deps: [b.out]}\n"
      "  d: {cmd: x, deps: [a.out]}\n"
      "  e: {cmd: x, outs: [e.out]}\n"
      "  f: {cmd: x, deps: [e.out]}\n"
      "  g: {cmd: x, deps: [a.out, e.out]}\n");
  for (size_t jobs : {1, 2, 4}) {
    for (bool newest_first : {false, true}) {
      SCOPED_TRACE("jobs " + std::to_string(jobs) +
                   (newest_first ? ", newest first" : ", oldest first"));
      FakeRunner runner(p, All(p));
      if (newest_first) runner.pick = Newest;
      runner.failing = {"a"};
      Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), jobs, &runner, nullptr);
      ASSERT_TRUE(fates.ok()) << fates.status().ToString();
      EXPECT_THAT(*fates, ElementsAre(F::kFailed, F::kBlocked, F::kBlocked, F::kBlocked,
                                      F::kSucceeded, F::kSucceeded, F::kBlocked));
      std::vector<std::string> started = runner.started;
      std::sort(started.begin(), started.end());
      EXPECT_THAT(started, ElementsAre("a", "e", "f"));
      EXPECT_THAT(runner.violations, IsEmpty());
    }
  }
}

TEST(SchedulerTest, FailedBranchOfADiamond) {
  Pipeline p = Build(
      "stages:\n"
      "  top: {cmd: x, outs: [top.out]}\n"
      "  left: {cmd: x, deps: [top.out], outs: [left.out]}\n"
      "  right: {cmd: x, deps: [top.out], outs: [right.out]}\n"
      "  bottom: {cmd: x, deps: [left.out, right.out]}\n");
  FakeRunner runner(p, All(p));
  runner.failing = {"left"};
  Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), 2, &runner, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(*fates, ElementsAre(F::kSucceeded, F::kFailed, F::kSucceeded, F::kBlocked));
  EXPECT_THAT(runner.started, ElementsAre("top", "left", "right"));
}

TEST(SchedulerTest, UnselectedStagesAreNotRunAndCountAsDone) {
  // a → b → c; d alone. Only b and c selected: b starts at once.
  Pipeline p = Build(
      "stages:\n"
      "  a: {cmd: x, outs: [a.out]}\n"
      "  b: {cmd: x, deps: [a.out], outs: [b.out]}\n"
      "  c: {cmd: x, deps: [b.out]}\n"
      "  d: {cmd: x}\n");
  std::vector<bool> selected = Only(p, {"b", "c"});
  FakeRunner runner(p, selected);
  Result<std::vector<StageFate>> fates = Schedule(p.dag, selected, 4, &runner, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(*fates, ElementsAre(F::kNotSelected, F::kSucceeded, F::kSucceeded, F::kNotSelected));
  EXPECT_THAT(runner.events, ElementsAre("start b", "end b", "start c", "end c"));
  EXPECT_THAT(runner.violations, IsEmpty());

  // A failure does not mark unselected stages.
  std::vector<bool> ab = Only(p, {"a", "b"});
  FakeRunner failing(p, ab);
  failing.failing = {"a"};
  fates = Schedule(p.dag, ab, 4, &failing, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(*fates, ElementsAre(F::kFailed, F::kBlocked, F::kNotSelected, F::kNotSelected));
  EXPECT_THAT(failing.started, ElementsAre("a"));

  // Nothing selected: nothing runs.
  std::vector<bool> none(4, false);
  FakeRunner idle(p, none);
  fates = Schedule(p.dag, none, 4, &idle, nullptr);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(*fates,
              ElementsAre(F::kNotSelected, F::kNotSelected, F::kNotSelected, F::kNotSelected));
  EXPECT_EQ(idle.waits, 0);
}

TEST(SchedulerTest, StopBeforeStartRunsNothing) {
  Pipeline p = Build(kGraph);
  std::vector<bool> selected = Only(p, {"a", "b", "f"});
  std::atomic<bool> stop{true};
  FakeRunner runner(p, selected);
  Result<std::vector<StageFate>> fates = Schedule(p.dag, selected, 4, &runner, &stop);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(*fates, ElementsAre(F::kNotStarted, F::kNotStarted, F::kNotSelected, F::kNotSelected,
                                  F::kNotSelected, F::kNotStarted));
  EXPECT_THAT(runner.started, IsEmpty());
  EXPECT_EQ(runner.waits, 0);
}

TEST(SchedulerTest, StopStartsNothingNewButWaitsForRunningStages) {
  // a, b, c independent; d reads a.
  Pipeline p = Build(
      "stages:\n"
      "  a: {cmd: x, outs: [a.out]}\n"
      "  b: {cmd: x}\n"
      "  c: {cmd: x}\n"
      "  d: {cmd: x, deps: [a.out]}\n");
  std::atomic<bool> stop{false};
  FakeRunner runner(p, All(p));
  // The interrupt arrives while a and b run; a then ends.
  runner.before_end = [&](const std::string&) { stop = true; };
  Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), 2, &runner, &stop);
  ASSERT_TRUE(fates.ok()) << fates.status().ToString();
  EXPECT_THAT(*fates, ElementsAre(F::kSucceeded, F::kSucceeded, F::kNotStarted, F::kNotStarted));
  EXPECT_THAT(runner.events, ElementsAre("start a", "start b", "end a", "end b"));
  EXPECT_EQ(runner.waits, 2);
}

TEST(SchedulerTest, RunnerErrorsEndTheSchedule) {
  Pipeline p = Build(kGraph);
  FakeRunner runner(p, All(p));
  runner.start_error_on = "b";
  Result<std::vector<StageFate>> fates = Schedule(p.dag, All(p), 1, &runner, nullptr);
  ASSERT_FALSE(fates.ok());
  EXPECT_EQ(fates.status().code(), StatusCode::kInternal);
  EXPECT_EQ(fates.status().message(), "cannot start b");
  EXPECT_THAT(runner.started, ElementsAre("a"));

  FakeRunner bad_pick(p, All(p));
  bad_pick.pick = [](const std::vector<size_t>& running) { return running.size(); };
  fates = Schedule(p.dag, All(p), 2, &bad_pick, nullptr);
  ASSERT_FALSE(fates.ok());
  EXPECT_EQ(fates.status().message(), "pick out of range");
}

}  // namespace
}  // namespace keel
