#include "pipeline/stage_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keel {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

LockedPath Dep(std::string path, std::string_view content) {
  LockedPath p;
  p.path = std::move(path);
  p.digest = HashBytes(content);
  p.size = content.size();
  p.files = 1;
  return p;
}

// An out as declared: no hashes.
LockedPath Out(std::string path, bool cache = true) {
  LockedPath p;
  p.path = std::move(path);
  p.cache = cache;
  return p;
}

LockedStage Stage() {
  LockedStage s;
  s.name = "train";
  s.cmd = {"python train.py"};
  s.wdir = "src";
  s.env = {{"OMP_NUM_THREADS", "1"}, {"SEED", "7"}};
  s.deps = {Dep("data/train.csv", "rows"), Dep("src/train.py", "code")};
  s.params = {{"params.yaml", {{"train.eta", "0.1"}, {"train.depth", "6"}}},
              {"search.yaml", {{"grid.depths", "[3, 5]"}}}};
  s.outs = {Out("model.bin"), Out("src/logs", false)};
  return s;
}

// The stage as locked: the same, with its outs hashed.
LockedStage Locked() {
  LockedStage s = Stage();
  for (LockedPath& o : s.outs) {
    o.digest = HashBytes(o.path);
    o.size = 5;
    o.files = 1;
  }
  return s;
}

std::vector<std::string> Explain(const LockedStage& now,
                                 const std::vector<std::string>& missing = {}) {
  LockedStage locked = Locked();
  return ExplainChanges(now, &locked, missing, "params.yaml");
}

TEST(ExplainChangesTest, NeverRun) {
  EXPECT_THAT(ExplainChanges(Stage(), nullptr, {}, "params.yaml"), ElementsAre("never run"));
  EXPECT_THAT(ExplainChanges(Stage(), nullptr, {"data/train.csv"}, "params.yaml"),
              ElementsAre("never run"));
}

TEST(ExplainChangesTest, IdenticalIsUpToDate) {
  // Out hashes are not compared here: `now` has them unset.
  EXPECT_THAT(Explain(Stage()), IsEmpty());
  LockedStage same = Locked();
  EXPECT_THAT(Explain(same), IsEmpty());
  // Neither is the way cmd was written.
  LockedStage list = Stage();
  list.cmd_is_list = true;
  EXPECT_THAT(Explain(list), IsEmpty());
}

TEST(ExplainChangesTest, Cmd) {
  LockedStage s = Stage();
  s.cmd = {"python train.py --fast"};
  EXPECT_THAT(Explain(s), ElementsAre("cmd changed"));
  s.cmd = {"python train.py", "python export.py"};
  EXPECT_THAT(Explain(s), ElementsAre("cmd changed"));
}

TEST(ExplainChangesTest, Wdir) {
  LockedStage s = Stage();
  s.wdir = "";
  EXPECT_THAT(Explain(s), ElementsAre("wdir changed"));
}

TEST(ExplainChangesTest, Env) {
  LockedStage s = Stage();
  s.env["SEED"] = "8";
  EXPECT_THAT(Explain(s), ElementsAre("env SEED changed"));
  s = Stage();
  s.env.erase("OMP_NUM_THREADS");
  EXPECT_THAT(Explain(s), ElementsAre("env OMP_NUM_THREADS changed"));
  s = Stage();
  s.env["NEW"] = "";
  EXPECT_THAT(Explain(s), ElementsAre("env NEW changed"));
}

TEST(ExplainChangesTest, Deps) {
  LockedStage s = Stage();
  s.deps[1].digest = HashBytes("new code");
  EXPECT_THAT(Explain(s), ElementsAre("dep src/train.py changed"));

  s = Stage();
  s.deps.insert(s.deps.begin() + 1, Dep("data/valid.csv", "v"));
  EXPECT_THAT(Explain(s), ElementsAre("dep data/valid.csv added"));

  s = Stage();
  s.deps.erase(s.deps.begin());
  EXPECT_THAT(Explain(s), ElementsAre("dep data/train.csv removed"));

  // Absent from the workspace: an all-zero digest, and named missing.
  s = Stage();
  s.deps[0].digest = Digest();
  EXPECT_THAT(Explain(s, {"data/train.csv"}), ElementsAre("dep data/train.csv missing"));
  // A new dep that is missing is missing, not added.
  s = Stage();
  LockedPath absent = Dep("zzz.csv", "");
  absent.digest = Digest();
  s.deps.push_back(absent);
  EXPECT_THAT(Explain(s, {"zzz.csv"}), ElementsAre("dep zzz.csv missing"));
}

TEST(ExplainChangesTest, Params) {
  LockedStage s = Stage();
  s.params["params.yaml"]["train.eta"] = "0.2";
  EXPECT_THAT(Explain(s), ElementsAre("param train.eta 0.1 → 0.2"));

  s = Stage();
  s.params["search.yaml"]["grid.depths"] = "[3, 5, 7]";
  EXPECT_THAT(Explain(s), ElementsAre("param search.yaml:grid.depths [3, 5] → [3, 5, 7]"));

  s = Stage();
  s.params["params.yaml"]["train.layers"] = "2";
  EXPECT_THAT(Explain(s), ElementsAre("param train.layers added"));

  s = Stage();
  s.params["params.yaml"].erase("train.depth");
  EXPECT_THAT(Explain(s), ElementsAre("param train.depth removed"));

  // A whole file gone, or new.
  s = Stage();
  s.params.erase("search.yaml");
  s.params["other.yaml"]["seed"] = "1";
  EXPECT_THAT(Explain(s),
              ElementsAre("param other.yaml:seed added", "param search.yaml:grid.depths removed"));

  // The default params file is whichever the pipeline names.
  LockedStage locked = Locked();
  s = Stage();
  s.params["search.yaml"]["grid.depths"] = "[1]";
  s.params["params.yaml"]["train.eta"] = "0.3";
  EXPECT_THAT(
      ExplainChanges(s, &locked, {}, "search.yaml"),
      ElementsAre("param params.yaml:train.eta 0.1 → 0.3", "param grid.depths [3, 5] → [1]"));
}

TEST(ExplainChangesTest, Outs) {
  LockedStage s = Stage();
  s.outs.push_back(Out("zz/plot.csv"));
  EXPECT_THAT(Explain(s), ElementsAre("out zz/plot.csv added"));
  s = Stage();
  s.outs.erase(s.outs.begin());
  EXPECT_THAT(Explain(s), ElementsAre("out model.bin removed"));
  s = Stage();
  s.outs[0].cache = false;
  EXPECT_THAT(Explain(s), ElementsAre("out model.bin cache setting changed"));
}

TEST(ExplainChangesTest, EveryReasonInOrder) {
  LockedStage s = Stage();
  s.cmd = {"other"};
  s.wdir = "elsewhere";
  s.env["SEED"] = "9";
  s.deps[0].digest = HashBytes("changed");
  s.deps.push_back(Dep("z.py", "z"));
  s.params["params.yaml"]["train.eta"] = "0.5";
  s.outs = {Out("report.html"), Out("src/logs", false)};  // model.bin gone
  EXPECT_THAT(Explain(s), ElementsAre("cmd changed", "wdir changed", "env SEED changed",
                                      "dep data/train.csv changed", "dep z.py added",
                                      "param train.eta 0.1 → 0.5", "out model.bin removed",
                                      "out report.html added"));
}

}  // namespace
}  // namespace keel
