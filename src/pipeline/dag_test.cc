#include "pipeline/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

PipelineSpec Spec(const std::string& yaml) {
  Result<PipelineSpec> spec = ParsePipeline(yaml, "keel.yaml");
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return spec.ok() ? *spec : PipelineSpec();
}

// Every dep exists in the workspace.
bool AllExist(const std::string&) {
  return true;
}

std::vector<std::string> Names(const PipelineSpec& spec, const std::vector<size_t>& stages) {
  std::vector<std::string> names;
  for (size_t s : stages) names.push_back(spec.stages[s].name);
  return names;
}

std::vector<std::string> Names(const PipelineSpec& spec, const std::vector<bool>& in) {
  std::vector<std::string> names;
  for (size_t s = 0; s < in.size(); ++s) {
    if (in[s]) names.push_back(spec.stages[s].name);
  }
  return names;
}

size_t Index(const PipelineSpec& spec, const std::string& name) {
  const StageSpec* s = spec.Find(name);
  EXPECT_NE(s, nullptr) << name;
  return s == nullptr ? 0 : static_cast<size_t>(s - spec.stages.data());
}

// Builds and expects an invalid-argument error starting with `where`.
void ExpectBuildError(const std::string& yaml, const std::string& where, const std::string& why) {
  PipelineSpec spec = Spec(yaml);
  Result<Dag> dag = Dag::Build(spec, AllExist);
  ASSERT_FALSE(dag.ok()) << yaml;
  EXPECT_EQ(dag.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dag.status().message(), StartsWith(where + ": ")) << yaml;
  EXPECT_THAT(dag.status().message(), HasSubstr(why)) << yaml;
}

// top → left, top → right, left + right → bottom, in the given file order.
std::string Diamond(const std::vector<std::string>& file_order) {
  std::string yaml = "stages:\n";
  for (const std::string& name : file_order) {
    yaml += "  " + name + ":\n    cmd: make " + name + "\n";
    if (name == "top") yaml += "    outs: [top.out]\n";
    if (name == "left") yaml += "    deps: [top.out]\n    outs: [left.out]\n";
    if (name == "right") yaml += "    deps: [top.out]\n    outs: [right.out]\n";
    if (name == "bottom") yaml += "    deps: [left.out, right.out]\n    outs: [bottom.out]\n";
  }
  return yaml;
}

TEST(DagTest, DiamondOrderRespectsEdgesAndFileOrder) {
  struct Case {
    std::vector<std::string> file_order;
    std::vector<std::string> expected;
  };
  for (const Case& c : std::vector<Case>{
           {{"top", "left", "right", "bottom"}, {"top", "left", "right", "bottom"}},
           {{"bottom", "right", "left", "top"}, {"top", "right", "left", "bottom"}},
           {{"left", "bottom", "top", "right"}, {"top", "left", "right", "bottom"}},
       }) {
    SCOPED_TRACE(::testing::PrintToString(c.file_order));
    PipelineSpec spec = Spec(Diamond(c.file_order));
    Result<Dag> dag = Dag::Build(spec, AllExist);
    ASSERT_TRUE(dag.ok()) << dag.status().ToString();
    ASSERT_EQ(dag->size(), 4u);
    EXPECT_EQ(Names(spec, dag->order()), c.expected);

    const size_t top = Index(spec, "top"), left = Index(spec, "left"), right = Index(spec, "right"),
                 bottom = Index(spec, "bottom");
    EXPECT_THAT(dag->upstream(top), IsEmpty());
    EXPECT_THAT(dag->upstream(left), ElementsAre(top));
    EXPECT_THAT(dag->upstream(right), ElementsAre(top));
    EXPECT_EQ(dag->upstream(bottom),
              (std::vector<size_t>{std::min(left, right), std::max(left, right)}));
    EXPECT_EQ(dag->downstream(top),
              (std::vector<size_t>{std::min(left, right), std::max(left, right)}));
    EXPECT_THAT(dag->downstream(left), ElementsAre(bottom));
    EXPECT_THAT(dag->downstream(bottom), IsEmpty());
    // Every edge goes forward in the order.
    std::vector<size_t> pos(dag->size());
    for (size_t i = 0; i < dag->order().size(); ++i) pos[dag->order()[i]] = i;
    for (size_t s = 0; s < dag->size(); ++s) {
      for (size_t u : dag->upstream(s))
        EXPECT_LT(pos[u], pos[s]) << spec.stages[u].name << " -> " << spec.stages[s].name;
    }
  }
}

TEST(DagTest, IndependentStagesKeepFileOrder) {
  PipelineSpec spec = Spec("stages:\n  c: {cmd: x}\n  a: {cmd: x}\n  b: {cmd: x}\n");
  Result<Dag> dag = Dag::Build(spec, AllExist);
  ASSERT_TRUE(dag.ok()) << dag.status().ToString();
  EXPECT_EQ(Names(spec, dag->order()), (std::vector<std::string>{"c", "a", "b"}));
}

TEST(DagTest, FoldersLinkStages) {
  PipelineSpec spec = Spec(
      "stages:\n"
      "  prepare:\n"
      "    cmd: x\n"
      "    outs: [data/prepared]\n"
      "  train:\n"  // reads a file inside prepare's folder out
      "    cmd: x\n"
      "    deps: [data/prepared/train.csv]\n"
      "  report:\n"
      "    cmd: x\n"
      "    outs: [reports/summary.json]\n"
      "  publish:\n"  // reads a folder that holds report's out
      "    cmd: x\n"
      "    deps: [reports]\n"
      "  other:\n"  // a sibling whose name shares a prefix
      "    cmd: x\n"
      "    deps: [data/prepared-old, reports.txt, data]\n");
  Result<Dag> dag = Dag::Build(spec, AllExist);
  ASSERT_TRUE(dag.ok()) << dag.status().ToString();
  EXPECT_EQ(Names(spec, dag->upstream(Index(spec, "train"))),
            (std::vector<std::string>{"prepare"}));
  EXPECT_EQ(Names(spec, dag->upstream(Index(spec, "publish"))),
            (std::vector<std::string>{"report"}));
  EXPECT_EQ(Names(spec, dag->downstream(Index(spec, "prepare"))),
            (std::vector<std::string>{"train", "other"}));
  EXPECT_EQ(Names(spec, dag->downstream(Index(spec, "report"))),
            (std::vector<std::string>{"publish"}));
  // "data" holds data/prepared; "data/prepared-old" and "reports.txt" are
  // neither inside nor around any out.
  EXPECT_EQ(Names(spec, dag->upstream(Index(spec, "other"))),
            (std::vector<std::string>{"prepare"}));
}

TEST(DagTest, SameOutInTwoStages) {
  PipelineSpec spec = Spec(
      "stages:\n"
      "  first:\n"
      "    cmd: x\n"
      "    outs: [model.bin]\n"
      "  second:\n"
      "    cmd: y\n"
      "    wdir: sub\n"
      "    metrics: [../model.bin]\n");
  Result<Dag> dag = Dag::Build(spec, AllExist);
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dag.status().message(),
            "keel.yaml:8:15: out 'model.bin' is declared by both stage 'first' (keel.yaml:4:12) "
            "and stage 'second'");
}

TEST(DagTest, NestedOuts) {
  ExpectBuildError(
      "stages:\n"
      "  a:\n"
      "    cmd: x\n"
      "    outs: [data]\n"
      "  b:\n"
      "    cmd: y\n"
      "    outs: [data/sub/file.csv]\n",
      "keel.yaml:7:12",
      "out 'data/sub/file.csv' of stage 'b' lies inside out 'data' of stage 'a' (keel.yaml:4:12)");
  // Within one stage too.
  ExpectBuildError("stages:\n  a:\n    cmd: x\n    outs: [model/weights, model]\n",
                   "keel.yaml:4:12", "out 'model/weights' of stage 'a' lies inside out 'model'");
  // Siblings that share a prefix are not nested.
  PipelineSpec ok = Spec("stages:\n  a:\n    cmd: x\n    outs: [data, data-2, data.csv, dat]\n");
  EXPECT_TRUE(Dag::Build(ok, AllExist).ok());
}

// Sorted, "data-x" and "data.csv" fall between "data" and "data/inner"
// ('-' and '.' sort before '/'): the nesting must still be found.
TEST(DagTest, NestedOutsFoundPastSiblingsThatSortBetween) {
  for (const char* sibling : {"data-x", "data.csv", "data!"}) {
    SCOPED_TRACE(sibling);
    ExpectBuildError(std::string("stages:\n"
                                 "  a:\n"
                                 "    cmd: x\n"
                                 "    outs: [data]\n"
                                 "  b:\n"
                                 "    cmd: y\n"
                                 "    outs: [") +
                         sibling +
                         "]\n"
                         "  c:\n"
                         "    cmd: z\n"
                         "    outs: [data/inner]\n",
                     "keel.yaml:10:12",
                     "out 'data/inner' of stage 'c' lies inside out 'data' of stage 'a'");
  }
}

TEST(DagTest, OutThatIsADepOfItsOwnStage) {
  ExpectBuildError(
      "stages:\n"
      "  a:\n"
      "    cmd: x\n"
      "    deps: [model.bin]\n"
      "    outs: [model.bin]\n",
      "keel.yaml:4:12", "stage 'a': 'model.bin' is both a dep and an out (keel.yaml:5:12)");
  // A dep folder holding the stage's own out.
  ExpectBuildError("stages:\n  a:\n    cmd: x\n    deps: [data]\n    outs: [data/out.csv]\n",
                   "keel.yaml:4:12", "is both a dep and an out");
}

TEST(DagTest, CycleIsNamedInDataFlowOrder) {
  // b reads a's out, c reads b's, a reads c's: a -> b -> c -> a.
  const std::string stages[3][3] = {
      {"a", "c.out", "a.out"}, {"b", "a.out", "b.out"}, {"c", "b.out", "c.out"}};
  struct Case {
    std::vector<int> file_order;  // indices into stages
    std::string where;
    std::string cycle;
  };
  for (const Case& c : std::vector<Case>{
           {{0, 1, 2}, "keel.yaml:2:3", "cycle: a -> b -> c -> a"},
           {{2, 1, 0}, "keel.yaml:2:3", "cycle: c -> a -> b -> c"},
           {{1, 0, 2}, "keel.yaml:2:3", "cycle: b -> c -> a -> b"},
       }) {
    std::string yaml = "stages:\n";
    for (int i : c.file_order) {
      yaml += "  " + stages[i][0] + ":\n    cmd: x\n    deps: [" + stages[i][1] + "]\n    outs: [" +
              stages[i][2] + "]\n";
    }
    SCOPED_TRACE(yaml);
    PipelineSpec spec = Spec(yaml);
    Result<Dag> dag = Dag::Build(spec, AllExist);
    ASSERT_FALSE(dag.ok());
    EXPECT_EQ(dag.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(dag.status().message(),
              c.where + ": " + c.cycle + " (each stage reads an out of the one before it)");
  }
}

TEST(DagTest, CycleOfTwoBehindAnUpstreamStage) {
  // src feeds a; a and b read each other's outs.
  PipelineSpec spec = Spec(
      "stages:\n"
      "  src:\n"
      "    cmd: x\n"
      "    outs: [src.out]\n"
      "  a:\n"
      "    cmd: x\n"
      "    deps: [src.out, b.out]\n"
      "    outs: [a.out]\n"
      "  b:\n"
      "    cmd: x\n"
      "    deps: [a.out]\n"
      "    outs: [b.out]\n");
  Result<Dag> dag = Dag::Build(spec, AllExist);
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().message(),
            "keel.yaml:5:3: cycle: a -> b -> a (each stage reads an out of the one before it)");

  // Found from a stage downstream of the cycle: only the cycle is named.
  spec = Spec(
      "stages:\n"
      "  x:\n"
      "    cmd: x\n"
      "    deps: [a.out]\n"
      "  a:\n"
      "    cmd: x\n"
      "    deps: [b.out]\n"
      "    outs: [a.out]\n"
      "  b:\n"
      "    cmd: x\n"
      "    deps: [a.out]\n"
      "    outs: [b.out]\n");
  dag = Dag::Build(spec, AllExist);
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().message(),
            "keel.yaml:5:3: cycle: a -> b -> a (each stage reads an out of the one before it)");
}

TEST(DagTest, MissingDep) {
  std::vector<std::string> asked;
  PipelineSpec spec = Spec(
      "stages:\n"
      "  a:\n"
      "    cmd: x\n"
      "    outs: [a.out]\n"
      "  b:\n"
      "    cmd: y\n"
      "    wdir: src\n"
      "    deps: [../a.out, train.py, missing.csv]\n");
  Result<Dag> dag = Dag::Build(spec, [&](const std::string& path) {
    asked.push_back(path);
    return path == "src/train.py";
  });
  ASSERT_FALSE(dag.ok());
  EXPECT_EQ(dag.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      dag.status().message(),
      "keel.yaml:8:32: stage 'b': dep 'src/missing.csv' neither exists nor is an out of any stage");
  // An out of a stage need not exist yet.
  EXPECT_THAT(asked, ::testing::Not(::testing::Contains("a.out")));

  // Once it exists, the graph builds.
  Result<Dag> ok = Dag::Build(spec, AllExist);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_THAT(ok->upstream(1), ElementsAre(0u));
}

TEST(DagTest, Closure) {
  // a -> b -> c -> e, d alone, f reads a and d.
  PipelineSpec spec = Spec(
      "stages:\n"
      "  a: {cmd: x, outs: [a.out]}\n"
      "  b: {cmd: x, deps: [a.out], outs: [b.out]}\n"
      "  c: {cmd: x, deps: [b.out], outs: [c.out]}\n"
      "  d: {cmd: x, outs: [d.out]}\n"
      "  e: {cmd: x, deps: [c.out]}\n"
      "  f: {cmd: x, deps: [a.out, d.out]}\n");
  Result<Dag> dag = Dag::Build(spec, AllExist);
  ASSERT_TRUE(dag.ok()) << dag.status().ToString();
  const size_t a = 0, b = 1, c = 2, d = 3, f = 5;
  EXPECT_THAT(Names(spec, dag->Closure({c}, Direction::kUpstream)), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Names(spec, dag->Closure({b}, Direction::kDownstream)), ElementsAre("b", "c", "e"));
  EXPECT_THAT(Names(spec, dag->Closure({a}, Direction::kDownstream)),
              ElementsAre("a", "b", "c", "e", "f"));
  EXPECT_THAT(Names(spec, dag->Closure({f}, Direction::kUpstream)), ElementsAre("a", "d", "f"));
  EXPECT_THAT(Names(spec, dag->Closure({b, d}, Direction::kUpstream)), ElementsAre("a", "b", "d"));
  EXPECT_THAT(Names(spec, dag->Closure({d}, Direction::kUpstream)), ElementsAre("d"));
  std::vector<bool> none = dag->Closure({}, Direction::kDownstream);
  EXPECT_EQ(none, std::vector<bool>(6, false));
}

}  // namespace
}  // namespace keel
