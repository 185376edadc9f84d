#include "pipeline/pipeline_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
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
using ::testing::StartsWith;

std::vector<std::string> DepPaths(const StageSpec& s) {
  std::vector<std::string> paths;
  for (const DepSpec& d : s.deps) paths.push_back(d.path);
  return paths;
}

// Parses `text` as keel.yaml and expects an invalid-argument error that
// starts with `where` ("keel.yaml:LINE:COL: ") and contains `why`.
void ExpectError(const std::string& text, const std::string& where, const std::string& why) {
  Result<PipelineSpec> spec = ParsePipeline(text, "keel.yaml");
  ASSERT_FALSE(spec.ok()) << text;
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument) << spec.status().ToString();
  EXPECT_THAT(spec.status().message(), StartsWith(where + ": ")) << text;
  EXPECT_THAT(spec.status().message(), HasSubstr(why)) << text;
}

// Line numbers in the comments are the lines of the YAML text.
constexpr char kFull[] =
    "params: conf/params.yaml\n"                                 // 1
    "stages:\n"                                                  // 2
    "  prepare:\n"                                               // 3
    "    cmd: python prepare.py data/adult.csv prepared/\n"      // 4
    "    deps: [prepare.py, data/adult.csv]\n"                   // 5
    "    params: [prepare.split]\n"                              // 6
    "    outs: [prepared/]\n"                                    // 7
    "  train:\n"                                                 // 8
    "    cmd:\n"                                                 // 9
    "      - python train.py\n"                                  // 10
    "      - python export.py\n"                                 // 11
    "    wdir: src/train\n"                                      // 12
    "    deps: [train.py, ../../prepared/, ./lib/../util.py]\n"  // 13
    "    params:\n"                                              // 14
    "      - train\n"                                            // 15
    "      - {search.yaml: [grid.depths, grid.eta]}\n"           // 16
    "      - {../../conf/other.yaml: [seed]}\n"                  // 17
    "    outs:\n"                                                // 18
    "      - model/\n"                                           // 19
    "      - {logs/: {cache: false}}\n"                          // 20
    "    metrics: [metrics.json]\n"                              // 21
    "    plots:\n"                                               // 22
    "      - roc.csv: {cache: false}\n"                          // 23
    "      - pr.csv: {cache: true}\n"                            // 24
    "    env: {OMP_NUM_THREADS: \"1\", MODE: fast}\n";           // 25

TEST(PipelineFileTest, ParsesFullExample) {
  Result<PipelineSpec> spec = ParsePipeline(kFull, "keel.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->file, "keel.yaml");
  EXPECT_EQ(spec->params_file, "conf/params.yaml");
  ASSERT_EQ(spec->stages.size(), 2u);

  const StageSpec& prepare = spec->stages[0];
  EXPECT_EQ(prepare.name, "prepare");
  EXPECT_EQ(prepare.where, "keel.yaml:3:3");
  EXPECT_THAT(prepare.cmd, ElementsAre("python prepare.py data/adult.csv prepared/"));
  EXPECT_FALSE(prepare.cmd_is_list);
  EXPECT_EQ(prepare.wdir, "");
  EXPECT_THAT(DepPaths(prepare), ElementsAre("prepare.py", "data/adult.csv"));
  EXPECT_EQ(prepare.deps[0].where, "keel.yaml:5:12");
  EXPECT_EQ(prepare.deps[1].where, "keel.yaml:5:24");
  ASSERT_EQ(prepare.params.size(), 1u);
  // A bare key names the default params file, as the top 'params' set it.
  EXPECT_EQ(prepare.params[0].file, "conf/params.yaml");
  EXPECT_EQ(prepare.params[0].key, "prepare.split");
  EXPECT_EQ(prepare.params[0].where, "keel.yaml:6:14");
  ASSERT_EQ(prepare.outs.size(), 1u);
  EXPECT_EQ(prepare.outs[0].path, "prepared");  // trailing slash dropped
  EXPECT_EQ(prepare.outs[0].kind, OutKind::kOut);
  EXPECT_TRUE(prepare.outs[0].cache);
  EXPECT_EQ(prepare.outs[0].where, "keel.yaml:7:12");
  EXPECT_TRUE(prepare.env.empty());

  const StageSpec& train = spec->stages[1];
  EXPECT_EQ(train.name, "train");
  EXPECT_EQ(train.where, "keel.yaml:8:3");
  EXPECT_THAT(train.cmd, ElementsAre("python train.py", "python export.py"));
  EXPECT_TRUE(train.cmd_is_list);
  EXPECT_EQ(train.wdir, "src/train");
  // Deps are relative to wdir, normalised to project paths.
  EXPECT_THAT(DepPaths(train), ElementsAre("src/train/train.py", "prepared", "src/train/util.py"));
  ASSERT_EQ(train.params.size(), 4u);
  // A section of the default file: relative to the project root, not wdir.
  EXPECT_EQ(train.params[0].file, "conf/params.yaml");
  EXPECT_EQ(train.params[0].key, "train");
  EXPECT_EQ(train.params[0].where, "keel.yaml:15:9");
  // An explicit params file is relative to wdir.
  EXPECT_EQ(train.params[1].file, "src/train/search.yaml");
  EXPECT_EQ(train.params[1].key, "grid.depths");
  EXPECT_EQ(train.params[1].where, "keel.yaml:16:24");
  EXPECT_EQ(train.params[2].file, "src/train/search.yaml");
  EXPECT_EQ(train.params[2].key, "grid.eta");
  EXPECT_EQ(train.params[3].file, "conf/other.yaml");
  EXPECT_EQ(train.params[3].key, "seed");

  ASSERT_EQ(train.outs.size(), 5u);
  EXPECT_EQ(train.outs[0].path, "src/train/model");
  EXPECT_EQ(train.outs[0].kind, OutKind::kOut);
  EXPECT_TRUE(train.outs[0].cache);
  EXPECT_EQ(train.outs[0].where, "keel.yaml:19:9");
  EXPECT_EQ(train.outs[1].path, "src/train/logs");
  EXPECT_EQ(train.outs[1].kind, OutKind::kOut);
  EXPECT_FALSE(train.outs[1].cache);
  EXPECT_EQ(train.outs[2].path, "src/train/metrics.json");
  EXPECT_EQ(train.outs[2].kind, OutKind::kMetric);
  EXPECT_TRUE(train.outs[2].cache);
  EXPECT_EQ(train.outs[3].path, "src/train/roc.csv");
  EXPECT_EQ(train.outs[3].kind, OutKind::kPlot);
  EXPECT_FALSE(train.outs[3].cache);
  EXPECT_EQ(train.outs[4].path, "src/train/pr.csv");
  EXPECT_EQ(train.outs[4].kind, OutKind::kPlot);
  EXPECT_TRUE(train.outs[4].cache);

  EXPECT_EQ(train.env,
            (std::map<std::string, std::string>{{"MODE", "fast"}, {"OMP_NUM_THREADS", "1"}}));

  EXPECT_EQ(spec->Find("train"), &spec->stages[1]);
  EXPECT_EQ(spec->Find("prepare"), &spec->stages[0]);
  EXPECT_EQ(spec->Find("trai"), nullptr);
  EXPECT_EQ(spec->Find(""), nullptr);
}

TEST(PipelineFileTest, DefaultsAndEmptyFiles) {
  for (const char* text : {"", "# nothing yet\n", "stages:\n", "params: p.yaml\n"}) {
    Result<PipelineSpec> spec = ParsePipeline(text, "keel.yaml");
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status().ToString();
    EXPECT_TRUE(spec->stages.empty()) << text;
  }
  Result<PipelineSpec> spec =
      ParsePipeline("stages:\n  a:\n    cmd: echo hi\n    params: [x]\n", "keel.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->params_file, "params.yaml");
  ASSERT_EQ(spec->stages[0].params.size(), 1u);
  EXPECT_EQ(spec->stages[0].params[0].file, "params.yaml");
  EXPECT_EQ(spec->stages[0].wdir, "");
  EXPECT_TRUE(spec->stages[0].deps.empty());
  EXPECT_TRUE(spec->stages[0].outs.empty());
}

TEST(PipelineFileTest, KeepsStagesInFileOrder) {
  Result<PipelineSpec> spec = ParsePipeline(
      "stages:\n  zeta: {cmd: a}\n  alpha: {cmd: b}\n  mid.1_x-y: {cmd: c}\n", "keel.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->stages.size(), 3u);
  EXPECT_EQ(spec->stages[0].name, "zeta");
  EXPECT_EQ(spec->stages[1].name, "alpha");
  EXPECT_EQ(spec->stages[2].name, "mid.1_x-y");
  EXPECT_EQ(spec->stages[2].where, "keel.yaml:4:3");
}

TEST(PipelineFileTest, UnknownTopKey) {
  ExpectError("stages:\n  a:\n    cmd: echo\nstage:\n  b: {}\n", "keel.yaml:4:1",
              "unknown key 'stage' (did you mean 'stages'?)");
  // Far from every known key: no suggestion.
  Result<PipelineSpec> spec = ParsePipeline("pipelines: {}\n", "keel.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), StartsWith("keel.yaml:1:1: unknown key 'pipelines'"));
  EXPECT_THAT(spec.status().message(), ::testing::Not(HasSubstr("did you mean")));
}

TEST(PipelineFileTest, UnknownStageKeySuggestsClosest) {
  ExpectError(
      "stages:\n"
      "  prepare:\n"
      "    cmd: echo\n"
      "  train:\n"
      "    cmd: python train.py\n"
      "    dep: [train.py]\n",
      "keel.yaml:6:5", "stage 'train': unknown key 'dep' (did you mean 'deps'?)");
  ExpectError("stages:\n  a:\n    cmd: echo\n    metric: [m.json]\n", "keel.yaml:4:5",
              "unknown key 'metric' (did you mean 'metrics'?)");
}

TEST(PipelineFileTest, MissingCmd) {
  ExpectError(
      "stages:\n"
      "  prepare:\n"
      "    cmd: echo\n"
      "  train:\n"
      "    deps: [a]\n",
      "keel.yaml:4:3", "stage 'train': missing key 'cmd'");
  ExpectError("stages:\n  a: {}\n", "keel.yaml:2:3", "stage 'a': missing key 'cmd'");
}

TEST(PipelineFileTest, CmdNotAString) {
  ExpectError("stages:\n  a:\n    cmd: {run: x}\n", "keel.yaml:3:10",
              "stage 'a': cmd: expected a command or a list of commands");
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd:\n"
      "      - echo one\n"
      "      - [echo, two]\n",
      "keel.yaml:5:9", "stage 'a': cmd: each command must be a string");
  ExpectError("stages:\n  a:\n    cmd: '  '\n", "keel.yaml:3:10", "stage 'a': cmd: empty command");
}

TEST(PipelineFileTest, AbsolutePath) {
  ExpectError("stages:\n  a:\n    cmd: echo\n    deps: [/etc/passwd]\n", "keel.yaml:4:12",
              "stage 'a': dep: '/etc/passwd' must be relative to the project");
  ExpectError("stages:\n  a:\n    cmd: echo\n    outs:\n      - data.csv\n      - /tmp/out.csv\n",
              "keel.yaml:6:9", "'/tmp/out.csv' must be relative to the project");
  ExpectError("stages:\n  a:\n    cmd: echo\n    wdir: /src\n", "keel.yaml:4:11",
              "stage 'a': wdir: '/src' must be relative to the project");
}

TEST(PipelineFileTest, PathEscapingTheProject) {
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: echo\n"
      "    wdir: sub\n"
      "    outs:\n"
      "      - ../ok.txt\n"
      "      - ../../out.txt\n",
      "keel.yaml:7:9", "stage 'a': outs: '../../out.txt' lies outside the project");
  ExpectError("stages:\n  a:\n    cmd: echo\n    deps: [a/../../b]\n", "keel.yaml:4:12",
              "'a/../../b' lies outside the project");
  ExpectError("stages:\n  a:\n    cmd: echo\n    wdir: ..\n", "keel.yaml:4:11",
              "lies outside the project");
  ExpectError(
      "stages:\n  a:\n    cmd: echo\n    wdir: sub\n    params:\n      - {../../p.yaml: [k]}\n",
      "keel.yaml:6:10", "lies outside the project");
}

TEST(PipelineFileTest, PathInsideKeelDir) {
  ExpectError("stages:\n  a:\n    cmd: echo\n    deps: [.keel/cache/x]\n", "keel.yaml:4:12",
              "stage 'a': dep: '.keel/cache/x' lies inside .keel/");
  // Found after normalising against wdir.
  ExpectError("stages:\n  a:\n    cmd: echo\n    wdir: sub\n    outs: [../.keel]\n",
              "keel.yaml:5:12", "'../.keel' lies inside .keel/");
  ExpectError("stages:\n  a:\n    cmd: echo\n    metrics: [.git/m.json]\n", "keel.yaml:4:15",
              "lies inside .git/");
  // A name that merely starts with ".keel" is fine.
  Result<PipelineSpec> ok =
      ParsePipeline("stages:\n  a:\n    cmd: echo\n    deps: [.keelrc]\n", "keel.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->stages[0].deps[0].path, ".keelrc");
}

TEST(PipelineFileTest, WholeProjectIsNotADepOrOut) {
  ExpectError("stages:\n  a:\n    cmd: echo\n    deps: [.]\n", "keel.yaml:4:12",
              "the whole project cannot be a dep");
  ExpectError("stages:\n  a:\n    cmd: echo\n    wdir: sub\n    outs: [..]\n", "keel.yaml:5:12",
              "the whole project cannot be an out");
}

TEST(PipelineFileTest, BadStageName) {
  ExpectError(
      "stages:\n"
      "  good:\n"
      "    cmd: echo\n"
      "  \"bad name\":\n"
      "    cmd: echo\n",
      "keel.yaml:4:3", "stage name 'bad name': use letters, digits, '_', '-' and '.'");
  ExpectError("stages:\n  a/b:\n    cmd: echo\n", "keel.yaml:2:3", "stage name 'a/b'");
  ExpectError("stages:\n  \"\":\n    cmd: echo\n", "keel.yaml:2:3", "stage name ''");
}

TEST(PipelineFileTest, EnvValueMustBeAString) {
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: echo\n"
      "    env:\n"
      "      OK: yes\n"
      "      OMP: [1, 2]\n",
      "keel.yaml:6:12", "stage 'a': env: OMP: expected a string");
  ExpectError("stages:\n  a:\n    cmd: echo\n    env: [A=1]\n", "keel.yaml:4:10",
              "stage 'a': env: expected a mapping");
}

TEST(PipelineFileTest, UnknownOutOption) {
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: echo\n"
      "    outs:\n"
      "      - model.bin: {cach: false}\n",
      "keel.yaml:5:21", "stage 'a': outs: unknown key 'cach' (did you mean 'cache'?)");
  ExpectError("stages:\n  a:\n    cmd: echo\n    plots:\n      - {roc.csv: {persist: true}}\n",
              "keel.yaml:5:20", "stage 'a': plots: unknown key 'persist'");
}

TEST(PipelineFileTest, CacheMustBeABool) {
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: echo\n"
      "    outs:\n"
      "      - model.bin: {cache: maybe}\n",
      "keel.yaml:5:28", "stage 'a': outs: cache: expected true or false");
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: echo\n"
      "    metrics:\n"
      "      - m.json:\n"
      "          cache: [false]\n",
      "keel.yaml:6:18", "stage 'a': metrics: cache: expected true or false");
}

TEST(PipelineFileTest, YamlSyntaxError) {
  Result<PipelineSpec> spec =
      ParsePipeline("stages:\n  a:\n    cmd: [echo, hi\n  b:\n", "keel.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), StartsWith("keel.yaml:"));

  // A mapping value where a plain scalar goes on: yaml-cpp marks the colon.
  spec = ParsePipeline("stages:\n  a:\n    cmd: echo\n    deps: a: b\n", "keel.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), StartsWith("keel.yaml:4:12: "));
}

// An empty value has no place of its own in the text; yaml-cpp marks where
// the next token starts. The error must still name the line of the key.
TEST(PipelineFileTest, EmptyValueErrorsNameTheKeyLine) {
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd:\n"
      "    deps: [x]\n",
      "keel.yaml:3:5", "stage 'a': cmd: expected a command or a list of commands");
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: echo\n"
      "    env:\n"
      "      A:\n"
      "      B: x\n",
      "keel.yaml:5:7", "stage 'a': env: A: expected a string");
}

// YAML forbids repeated keys in a mapping; yaml-cpp accepts them, so the
// parser must refuse them itself rather than keep one and drop the other.
TEST(PipelineFileTest, RepeatedKeysAreRefused) {
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: x\n"
      "    outs: [o]\n"
      "  a:\n"
      "    cmd: y\n"
      "    deps: [o]\n",
      "keel.yaml:5:3", "'a'");
  ExpectError(
      "stages:\n"
      "  a:\n"
      "    cmd: x\n"
      "    deps: [one]\n"
      "    deps: [two]\n",
      "keel.yaml:5:5", "'deps'");
}

TEST(PipelineFileTest, WrongShapes) {
  ExpectError("- a\n- b\n", "keel.yaml:1:1", "expected a mapping");
  ExpectError("stages: [a, b]\n", "keel.yaml:1:9", "'stages' must be a mapping");
  ExpectError("stages:\n  a: echo hi\n", "keel.yaml:2:6", "stage 'a': expected a mapping");
  ExpectError("stages:\n  a:\n    cmd: echo\n    deps: train.py\n", "keel.yaml:4:11",
              "stage 'a': deps: expected a list");
  ExpectError("stages:\n  a:\n    cmd: echo\n    params: [{p.yaml: [k]}, [x]]\n", "keel.yaml:4:29",
              "stage 'a': params: expected a key, a section or {FILE: [keys]}");
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

TEST(PipelineFileTest, ModelSectionAsOneMapping) {
  Result<PipelineSpec> spec = ParsePipeline(
      "stages:\n"                                                           // 1
      "  train:\n"                                                          // 2
      "    cmd: sh train.sh\n"                                              // 3
      "    outs: [model/, artifacts]\n"                                     // 4
      "model: {name: census, path: model/, flavor: xgboost}\n",             // 5
      "keel.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->models.size(), 1u);
  EXPECT_EQ(spec->models[0].name, "census");
  EXPECT_EQ(spec->models[0].path, "model");  // normalised like outs
  EXPECT_EQ(spec->models[0].flavor, "xgboost");
  EXPECT_EQ(spec->models[0].description, "");
  EXPECT_EQ(spec->models[0].where, "keel.yaml:5:8");
}

TEST(PipelineFileTest, ModelSectionAsAList) {
  Result<PipelineSpec> spec = ParsePipeline(
      "model:\n"                                   // 1: before the stages it names
      "  - name: census\n"                         // 2
      "    path: model\n"                          // 3
      "  - name: census.small\n"                   // 4
      "    path: artifacts/small\n"                // 5: a folder inside an out
      "    description: distilled\n"               // 6
      "stages:\n"                                  // 7
      "  train:\n"                                 // 8
      "    wdir: src\n"                            // 9
      "    cmd: sh train.sh\n"                     // 10
      "    outs: [../model, ../artifacts]\n",      // 11
      "keel.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  ASSERT_EQ(spec->models.size(), 2u);
  EXPECT_EQ(spec->models[0].name, "census");
  EXPECT_EQ(spec->models[0].path, "model");
  EXPECT_EQ(spec->models[0].flavor, "");
  EXPECT_EQ(spec->models[0].where, "keel.yaml:2:5");
  EXPECT_EQ(spec->models[1].name, "census.small");
  EXPECT_EQ(spec->models[1].path, "artifacts/small");
  EXPECT_EQ(spec->models[1].description, "distilled");
  EXPECT_TRUE(ParsePipeline("stages:\n  a: {cmd: x}\nmodel:\n", "keel.yaml").ok());  // empty: none
}

TEST(PipelineFileTest, ModelSectionErrorsNameTheLine) {
  const std::string stages = "stages:\n  train:\n    cmd: sh train.sh\n    outs: [model, metrics]\n";  // 1-4
  ExpectError(stages + "model: {name: census, path: modle}\n", "keel.yaml:5:29",
              "model 'census': path 'modle' is not an out of any stage (did you mean 'model'?)");
  ExpectError(stages + "model: {name: census, path: data}\n", "keel.yaml:5:29",
              "path 'data' is not an out of any stage");
  ExpectError(stages + "model:\n  name: census\n  path: model\n  flavour: xgboost\n", "keel.yaml:8:3",
              "model: unknown key 'flavour' (did you mean 'flavor'?)");
  ExpectError(stages + "model: {path: model}\n", "keel.yaml:5:8", "model: missing key 'name'");
  ExpectError(stages + "model: {name: census}\n", "keel.yaml:5:8", "model 'census': missing key 'path'");
  ExpectError(stages + "model: {name: -census, path: model}\n", "keel.yaml:5:15", "model: name '-census'");
  ExpectError(stages + "model: {name: census, path: /abs/model}\n", "keel.yaml:5:29",
              "must be relative to the project");
  ExpectError(stages + "model: [{name: a, path: model}, {name: a, path: metrics}]\n", "keel.yaml:5:40",
              "model 'a' is listed twice");
  ExpectError(stages + "model: census\n", "keel.yaml:5:8", "model: expected {name: NAME, path: FOLDER}");
  ExpectError(stages + "model: [census]\n", "keel.yaml:5:9", "model: expected a mapping with 'name' and 'path'");
  ExpectError(stages + "model: {name: census, path: model, flavor: [x]}\n", "keel.yaml:5:44",
              "model 'census': flavor: expected a string");
  ExpectError(stages + "models: {name: census, path: model}\n", "keel.yaml:5:1",
              "unknown key 'models' (did you mean 'model'?)");
  ExpectError("model: {name: census, path: model}\n", "keel.yaml:1:29", "is not an out of any stage");
}

TEST(PipelineSpecCacheTest, EncodeDecodeRoundTrip) {
  Result<PipelineSpec> spec = ParsePipeline(
      std::string(kFull) + "model:\n  - {name: census, path: src/train/model, flavor: xgboost, description: d}\n"
                           "  - {name: logs, path: src/train/logs}\n",
      "keel.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  std::string encoded = EncodeSpec(*spec);
  std::optional<PipelineSpec> decoded = DecodeSpec(encoded);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(EncodeSpec(*decoded), encoded);
  ASSERT_EQ(decoded->stages.size(), spec->stages.size());
  for (size_t i = 0; i < spec->stages.size(); ++i) {
    const StageSpec& a = spec->stages[i];
    const StageSpec& b = decoded->stages[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.where, b.where);
    EXPECT_EQ(a.cmd, b.cmd);
    EXPECT_EQ(a.cmd_is_list, b.cmd_is_list);
    EXPECT_EQ(a.wdir, b.wdir);
    EXPECT_EQ(DepPaths(a), DepPaths(b));
    EXPECT_EQ(a.env, b.env);
    ASSERT_EQ(a.params.size(), b.params.size());
    for (size_t j = 0; j < a.params.size(); ++j) {
      EXPECT_EQ(a.params[j].file, b.params[j].file);
      EXPECT_EQ(a.params[j].key, b.params[j].key);
      EXPECT_EQ(a.params[j].where, b.params[j].where);
    }
    ASSERT_EQ(a.outs.size(), b.outs.size());
    for (size_t j = 0; j < a.outs.size(); ++j) {
      EXPECT_EQ(a.outs[j].path, b.outs[j].path);
      EXPECT_EQ(a.outs[j].kind, b.outs[j].kind);
      EXPECT_EQ(a.outs[j].cache, b.outs[j].cache);
    }
  }
  EXPECT_EQ(decoded->params_file, spec->params_file);
  ASSERT_EQ(decoded->models.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(decoded->models[i].name, spec->models[i].name);
    EXPECT_EQ(decoded->models[i].path, spec->models[i].path);
    EXPECT_EQ(decoded->models[i].flavor, spec->models[i].flavor);
    EXPECT_EQ(decoded->models[i].description, spec->models[i].description);
    EXPECT_EQ(decoded->models[i].where, spec->models[i].where);
  }
  EXPECT_EQ(decoded->models[0].description, "d");
}

TEST(PipelineSpecCacheTest, RefusesAnythingElse) {
  Result<PipelineSpec> spec = ParsePipeline(kFull, "keel.yaml");
  ASSERT_TRUE(spec.ok());
  std::string encoded = EncodeSpec(*spec);
  // Every truncation, and any trailing byte, is refused rather than misread.
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_FALSE(DecodeSpec(std::string_view(encoded).substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(DecodeSpec(encoded + "x").has_value());
  std::string other_magic = encoded;
  other_magic[0] = 'X';
  EXPECT_FALSE(DecodeSpec(other_magic).has_value());
}

}  // namespace
}  // namespace keel
