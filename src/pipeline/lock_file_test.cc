#include "pipeline/lock_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "pipeline/params.h"

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

LockedPath Path(std::string path, std::string_view content, DataKind kind = DataKind::kFile,
                uint64_t files = 1) {
  LockedPath p;
  p.path = std::move(path);
  p.kind = kind;
  p.digest = HashBytes(content);
  p.size = content.size();
  p.files = files;
  return p;
}

LockedStage Prepare() {
  LockedStage s;
  s.name = "prepare";
  s.cmd = {"python prepare.py --note 'split: 0.2' \"quoted\" # not a comment"};
  s.deps = {Path("data/adult.csv", "rows"), Path("prepare.py", "code")};
  s.params = {{"params.yaml", {{"prepare.split", "0.2"}}}};
  s.outs = {Path("prepared", "manifest", DataKind::kDir, 2)};
  return s;
}

LockedStage Train() {
  LockedStage s;
  s.name = "train";
  s.cmd = {"python train.py", "echo 'done: yes'\necho second line", "- not a list item"};
  s.cmd_is_list = true;
  s.wdir = "src/train";
  s.env = {{"OMP_NUM_THREADS", "1"}, {"MSG", "a: b"}, {"EMPTY", ""}, {"HASH", "#x"}};
  s.deps = {Path("prepared", "manifest", DataKind::kDir, 2), Path("src/train/train.py", "train")};
  s.params = {
      {"params.yaml",
       {{"train.eta", "0.1"},
        {"train.layers", "[1, 2]"},
        {"train.opt", "null"},
        {"train.tilde", "~"},
        {"train.name", "it's \"quoted\": yes"},
        {"train.flag", "true"},
        {"train.empty", ""},
        {"train.map", "{a: 1}"}}},
      {"src/train/search.yaml", {{"grid.depths", "[3, 5]"}}},
  };
  LockedPath run = Path("src/train/run.sh", "#!/bin/sh\n");
  run.executable = true;
  LockedPath logs = Path("src/train/logs", "logs manifest", DataKind::kDir, 7);
  logs.cache = false;
  s.outs = {Path("src/train/model", "model", DataKind::kDir, 3), logs, run};
  std::sort(s.outs.begin(), s.outs.end(),
            [](const LockedPath& a, const LockedPath& b) { return a.path < b.path; });
  return s;
}

void ExpectSameStage(const LockedStage& got, const LockedStage& want) {
  SCOPED_TRACE(want.name);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.cmd, want.cmd);
  EXPECT_EQ(got.cmd_is_list, want.cmd_is_list);
  EXPECT_EQ(got.wdir, want.wdir);
  EXPECT_EQ(got.env, want.env);
  // keel.lock records no kind for a dep (docs/format/pipeline.md): a folder
  // dep reads back as kind file, and nothing compares a dep's kind.
  std::vector<LockedPath> want_deps = want.deps;
  for (LockedPath& d : want_deps) d.kind = DataKind::kFile;
  EXPECT_EQ(got.deps, want_deps);
  EXPECT_EQ(got.params, want.params);
  EXPECT_EQ(got.outs, want.outs);
  EXPECT_EQ(got.Signature(), want.Signature());
}

TEST(LockFileTest, RoundTripKeepsEveryField) {
  LockFile lock;
  lock.stages = {Train(), Prepare()};  // not alphabetical: the order given is kept
  std::string text = SerializeLockFile(lock);
  Result<LockFile> back = ParseLockFile(text, "keel.lock");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  ASSERT_EQ(back->stages.size(), 2u) << text;
  ExpectSameStage(back->stages[0], Train());
  ExpectSameStage(back->stages[1], Prepare());
  EXPECT_EQ(SerializeLockFile(*back), text);
}

TEST(LockFileTest, ParamValuesFromAParamsFileRoundTrip) {
  // Whatever ParamsFile makes of a value, the lock must give back unchanged,
  // or the stage would look changed on every run.
  Result<ParamsFile> params = ParamsFile::Parse(
      "a: 0.1\n"
      "b: [1, 2]\n"
      "c: null\n"
      "d: ''\n"
      "e: '~'\n"
      "f: 'x: y'\n"
      "g: \"it's \\\"q\\\"\"\n"
      "h: {}\n"
      "i: [{k: v}, 'a, b']\n"
      "j: '  padded  '\n"
      "k: \"tab\\there\"\n"
      "l: \"line\\nbreak\"\n"
      "m: '- dash'\n"
      "n: '@at'\n"
      "o: '*star'\n"
      "p: '!bang'\n"
      "q: '%pct'\n"
      "r: '&amp'\n"
      "s: '|pipe'\n"
      "t: '>gt'\n"
      "u: '? q'\n"
      "v: données\n",
      "params.yaml");
  ASSERT_TRUE(params.ok()) << params.status().ToString();
  LockedStage s;
  s.name = "s";
  s.cmd = {"true"};
  s.params["params.yaml"] = params->values();
  std::string text = SerializeLockedStage(s);
  Result<LockedStage> back = ParseLockedStage(text, "run");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
  EXPECT_EQ(back->params, s.params) << text;
}

// Texts YAML would read as something else if written plainly.
const std::vector<std::string> kAwkward = {
    "",       "~",       "null", "Null",   "NULL",   " lead",      "trail ", "a #b",
    "a: b",   "ends:",   "#x",   "- x",    "---",    "...",        "|",      ">",
    "[1, 2]", "{a: 1}",  "'q'",  "\"dq\"", "back\\", "tab\there",  "a\nb",   "cr\r",
    "\x01",   "données", "@at",  "`tick`", "%pct",   "!bang",      "&amp",   "*star",
    "? q",    "a,b",     "true", "0x10",   "1e3",    "it's \"q\"", ":",      "-",
};

LockedStage Awkward() {
  LockedStage s;
  s.name = "-odd.name_1";
  s.cmd = kAwkward;
  s.cmd_is_list = true;
  s.wdir = "sub dir";
  for (size_t i = 0; i < kAwkward.size(); ++i) {
    s.env["V" + std::to_string(i)] = kAwkward[i];
    s.params["params.yaml"]["k" + std::to_string(i)] = kAwkward[i];
  }
  s.params["odd file.yaml"]["a: b"] = "1";
  s.params["odd file.yaml"]["null"] = "2";
  s.params["odd file.yaml"]["- k"] = "3";
  s.deps = {Path(" lead.csv", "x"), Path("a: b.csv", "y"), Path("null", "z")};
  s.outs = {Path("#out", "o"), Path("~", "t", DataKind::kDir, 4)};
  return s;
}

// keel.lock is read by a fast reader for the layout SerializeLockFile
// writes, and by yaml-cpp for anything else: both must give the same lock.
TEST(LockFileTest, FastAndFullReadersAgree) {
  LockFile lock;
  lock.stages = {Train(), Awkward(), Prepare()};
  std::string text = SerializeLockFile(lock);
  // Trailing blanks after "schema: 1" are still YAML but not the canonical
  // layout: this text goes to yaml-cpp.
  std::string edited = text;
  const size_t at = edited.find("schema: 1\n");
  ASSERT_NE(at, std::string::npos) << text;
  edited.insert(at + 9, "   ");
  for (const std::string* t : {&text, &edited}) {
    SCOPED_TRACE(t == &text ? "as written" : "hand-edited");
    Result<LockFile> back = ParseLockFile(*t, "keel.lock");
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << *t;
    ASSERT_EQ(back->stages.size(), 3u);
    ExpectSameStage(back->stages[0], Train());
    ExpectSameStage(back->stages[1], Awkward());
    ExpectSameStage(back->stages[2], Prepare());
    EXPECT_EQ(SerializeLockFile(*back), text);
  }
  // The run-cache entry of the same stage.
  Result<LockedStage> entry = ParseLockedStage(SerializeLockedStage(Awkward()), "run");
  ASSERT_TRUE(entry.ok()) << entry.status().ToString();
  ExpectSameStage(*entry, Awkward());
}

// A keel.lock edited by hand (flow style, other key order, comments) still
// reads, through the full YAML reader.
TEST(LockFileTest, ReadsAnyYamlLayout) {
  const std::string hash = HashBytes("x").ToString();
  Result<LockFile> lock = ParseLockFile(
      "# edited\n"
      "stages:\n"
      "  a:\n"
      "    outs: [{path: o, hash: '" +
          hash +
          "', size: 1, files: 1, kind: dir, cache: false}]\n"
          "    params:\n"
          "      p.yaml:\n"
          "        x:y: 1\n"
          "    cmd: [one, two]  # two commands\n"
          "    env: {A: '1'}\n"
          "schema: 1\n",
      "keel.lock");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_EQ(lock->stages.size(), 1u);
  const LockedStage& a = lock->stages[0];
  EXPECT_EQ(a.cmd, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(a.cmd_is_list);
  EXPECT_EQ(a.env, (std::map<std::string, std::string>{{"A", "1"}}));
  ASSERT_EQ(a.outs.size(), 1u);
  EXPECT_EQ(a.outs[0].kind, DataKind::kDir);
  EXPECT_FALSE(a.outs[0].cache);
  EXPECT_EQ(a.outs[0].digest, HashBytes("x"));
  ASSERT_EQ(a.params.count("p.yaml"), 1u);
  EXPECT_EQ(a.params.at("p.yaml").at("x:y"), "1");
}

TEST(LockFileTest, SerializedFormIsStable) {
  LockedStage s;
  s.name = "prepare";
  s.cmd = {"python prepare.py"};
  s.deps = {Path("data.csv", "data")};
  s.params = {{"params.yaml", {{"prepare.split", "0.2"}}}};
  s.outs = {Path("prepared", "m", DataKind::kDir, 2)};
  LockFile lock;
  lock.stages = {s};
  EXPECT_EQ(
      SerializeLockFile(lock),
      "# keel.lock: what produced every out (written by keel run; see docs/format/pipeline.md)\n"
      "schema: 1\n"
      "stages:\n"
      "  prepare:\n"
      "    cmd: python prepare.py\n"
      "    deps:\n"
      "      - path: data.csv\n"
      "        hash: " +
          HashBytes("data").ToString() +
          "\n"
          "        size: 4\n"
          "        files: 1\n"
          "    params:\n"
          "      params.yaml:\n"
          "        prepare.split: 0.2\n"
          "    outs:\n"
          "      - path: prepared\n"
          "        kind: dir\n"
          "        hash: " +
          HashBytes("m").ToString() +
          "\n"
          "        size: 1\n"
          "        files: 2\n");
}

TEST(LockFileTest, SerializationIsDeterministic) {
  LockFile one;
  one.stages = {Prepare(), Train()};
  // The same stage built again, maps filled in another order.
  LockedStage train = Train();
  train.env.clear();
  for (const char* k : {"MSG", "HASH", "OMP_NUM_THREADS", "EMPTY"})
    train.env[k] = Train().env.at(k);
  LockFile two;
  two.stages = {Prepare(), train};
  EXPECT_EQ(SerializeLockFile(one), SerializeLockFile(two));
  EXPECT_EQ(SerializeLockFile(one), SerializeLockFile(one));
  // Order of stages is the caller's.
  LockFile swapped;
  swapped.stages = {Train(), Prepare()};
  EXPECT_NE(SerializeLockFile(one), SerializeLockFile(swapped));
}

TEST(LockFileTest, OptionalFieldsAreWrittenOnlyWhenSet) {
  LockFile lock;
  lock.stages = {Prepare()};
  std::string text = SerializeLockFile(lock);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("wdir")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("env")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("executable")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("cache")));
  lock.stages = {Train()};
  text = SerializeLockFile(lock);
  EXPECT_THAT(text, HasSubstr("wdir: src/train\n"));
  EXPECT_THAT(text, HasSubstr("executable: true\n"));
  EXPECT_THAT(text, HasSubstr("cache: false\n"));
}

TEST(LockFileTest, EmptyLockFile) {
  for (const char* text : {"", "schema: 1\n", "schema: 1\nstages:\n", "schema: 1\nstages: {}\n"}) {
    Result<LockFile> lock = ParseLockFile(text, "keel.lock");
    ASSERT_TRUE(lock.ok()) << text << ": " << lock.status().ToString();
    EXPECT_TRUE(lock->stages.empty());
  }
  Result<LockFile> back = ParseLockFile(SerializeLockFile(LockFile()), "keel.lock");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->stages.empty());
}

TEST(LockFileTest, FindAndPut) {
  LockFile lock;
  lock.Put(Prepare());
  lock.Put(Train());
  ASSERT_EQ(lock.stages.size(), 2u);
  LockedStage changed = Prepare();
  changed.cmd = {"new"};
  lock.Put(changed);
  ASSERT_EQ(lock.stages.size(), 2u);
  EXPECT_EQ(lock.stages[0].name, "prepare");  // replaced in place
  EXPECT_EQ(lock.stages[0].cmd, std::vector<std::string>{"new"});
  ASSERT_NE(lock.Find("train"), nullptr);
  EXPECT_EQ(lock.Find("train"), &lock.stages[1]);
  EXPECT_EQ(lock.Find("prep"), nullptr);
}

TEST(LockFileTest, SignatureCoversDefinitionAndInputs) {
  const Digest base = Train().Signature();
  EXPECT_EQ(Train().Signature(), base);
  struct Change {
    const char* what;
    std::function<void(LockedStage*)> apply;
  };
  const std::vector<Change> changes = {
      {"cmd text", [](LockedStage* s) { s->cmd[0] = "python train.py --fast"; }},
      {"cmd added", [](LockedStage* s) { s->cmd.push_back("true"); }},
      {"cmd split",
       [](LockedStage* s) {
         s->cmd = {"python", "train.py"};
       }},
      {"wdir", [](LockedStage* s) { s->wdir = "src"; }},
      {"wdir cleared", [](LockedStage* s) { s->wdir.clear(); }},
      {"env value", [](LockedStage* s) { s->env["OMP_NUM_THREADS"] = "2"; }},
      {"env added", [](LockedStage* s) { s->env["NEW"] = "1"; }},
      {"env removed", [](LockedStage* s) { s->env.erase("MSG"); }},
      {"env renamed",
       [](LockedStage* s) {
         s->env["MSH"] = s->env["MSG"];
         s->env.erase("MSG");
       }},
      {"dep hash", [](LockedStage* s) { s->deps[1].digest = HashBytes("other"); }},
      {"dep path", [](LockedStage* s) { s->deps[1].path = "src/train/train2.py"; }},
      {"dep added", [](LockedStage* s) { s->deps.push_back(Path("z.csv", "z")); }},
      {"dep removed", [](LockedStage* s) { s->deps.pop_back(); }},
      {"param value", [](LockedStage* s) { s->params["params.yaml"]["train.eta"] = "0.2"; }},
      {"param key",
       [](LockedStage* s) {
         s->params["params.yaml"]["train.etb"] = "0.1";
         s->params["params.yaml"].erase("train.eta");
       }},
      {"param added", [](LockedStage* s) { s->params["params.yaml"]["train.new"] = "1"; }},
      {"param file",
       [](LockedStage* s) {
         s->params["other.yaml"] = s->params["src/train/search.yaml"];
         s->params.erase("src/train/search.yaml");
       }},
      {"out path", [](LockedStage* s) { s->outs[0].path = "src/train/logs2"; }},
      {"out added", [](LockedStage* s) { s->outs.push_back(Path("zz", "zz")); }},
      {"out removed", [](LockedStage* s) { s->outs.pop_back(); }},
      {"out cache",
       [](LockedStage* s) {
         for (LockedPath& o : s->outs) o.cache = !o.cache;
       }},
      {"one out's cache", [](LockedStage* s) { s->outs[2].cache = false; }},
  };
  for (const Change& c : changes) {
    LockedStage s = Train();
    c.apply(&s);
    EXPECT_NE(s.Signature(), base) << c.what;
  }
}

TEST(LockFileTest, SignatureIgnoresWhatARunProduces) {
  const Digest base = Train().Signature();
  LockedStage s = Train();
  for (LockedPath& o : s.outs) {
    o.digest = HashBytes("new content " + o.path);
    o.size += 100;
    o.files += 1;
    o.executable = !o.executable;
  }
  EXPECT_EQ(s.Signature(), base);
  // The name does not matter either: a run-cache entry serves a renamed stage.
  s.name = "renamed";
  EXPECT_EQ(s.Signature(), base);
}

// Expects ParseLockFile to fail with kCorrupt, the message starting with
// "keel.lock:LINE:COL: " and containing `why`.
void ExpectCorrupt(const std::string& text, const std::string& where, const std::string& why) {
  Result<LockFile> lock = ParseLockFile(text, "keel.lock");
  ASSERT_FALSE(lock.ok()) << text;
  EXPECT_EQ(lock.status().code(), StatusCode::kCorrupt) << lock.status().ToString();
  EXPECT_THAT(lock.status().message(), StartsWith(where + ": ")) << text;
  EXPECT_THAT(lock.status().message(), HasSubstr(why)) << text;
}

// A lock with one stage whose single dep has `hash` and `size`.
std::string LockWithDep(const std::string& hash, const std::string& size) {
  return "schema: 1\n"            // 1
         "stages:\n"              // 2
         "  a:\n"                 // 3
         "    cmd: echo\n"        // 4
         "    deps:\n"            // 5
         "      - path: x.csv\n"  // 6
         "        hash: " +
         hash +
         "\n"  // 7
         "        size: " +
         size +
         "\n"                   // 8
         "        files: 1\n";  // 9
}

TEST(LockFileTest, BadHash) {
  const std::string good = HashBytes("x").ToString();
  ASSERT_TRUE(ParseLockFile(LockWithDep(good, "1"), "keel.lock").ok());
  ExpectCorrupt(LockWithDep("sha256:12", "1"), "keel.lock:7:15",
                "'sha256:12' is not a sha256 digest");
  ExpectCorrupt(LockWithDep("sha256:" + std::string(64, 'g'), "1"), "keel.lock:7:15",
                "is not a sha256 digest");
}

TEST(LockFileTest, BadSize) {
  const std::string good = HashBytes("x").ToString();
  ExpectCorrupt(LockWithDep(good, "-1"), "keel.lock:8:15",
                "'size': '-1' is not a non-negative integer");
  ExpectCorrupt(LockWithDep(good, "1.5"), "keel.lock:8:15",
                "'size': '1.5' is not a non-negative integer");
  ExpectCorrupt(LockWithDep(good, "99999999999999999999999"), "keel.lock:8:15",
                "is not a non-negative integer");
  ExpectCorrupt(LockWithDep(good, "[1]"), "keel.lock:8:15", "'size' must be a string");
}

TEST(LockFileTest, WrongSchema) {
  ExpectCorrupt("schema: 2\nstages: {}\n", "keel.lock:1:9",
                "unsupported schema (this keel reads schema 1)");
  ExpectCorrupt("# header\nstages: {}\n", "keel.lock:2:1", "unsupported schema");
  ExpectCorrupt("- schema: 1\n", "keel.lock:1:1", "expected a mapping with 'schema' and 'stages'");
}

TEST(LockFileTest, OtherErrorsNameTheirPlace) {
  const std::string hash = HashBytes("x").ToString();
  ExpectCorrupt("schema: 1\nstages: [a]\n", "keel.lock:2:9", "'stages' must be a mapping");
  ExpectCorrupt("schema: 1\nstages:\n  a: echo\n", "keel.lock:3:6",
                "stage 'a': expected a mapping");
  ExpectCorrupt("schema: 1\nstages:\n  a:\n    wdir: x\n", "keel.lock:4:5",
                "stage 'a': missing key 'cmd'");
  ExpectCorrupt(
      "schema: 1\nstages:\n  a:\n    cmd: x\n    outs:\n      - path: o\n        kind: link\n      "
      "  hash: " +
          hash + "\n        size: 1\n        files: 1\n",
      "keel.lock:7:15", "'kind': 'link' is not file or dir");
  ExpectCorrupt("schema: 1\nstages:\n  a:\n    cmd: x\n    deps:\n      - hash: " + hash +
                    "\n        size: 1\n",
                "keel.lock:6:9", "missing key 'path'");
  ExpectCorrupt("schema: 1\nstages:\n  a:\n    cmd: x\n    params: [p]\n", "keel.lock:5:13",
                "stage 'a': 'params' must be a mapping of files");
  ExpectCorrupt("schema: 1\nstages:\n  a:\n    cmd: x\n    deps: {path: x}\n", "keel.lock:5:11",
                "expected a list");
  Result<LockFile> syntax = ParseLockFile("schema: 1\nstages: {a: [\n", "keel.lock");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(syntax.status().message(), StartsWith("keel.lock:"));
}

TEST(LockFileTest, LockedStageRoundTrip) {
  for (const LockedStage& stage : {Prepare(), Train()}) {
    std::string text = SerializeLockedStage(stage);
    Result<LockedStage> back = ParseLockedStage(text, ".keel/cache/runs/ab/cd");
    ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << text;
    ExpectSameStage(*back, stage);
    EXPECT_EQ(SerializeLockedStage(*back), text);
  }
}

TEST(LockFileTest, LockedStageErrors) {
  const std::string good = SerializeLockedStage(Prepare());
  for (const std::string& text :
       {std::string(""), std::string("schema: 1\nstage: a\n"),
        std::string("schema: 1\nrun: {cmd: x}\n"), std::string("- a\n")}) {
    Result<LockedStage> s = ParseLockedStage(text, "runs/ab/cd");
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), StatusCode::kCorrupt) << text;
    EXPECT_THAT(s.status().message(), StartsWith("runs/ab/cd:")) << text;
  }
  std::string other_schema = good;
  ASSERT_EQ(other_schema.rfind("schema: 1\n", 0), 0u) << good;
  other_schema[8] = '9';
  Result<LockedStage> s = ParseLockedStage(other_schema, "runs/ab/cd");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorrupt);
  EXPECT_THAT(s.status().message(), HasSubstr("unsupported schema"));
}

TEST(LockFileTest, PointerConversions) {
  Pointer p;
  p.path = "model";
  p.kind = DataKind::kDir;
  p.digest = HashBytes("m");
  p.size = 10;
  p.files = 3;
  p.executable = false;
  LockedPath lp = LockedPathOf("out/model", p, false);
  EXPECT_EQ(lp.path, "out/model");
  EXPECT_EQ(lp.kind, DataKind::kDir);
  EXPECT_EQ(lp.digest, HashBytes("m"));
  EXPECT_EQ(lp.size, 10u);
  EXPECT_EQ(lp.files, 3u);
  EXPECT_FALSE(lp.cache);
  Pointer back = PointerOf(lp);
  EXPECT_EQ(back.path, "model");  // the name beside the pointer
  EXPECT_EQ(back.kind, DataKind::kDir);
  EXPECT_EQ(back.digest, p.digest);
  EXPECT_EQ(back.size, 10u);
  EXPECT_EQ(back.files, 3u);
  EXPECT_EQ(PointerOf(Path("top.csv", "x")).path, "top.csv");
}

}  // namespace
}  // namespace keel
