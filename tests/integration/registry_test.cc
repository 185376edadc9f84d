// The model registry end to end: `keel model register|list|show|diff|
// alias|get|delete`, gc keeping live versions, the `model:` section of
// keel.yaml registering after `keel run`, and KEEL_RUN_ID linking a
// version registered by a stage to its run.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
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

// The stage script of the census pipeline: the model folder from the
// prepared data and params.yaml, with metrics.json and signature.json.
constexpr char kTrainSh[] =
    "mkdir -p model\n"
    "depth=$(sed -n 's/^ *max_depth: *//p' params.yaml)\n"
    "printf '{\"trees\": [%s], \"rows\": %s}\\n' \"$depth\" \"$(wc -l < prepared/rows.csv)\" > model/model.json\n"
    "printf '{\"auc\": 0.%s, \"eval\": {\"f1\": 0.5}}\\n' \"$depth\" > model/metrics.json\n"
    "printf '{\"inputs\": [{\"name\": \"age\", \"datatype\": \"FP32\", \"shape\": [-1]}]}\\n' > model/signature.json\n";

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = dir_ / "census";
    MakeDirs(root_);
    ASSERT_EQ(RunProgram(root_, {"git", "init", "-q"}).exit_code, 0);
    RunResult r = RunKeel(root_, {"init"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  RunResult Keel(const Strings& args) { return RunKeel(root_, args); }

  // `keel --json ARGS`, expecting exit code `want_exit`; stdout parsed.
  nlohmann::json Json(Strings args, int want_exit = 0) {
    args.insert(args.begin(), "--json");
    RunResult r = Keel(args);
    EXPECT_EQ(r.exit_code, want_exit) << "keel --json " << args[1] << " " << (args.size() > 2 ? args[2] : "") << ": "
                                      << r.err << r.out;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << e.what() << "\n" << r.out << r.err;
      return nlohmann::json::object();
    }
  }

  // Expects `keel ARGS` to fail with `exit` and a one-line error holding `message`.
  void ExpectError(const Strings& args, int exit, const std::string& message) {
    RunResult r = Keel(args);
    std::string cmd;
    for (const std::string& a : args) cmd += " " + a;
    EXPECT_EQ(r.exit_code, exit) << "keel" << cmd << ": " << r.err;
    EXPECT_TRUE(Contains(r.err, message)) << "keel" << cmd << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  void Write(const std::string& rel, const std::string& data) {
    fs::create_directories(fs::path(Path(rel)).parent_path());
    std::error_code ec;
    fs::remove(Path(rel), ec);  // may be a read-only hardlink into the store
    WriteFile(Path(rel), data);
  }
  std::string Path(const std::string& rel) const { return root_ + "/" + rel; }
  // The loose object file of a "sha256:..." digest.
  std::string ObjectPath(const std::string& digest) const {
    return Path(".keel/objects/" + digest.substr(7, 2) + "/" + digest.substr(9));
  }

  // A folder with model.json holding `weights`.
  void WriteModel(const std::string& dir, const std::string& weights) {
    std::error_code ec;
    fs::remove_all(Path(dir), ec);
    Write(dir + "/model.json", "{\"weights\": " + weights + "}\n");
  }

  // `keel model register NAME --from DIR EXTRA...`: the version's JSON.
  nlohmann::json Register(const std::string& name, const std::string& dir, const Strings& extra = {}) {
    Strings args = {"model", "register", name, "--from", dir};
    args.insert(args.end(), extra.begin(), extra.end());
    return Json(args);
  }
  int64_t Version(const nlohmann::json& v) { return v.value("version", int64_t{0}); }

  nlohmann::json Show(const std::string& id) { return Json({"model", "show", id}); }

  void GitCommitAll() {
    ASSERT_EQ(RunProgram(root_, {"git", "add", "-A"}).exit_code, 0);
    RunResult commit = RunProgram(root_, {"git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c",
                                          "commit.gpgsign=false", "commit", "-q", "-m", "x"});
    ASSERT_EQ(commit.exit_code, 0) << commit.err;
  }
  std::string GitHead() {
    std::string head = RunProgram(root_, {"git", "rev-parse", "HEAD"}).out;
    return head.substr(0, head.find('\n'));
  }

  // data/adult.csv (tracked with `keel data add`) → prepare → prepared/
  // → train (params train.max_depth) → model/. `model_section` is appended.
  void WriteCensusPipeline(const std::string& model_section = "") {
    Write("data/adult.csv", "age,income\n39,<=50K\n50,>50K\n");
    RunResult added = Keel({"data", "add", "data/adult.csv"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    Write("params.yaml", "train:\n  max_depth: 6\n");
    Write("train.sh", kTrainSh);
    Write("keel.yaml", R"(stages:
  prepare:
    cmd: mkdir -p prepared && tail -n +2 data/adult.csv > prepared/rows.csv
    deps: [data/adult.csv]
    outs: [prepared]
  train:
    cmd: sh train.sh
    deps: [prepared, train.sh]
    params: [train.max_depth]
    outs: [model]
)" + model_section);
  }

  // `keel --json run`; returns the whole output.
  nlohmann::json Run(int want_exit = 0) { return Json({"run"}, want_exit); }

  // The id of the newest `keel data` version of `path`.
  int64_t DataVersionOf(const std::string& path) {
    nlohmann::json log = Json({"data", "log", path});
    if (!log.is_array() || log.empty()) {
      ADD_FAILURE() << "no data version in " << log.dump();
      return 0;
    }
    return log[0].value("id", int64_t{0});
  }

  TempDir dir_;
  std::string root_;
};

TEST_F(RegistryTest, RegisterFromAFolderNumbersVersionsAndRecordsTheWorkspace) {
  WriteModel("model", "[1, 2]");
  Write("model/metrics.json", "{\"auc\": 0.91, \"eval\": {\"f1\": 0.5}}\n");
  GitCommitAll();
  nlohmann::json v1 = Register("census", "model", {"--description", "first"});
  EXPECT_EQ(v1.value("id", ""), "census@1");
  EXPECT_EQ(v1.value("flavor", ""), "xgboost");
  EXPECT_EQ(v1.value("description", ""), "first");
  EXPECT_EQ(v1.value("model_file", ""), "model.json");
  EXPECT_EQ(v1.value("model_hash", ""), Sha256OfFile(Path("model/model.json")));
  EXPECT_TRUE(v1["run_id"].is_null());
  EXPECT_EQ(v1.value("git_commit", ""), GitHead());
  EXPECT_EQ(v1["metrics"], nlohmann::json({{"auc", 0.91}, {"eval.f1", 0.5}}));
  EXPECT_TRUE(v1["params"].empty());
  EXPECT_TRUE(v1["data"].empty());
  EXPECT_FALSE(v1.value("created_by", "").empty());
  EXPECT_TRUE(v1["identical_to"].is_null());
  std::string digest = v1.value("digest", "");
  ASSERT_EQ(digest.size(), 71u);
  EXPECT_TRUE(PathExists(ObjectPath(digest)));  // the folder's manifest object

  // The same content again: a new version, with a note.
  RunResult again = Keel({"model", "register", "census", "--from", "model"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(Contains(again.out, "registered census@2")) << again.out;
  EXPECT_TRUE(Contains(again.out, "identical to census@1")) << again.out;
  WriteModel("model", "[3]");
  nlohmann::json v3 = Register("census", "model", {"--flavor", "custom"});
  EXPECT_EQ(Version(v3), 3);
  EXPECT_EQ(v3.value("flavor", ""), "custom");
  EXPECT_TRUE(v3["metrics"].empty());
  EXPECT_EQ(v3.value("git_dirty", false), true);  // model/ changed since the commit
  Write("other/weights.bin", "0101");
  nlohmann::json other = Register("income", "other");
  EXPECT_EQ(other.value("id", ""), "income@1");
  EXPECT_EQ(other.value("flavor", ""), "files");

  nlohmann::json models = Json({"model", "list"});
  ASSERT_EQ(models["models"].size(), 2u) << models.dump();
  EXPECT_EQ(models["models"][0].value("name", ""), "census");
  EXPECT_EQ(models["models"][0].value("versions", 0), 3);
  EXPECT_EQ(models["models"][0].value("latest", 0), 3);
  nlohmann::json versions = Json({"model", "list", "census"});
  ASSERT_EQ(versions["versions"].size(), 3u);
  EXPECT_EQ(Version(versions["versions"][2]), 3);
  RunResult table = Keel({"model", "list", "census"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(Contains(table.out, "auc=0.91, eval.f1=0.5")) << table.out;
  EXPECT_TRUE(Contains(table.out, digest.substr(0, 19))) << table.out;
  RunResult all = Keel({"model", "list"});
  EXPECT_TRUE(Contains(all.out, "census  3")) << all.out;
}

TEST_F(RegistryTest, ShowGivesLineageDownToDataVersions) {
  WriteCensusPipeline();
  nlohmann::json run = Run();
  int64_t run_id = run.value("run_id", int64_t{0});
  ASSERT_GT(run_id, 0);
  int64_t adult = DataVersionOf("data/adult.csv");
  nlohmann::json v = Register("census", "model", {"--run", std::to_string(run_id)});
  EXPECT_EQ(v.value("run_id", int64_t{0}), run_id);
  nlohmann::json shown = Show("census@1");
  EXPECT_EQ(shown["params"], nlohmann::json({{"train.max_depth", "6"}}));
  EXPECT_EQ(shown["metrics"], nlohmann::json({{"auc", 0.6}, {"eval.f1", 0.5}}));
  std::map<std::string, nlohmann::json> data;
  for (const nlohmann::json& in : shown["data"]) data[in.value("path", "")] = in;
  ASSERT_EQ(data.size(), 3u) << shown["data"].dump();  // train's deps and, upstream, prepare's
  EXPECT_EQ(data["data/adult.csv"].value("stage", ""), "prepare");
  EXPECT_EQ(data["data/adult.csv"].value("data_version", int64_t{0}), adult);
  EXPECT_EQ(data["data/adult.csv"].value("hash", ""), Sha256OfFile(Path("data/adult.csv")));
  EXPECT_TRUE(data["prepared"]["data_version"].is_null());
  EXPECT_EQ(data["train.sh"].value("hash", ""), Sha256OfFile(Path("train.sh")));
  nlohmann::json runs = Json({"runs", "show", std::to_string(run_id)});
  EXPECT_EQ(shown.value("git_commit", "x"), runs.value("git_commit", "y"));
  EXPECT_EQ(shown.value("git_dirty", false), runs.value("git_dirty", true));
  // The signature, as the trainer wrote it, and the files with sizes.
  EXPECT_EQ(shown["signature"]["inputs"][0].value("name", ""), "age");
  std::map<std::string, int64_t> sizes;
  for (const nlohmann::json& f : shown["file_list"]) sizes[f.value("path", "")] = f.value("size", int64_t{-1});
  EXPECT_EQ(sizes.size(), 3u);
  EXPECT_EQ(sizes["model.json"], static_cast<int64_t>(fs::file_size(Path("model/model.json"))));

  RunResult text = Keel({"model", "show", "census@1"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  Strings wanted = {"census@1", "train.max_depth  6", "data version " + std::to_string(adult),
                    "\"datatype\": \"FP32\"", "signature.json", "run         " + std::to_string(run_id)};
  for (const std::string& want : wanted) {
    EXPECT_TRUE(Contains(text.out, want)) << want << " not in\n" << text.out;
  }
}

TEST_F(RegistryTest, DiffShowsParamsMetricsAndDataSideBySide) {
  WriteCensusPipeline();
  int64_t first = Run().value("run_id", int64_t{0});
  Register("census", "model", {"--run", std::to_string(first)});
  Write("params.yaml", "train:\n  max_depth: 8\n");
  int64_t second = Run().value("run_id", int64_t{0});
  Register("census", "model", {"--run", std::to_string(second)});
  nlohmann::json diff = Json({"model", "diff", "census@1", "census@2"});
  EXPECT_EQ(diff["versions"], nlohmann::json({"census@1", "census@2"}));
  std::map<std::string, nlohmann::json> rows;
  for (const nlohmann::json& row : diff["rows"]) rows[row.value("section", "") + "." + row.value("key", "")] = row;
  EXPECT_TRUE(rows["params.train.max_depth"].value("differs", false));
  EXPECT_EQ(rows["params.train.max_depth"]["values"], nlohmann::json({"6", "8"}));
  EXPECT_TRUE(rows["metrics.auc"].value("differs", false));
  EXPECT_FALSE(rows["metrics.eval.f1"].value("differs", true));
  EXPECT_FALSE(rows["data.data/adult.csv"].value("differs", true));
  EXPECT_TRUE(rows["attributes.digest"].value("differs", false));

  RunResult only = Keel({"model", "diff", "census@1", "census@latest", "-d"});
  ASSERT_EQ(only.exit_code, 0) << only.err;
  EXPECT_TRUE(Contains(only.out, "*    train.max_depth  6")) << only.out;
  EXPECT_FALSE(Contains(only.out, "eval.f1")) << only.out;
  EXPECT_FALSE(Contains(only.out, "data/adult.csv")) << only.out;
  EXPECT_TRUE(Contains(only.out, "values differ (marked *)")) << only.out;
}

TEST_F(RegistryTest, AliasesMoveAndResolveAsIdsDo) {
  std::vector<std::string> digests;
  for (int i = 1; i <= 3; ++i) {
    WriteModel("model", "[" + std::to_string(i) + "]");
    digests.push_back(Register("census", "model").value("digest", ""));
  }
  RunResult set = Keel({"model", "alias", "set", "census@1", "production"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_TRUE(Contains(set.out, "census@production → 1")) << set.out;
  RunResult moved = Keel({"model", "alias", "set", "census@2", "production"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_TRUE(Contains(moved.out, "moved from 1")) << moved.out;
  nlohmann::json staging = Json({"model", "alias", "set", "sha256:" + digests[2].substr(7, 8), "staging"});
  EXPECT_EQ(staging.value("version", 0), 3);
  EXPECT_TRUE(staging["previous"].is_null());

  EXPECT_EQ(Version(Show("census@production")), 2);
  EXPECT_EQ(Version(Show("census@staging")), 3);
  EXPECT_EQ(Version(Show("census@latest")), 3);
  EXPECT_EQ(Version(Show("census@1")), 1);
  EXPECT_EQ(Version(Show("sha256:" + digests[0].substr(7, 4))), 1);
  EXPECT_EQ(Version(Show(digests[1])), 2);
  EXPECT_EQ(Show("census@2")["aliases"], nlohmann::json({"production"}));
  nlohmann::json list = Json({"model", "list"});
  EXPECT_EQ(list["models"][0]["aliases"], nlohmann::json({{"production", 2}, {"staging", 3}}));

  nlohmann::json removed = Json({"model", "alias", "rm", "census", "staging"});
  EXPECT_EQ(removed.value("previous", 0), 3);
  ExpectError({"model", "show", "census@staging"}, 3, "model 'census' has no alias 'staging' (aliases: production)");
  ExpectError({"model", "alias", "set", "census@1", "latest"}, 2, "alias 'latest' is built in");
  ExpectError({"model", "alias", "set", "census@1", "Prod"}, 2, "bad alias 'Prod'");
  ExpectError({"model", "alias", "rm", "census", "staging"}, 3, "model 'census' has no alias 'staging'");
}

TEST_F(RegistryTest, BadIdsGiveClearErrors) {
  for (int i = 1; i <= 4; ++i) {
    WriteModel("model", "[" + std::to_string(i) + "]");
    Register("census", "model");
  }
  ASSERT_EQ(Keel({"model", "alias", "set", "census@4", "production"}).exit_code, 0);
  ASSERT_EQ(Keel({"model", "alias", "set", "census@3", "staging"}).exit_code, 0);
  ExpectError({"model", "show", "censu@1"}, 3, "unknown model 'censu' (did you mean 'census'?)");
  ExpectError({"model", "show", "census@9"}, 3, "model 'census' has no version 9 (versions: 1-4)");
  ExpectError({"model", "show", "census@prod"}, 3, "model 'census' has no alias 'prod' (aliases: production, staging)");
  ExpectError({"model", "show", "census@"}, 2, "bad model ID 'census@'");
  ExpectError({"model", "show", "sha256:abcd"}, 3, "no model version matches sha256:abcd");
  ExpectError({"model", "show", "sha256:ab"}, 2, "bad model ID 'sha256:ab'");
  ExpectError({"model", "show", "census"}, 2, "did you mean 'census@latest'?");
  ExpectError({"model", "list", "censsu"}, 3, "unknown model 'censsu' (did you mean 'census'?)");
  ExpectError({"model", "register", "bad name", "--from", "model"}, 2, "bad model name 'bad name'");
  ExpectError({"model", "register", "census", "--from", "nowhere"}, 3, "nowhere: no such folder");
  ExpectError({"model", "register", "census", "--from", "model", "--run", "42"}, 3, "--run: no run 42");
  // The same content in two models: any digest of it is ambiguous.
  Write("shared/weights.bin", "same");
  std::string digest = Register("a", "shared").value("digest", "");
  Register("b", "shared");
  ExpectError({"model", "show", digest}, 2, "is ambiguous: a@1, b@1");
  // --json errors are JSON too.
  nlohmann::json error = Json({"model", "show", "census@9"}, 3);
  EXPECT_EQ(error.value("code", ""), "not found");
  EXPECT_TRUE(Contains(error.value("error", ""), "has no version 9"));
}

TEST_F(RegistryTest, GetMaterialisesIdenticalBytes) {
  WriteModel("model", "[1, 2, 3]");
  Write("model/metrics.json", "{\"auc\": 0.5}\n");
  Write("model/sub/vocab.txt", std::string(100000, 'v'));
  Register("census", "model");
  std::map<std::string, std::string> want;
  for (const char* f : {"model.json", "metrics.json", "sub/vocab.txt"}) want[f] = Sha256OfFile(Path("model/") + f);
  std::string out = dir_ / "served";  // outside the project
  RunResult got = Keel({"model", "get", "census@latest", "--to", out});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(Contains(got.out, "3 written")) << got.out;
  for (const auto& [f, hash] : want) EXPECT_EQ(Sha256OfFile(out + "/" + f), hash) << f;
  nlohmann::json again = Json({"model", "get", "census@1", "--to", out});
  EXPECT_EQ(again.value("written", -1), 0);
  EXPECT_EQ(again.value("unchanged", -1), 3);

  fs::remove(out + "/model.json");
  WriteFile(out + "/model.json", "tampered");
  ExpectError({"model", "get", "census@1", "--to", out}, 5, "model.json: exists with other content than census@1's");
  EXPECT_EQ(ReadFile(out + "/model.json"), "tampered");
  nlohmann::json forced = Json({"model", "get", "census@1", "--to", out, "--force"});
  EXPECT_EQ(forced.value("written", -1), 1);
  EXPECT_EQ(Sha256OfFile(out + "/model.json"), want["model.json"]);
  // Relative to the current folder, like every path.
  ASSERT_EQ(Keel({"model", "get", "census@1", "--to", "copy"}).exit_code, 0);
  EXPECT_EQ(Sha256OfFile(Path("copy/sub/vocab.txt")), want["sub/vocab.txt"]);
}

TEST_F(RegistryTest, DeleteIsRefusedWhileAliasedAndAllowedAfterAliasRm) {
  WriteModel("model", "[1]");
  Register("census", "model");
  WriteModel("model", "[2]");
  Register("census", "model");
  ASSERT_EQ(Keel({"model", "alias", "set", "census@2", "production"}).exit_code, 0);
  ASSERT_EQ(Keel({"model", "alias", "set", "census@2", "canary"}).exit_code, 0);
  ExpectError({"model", "delete", "census@2"}, 5,
              "census@2 is in use and cannot be deleted: alias 'canary', alias 'production'");
  EXPECT_EQ(Version(Show("census@2")), 2);
  ASSERT_EQ(Keel({"model", "alias", "rm", "census", "production"}).exit_code, 0);
  ASSERT_EQ(Keel({"model", "alias", "rm", "census", "canary"}).exit_code, 0);
  RunResult deleted = Keel({"model", "delete", "census@2"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(Contains(deleted.out, "deleted census@2")) << deleted.out;
  ExpectError({"model", "show", "census@2"}, 3, "model 'census' has no version 2 (it was deleted; versions: 1)");
  EXPECT_EQ(Version(Show("census@latest")), 1);
  nlohmann::json versions = Json({"model", "list", "census"});
  ASSERT_EQ(versions["versions"].size(), 1u);
  WriteModel("model", "[3]");
  EXPECT_EQ(Version(Register("census", "model")), 3);  // 2 is never handed out again
}

TEST_F(RegistryTest, DeleteIsRefusedWhileDeployYamlPointsAtTheVersion) {
  for (const char* weights : {"[1]", "[2]", "[3]", "[4]"}) {
    WriteModel("model", weights);
    Register("census", "model");
  }
  ASSERT_EQ(Keel({"model", "alias", "set", "census@1", "production"}).exit_code, 0);
  Write("deploy.yaml",
        "environments:\n"
        "  production:\n"
        "    model: census@production\n"
        "    canary: {model: census@2, percent: 10}\n"
        "    shadow: census@3\n"
        "  staging:\n"
        "    model: census@latest\n"
        "  old:\n"
        "    model: census@99\n");  // points at nothing: no use
  ExpectError({"model", "delete", "census@1"}, 5,
              "census@1 is in use and cannot be deleted: alias 'production', deploy.yaml environment 'production' "
              "point at it");
  ExpectError({"model", "delete", "census@2"}, 5,
              "census@2 is in use and cannot be deleted: deploy.yaml environment 'production' (canary) points at it "
              "(point deployments at another version)");
  ExpectError({"model", "delete", "census@3"}, 5, "deploy.yaml environment 'production' (shadow) points at it");
  ExpectError({"model", "delete", "census@4"}, 5, "deploy.yaml environment 'staging' points at it");
  // A deploy.yaml that cannot be read keeps every version: it might name it.
  Write("deploy.yaml", "environments:\n  production:\n    modle: census@2\n");
  ExpectError({"model", "delete", "census@2"}, 5,
              "deploy.yaml:3:5: environment 'production': unknown key 'modle' (did you mean 'model'?) (deployments "
              "may point at this version: fix deploy.yaml before deleting it)");
  for (int v = 1; v <= 4; ++v) EXPECT_EQ(Version(Show("census@" + std::to_string(v))), v);
  // Moving the deployment frees the version.
  Write("deploy.yaml", "environments:\n  production:\n    model: census@3\n");
  RunResult deleted = Keel({"model", "delete", "census@2"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  ExpectError({"model", "delete", "census@3"}, 5, "deploy.yaml environment 'production' points at it");
}

TEST_F(RegistryTest, GcKeepsLiveVersionsAndFreesDeletedOnes) {
  WriteModel("keep", "[\"keep\"]");
  Write("keep/big.bin", std::string(5000, 'k'));
  WriteModel("drop", "[\"drop\"]");
  Write("drop/big.bin", std::string(5000, 'd'));
  std::string keep = Register("census", "keep").value("digest", "");
  std::string drop = Register("census", "drop").value("digest", "");
  std::string keep_file = Sha256OfFile(Path("keep/big.bin"));
  std::string drop_file = Sha256OfFile(Path("drop/big.bin"));
  // Nothing but the registry refers to these files once the folders are gone.
  fs::remove_all(Path("keep"));
  fs::remove_all(Path("drop"));
  nlohmann::json dry = Json({"gc", "--dry-run"});
  EXPECT_TRUE(dry["unreachable"].empty()) << dry.dump();
  ASSERT_EQ(Keel({"model", "delete", "census@2"}).exit_code, 0);
  nlohmann::json gc = Json({"gc"});
  std::set<std::string> removed;
  for (const nlohmann::json& o : gc["unreachable"]) removed.insert(o.value("hash", ""));
  EXPECT_TRUE(removed.count(drop)) << gc.dump();
  EXPECT_TRUE(removed.count(drop_file)) << gc.dump();
  EXPECT_FALSE(removed.count(keep)) << gc.dump();
  EXPECT_FALSE(removed.count(keep_file)) << gc.dump();
  EXPECT_TRUE(PathExists(ObjectPath(keep)));
  EXPECT_TRUE(PathExists(ObjectPath(keep_file)));
  EXPECT_FALSE(PathExists(ObjectPath(drop)));
  // The live version is still whole.
  RunResult got = Keel({"model", "get", "census@1", "--to", "restored"});
  ASSERT_EQ(got.exit_code, 0) << got.err;
  EXPECT_EQ(ReadFile(Path("restored/big.bin")), std::string(5000, 'k'));
}

TEST_F(RegistryTest, ModelSectionRegistersAfterEachRunThatChangedIt) {
  WriteCensusPipeline("model: {name: census, path: model, description: nightly}\n");
  RunResult first = Keel({"run"});
  ASSERT_EQ(first.exit_code, 0) << first.err << first.out;
  EXPECT_TRUE(Contains(first.out, "registered census@1")) << first.out;
  nlohmann::json v1 = Show("census@1");
  EXPECT_EQ(v1.value("description", ""), "nightly");
  EXPECT_EQ(v1.value("flavor", ""), "xgboost");
  EXPECT_FALSE(v1["run_id"].is_null());
  EXPECT_EQ(v1["data"].size(), 3u);

  RunResult unchanged = Keel({"run"});
  ASSERT_EQ(unchanged.exit_code, 0) << unchanged.err;
  EXPECT_TRUE(Contains(unchanged.out, "model census unchanged (census@1)")) << unchanged.out;
  Write("params.yaml", "train:\n  max_depth: 7\n");
  nlohmann::json second = Run();
  ASSERT_EQ(second["models"].size(), 1u) << second.dump();
  EXPECT_EQ(second["models"][0].value("id", ""), "census@2");
  EXPECT_EQ(second["models"][0].value("registered", false), true);
  nlohmann::json v2 = Show("census@2");
  EXPECT_EQ(v2.value("run_id", int64_t{0}), second.value("run_id", int64_t{-1}));
  EXPECT_EQ(v2["params"], nlohmann::json({{"train.max_depth", "7"}}));
  nlohmann::json third = Run();
  EXPECT_EQ(third["models"][0].value("registered", true), false);
  EXPECT_EQ(third["models"][0].value("id", ""), "census@2");
  // A dry run registers nothing.
  Write("params.yaml", "train:\n  max_depth: 9\n");
  RunResult dry = Keel({"run", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_FALSE(Contains(dry.out, "registered")) << dry.out;
  EXPECT_EQ(Json({"model", "list", "census"})["versions"].size(), 2u);
}

TEST_F(RegistryTest, NothingIsRegisteredWhenAStageFailed) {
  WriteCensusPipeline(R"(  check:
    cmd: exit 3
    deps: [model]
model: {name: census, path: model}
)");
  RunResult failed = Keel({"run"});
  EXPECT_EQ(failed.exit_code, 8) << failed.err;
  EXPECT_FALSE(Contains(failed.out, "registered")) << failed.out;
  nlohmann::json models = Json({"model", "list"});
  EXPECT_TRUE(models["models"].empty()) << models.dump();
}

TEST_F(RegistryTest, BadModelSectionIsALoadErrorNamingTheLine) {
  WriteCensusPipeline("model:\n  name: census\n  path: model\n  flavour: xgboost\n");
  ExpectError({"run"}, 2, "keel.yaml:14:3: model: unknown key 'flavour' (did you mean 'flavor'?)");
  ExpectError({"status"}, 2, "keel.yaml:14:3: model: unknown key 'flavour'");
  Write("keel.yaml", ReadFile(Path("keel.yaml")).substr(0, ReadFile(Path("keel.yaml")).find("model:\n  name")) +
                         "model: {name: census, path: modle}\n");
  ExpectError({"run"}, 2,
              "keel.yaml:11:29: model 'census': path 'modle' is not an out of any stage (did you mean 'model'?)");
  EXPECT_FALSE(PathExists(Path("model")));  // nothing ran
}

TEST_F(RegistryTest, RegistrationFailureAfterASuccessfulRunKeepsTheRun) {
  WriteCensusPipeline(R"(  note:
    cmd: echo done > note.txt
    deps: [model]
    outs: [note.txt]
model: {name: census, path: note.txt}
)");
  RunResult r = Keel({"run"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(Contains(r.err, "finished, but model 'census' was not registered: note.txt: not a folder")) << r.err;
  EXPECT_TRUE(Contains(r.out, "3 ran")) << r.out;
  nlohmann::json runs = Json({"runs", "list"});
  ASSERT_EQ(runs["runs"].size(), 1u);
  EXPECT_EQ(runs["runs"][0].value("status", ""), "finished");
  nlohmann::json json = Json({"run"}, 2);
  EXPECT_TRUE(json.contains("run_id")) << json.dump();
  EXPECT_TRUE(Contains(json["models"][0].value("error", ""), "not a folder")) << json.dump();
}

TEST_F(RegistryTest, KeelRunIdLinksAVersionRegisteredByAStage) {
  WriteCensusPipeline(std::string(R"(  register:
    cmd: '")") + KEEL_BINARY + R"(" model register census --from model'
    deps: [model]
)");
  nlohmann::json run = Run();
  int64_t run_id = run.value("run_id", int64_t{0});
  ASSERT_GT(run_id, 0) << run.dump();
  nlohmann::json v = Show("census@1");
  EXPECT_EQ(v.value("run_id", int64_t{0}), run_id);
  EXPECT_EQ(v["params"], nlohmann::json({{"train.max_depth", "6"}}));
  std::set<std::string> paths;
  for (const nlohmann::json& in : v["data"]) paths.insert(in.value("path", ""));
  EXPECT_EQ(paths, (std::set<std::string>{"data/adult.csv", "prepared", "train.sh"}));

  // Outside a pipeline the variable links just the same; a bad one is named.
  RunResult linked = RunProgram(root_, {"env", "KEEL_RUN_ID=" + std::to_string(run_id), KEEL_BINARY, "--json",
                                        "model", "register", "census", "--from", "model"});
  ASSERT_EQ(linked.exit_code, 0) << linked.err;
  EXPECT_EQ(nlohmann::json::parse(linked.out).value("run_id", int64_t{0}), run_id);
  RunResult bad = RunProgram(root_, {"env", "KEEL_RUN_ID=999", KEEL_BINARY, "model", "register", "census", "--from",
                                     "model"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_TRUE(Contains(bad.err, "KEEL_RUN_ID: no run 999")) << bad.err;
  // --run wins over the variable.
  RunResult explicit_run = RunProgram(root_, {"env", "KEEL_RUN_ID=999", KEEL_BINARY, "--json", "model", "register",
                                              "census", "--from", "model", "--run", std::to_string(run_id)});
  ASSERT_EQ(explicit_run.exit_code, 0) << explicit_run.err;
}

}  // namespace
}  // namespace keel::testing
