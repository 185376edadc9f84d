// RegistryService on a real project in a temporary folder: real files, the
// real object store and SQLite, runs written straight to the RunStore.
#include "registry/registry_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <span>

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }

namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

class RegistryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keel-registry-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ASSERT_TRUE(Project::Init(DefaultEnv(), root_).ok());
    Write(".keel/config", "cache:\n  type: copy\n");  // workspace files stay writable
    Result<std::unique_ptr<Project>> project = Project::Open(DefaultEnv(), root_);
    ASSERT_TRUE(project.ok()) << project.status().ToString();
    project_ = std::move(*project);
    Result<std::unique_ptr<RunStore>> runs = OpenProjectRunStore(*project_);
    ASSERT_TRUE(runs.ok()) << runs.status().ToString();
    runs_ = std::move(*runs);
    Result<std::unique_ptr<ModelStore>> models = OpenProjectModelStore(*project_);
    ASSERT_TRUE(models.ok()) << models.status().ToString();
    models_ = std::move(*models);
    tracking_ = std::make_unique<TrackingService>(project_.get(), runs_.get());
    registry_ = std::make_unique<RegistryService>(project_.get(), models_.get(), tracking_.get());
  }
  void TearDown() override {
    registry_.reset();
    tracking_.reset();
    models_.reset();
    runs_.reset();
    project_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void Write(const std::string& rel, const std::string& data) {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    fs::remove(root_ + "/" + rel);
    std::ofstream(root_ + "/" + rel, std::ios::trunc) << data;
  }
  std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A model folder: model.json with `weights`, and optional extras.
  void WriteModel(const std::string& dir, const std::string& weights, const std::string& metrics = "",
                  const std::string& signature = "") {
    fs::remove_all(root_ + "/" + dir);
    Write(dir + "/model.json", "{\"weights\": " + weights + "}\n");
    if (!metrics.empty()) Write(dir + "/metrics.json", metrics);
    if (!signature.empty()) Write(dir + "/signature.json", signature);
  }

  RegisterRequest Request(const std::string& name, const std::string& from) {
    RegisterRequest r;
    r.name = name;
    r.from = from;
    r.cwd = root_;
    r.created_by = "alice";
    return r;
  }

  RegisterResult Register(const RegisterRequest& request) {
    Result<RegisterResult> r = registry_->Register(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RegisterResult{};
  }
  int64_t Register(const std::string& name, const std::string& from) {
    return Register(Request(name, from)).version.version;
  }

  Status RegisterError(const RegisterRequest& request) {
    Result<RegisterResult> r = registry_->Register(request);
    EXPECT_FALSE(r.ok()) << "registered " << request.name << "@" << r->version.version;
    return r.ok() ? Status::Ok() : r.status();
  }

  ModelVersion Resolve(const std::string& id) {
    Result<ModelVersion> v = registry_->Resolve(id);
    EXPECT_TRUE(v.ok()) << id << ": " << v.status().ToString();
    return v.ok() ? *v : ModelVersion{};
  }
  Status ResolveError(const std::string& id) {
    Result<ModelVersion> v = registry_->Resolve(id);
    EXPECT_FALSE(v.ok()) << id << " resolved to " << v->model << "@" << v->version;
    return v.ok() ? Status::Ok() : v.status();
  }

  // A finished run of the census pipeline: prepare (data/adult.csv →
  // prepared), train (prepared, train.sh → model), report (model → report.md)
  // and lint (lint.cfg → lint.txt), with params and metrics.
  int64_t CensusRun() {
    RunInfo info;
    info.experiment = "census";
    info.git_commit = std::string(40, 'c');
    info.git_dirty = true;
    info.start_ns = 1;
    Result<int64_t> id = runs_->CreateRun(info, {});
    EXPECT_TRUE(id.ok());
    auto stage = [&](const std::string& name, std::vector<RunInput> inputs) {
      for (RunInput& in : inputs) in.stage = name;
      EXPECT_TRUE(runs_->RecordStage(*id, {name, "ran", 0, "", "", 0}, std::span(inputs)).ok());
    };
    stage("prepare", {{"", "dep", "data/adult.csv", adult_.ToString(), 8, 1},
                      {"", "out", "prepared", Hash("prepared"), 8, 1}});
    stage("train", {{"", "dep", "prepared", Hash("prepared"), 8, 1},
                    {"", "dep", "train.sh", Hash("train.sh"), 20, 1},
                    {"", "out", "model", Hash("model"), 30, 1}});
    stage("report", {{"", "dep", "model", Hash("model"), 30, 1}, {"", "out", "report.md", Hash("r"), 1, 1}});
    stage("lint", {{"", "dep", "lint.cfg", Hash("lint.cfg"), 1, 1}, {"", "out", "lint.txt", Hash("l"), 1, 1}});
    EXPECT_TRUE(runs_->LogParams(*id, {{"train.max_depth", "6"}, {"prepare.split", "0.2"}}).ok());
    std::vector<MetricPoint> points = {{"auc", 0.5, 0, 1}, {"auc", 0.875, 3, 2}, {"loss", 0.25, 0, 1}};
    EXPECT_TRUE(runs_->LogMetrics(*id, points).ok());
    EXPECT_TRUE(runs_->EndRun(*id, RunStatus::kFinished, 2).ok());
    return *id;
  }

  // Records data/adult.csv as a `keel data` version; returns its id.
  int64_t AddAdultVersion() {
    DataVersion v;
    v.path = "data/adult.csv";
    v.kind = "file";
    v.digest = adult_;
    v.size = 8;
    v.files = 1;
    Result<int64_t> id = project_->metadata().RecordDataVersion(v);
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : 0;
  }

  static std::string Hash(const std::string& text) { return HashBytes(text).ToString(); }

  std::string root_;
  std::unique_ptr<Project> project_;
  std::unique_ptr<RunStore> runs_;
  std::unique_ptr<ModelStore> models_;
  std::unique_ptr<TrackingService> tracking_;
  std::unique_ptr<RegistryService> registry_;
  Digest adult_ = HashBytes("a,b\n1,2\n");
};

TEST_F(RegistryServiceTest, RegisterStoresTheFolderAndNumbersVersions) {
  WriteModel("model", "[1, 2]", "{\"auc\": 0.9, \"eval\": {\"f1\": 0.5}}\n", "{\"inputs\": [{\"name\": \"age\"}]}");
  RegisterResult first = Register(Request("census", "model"));
  ASSERT_TRUE(first.registered);
  const ModelVersion& v = first.version;
  EXPECT_EQ(v.model, "census");
  EXPECT_EQ(v.version, 1);
  EXPECT_EQ(first.identical_to, 0);
  EXPECT_EQ(v.flavor, "xgboost");  // model.json is there
  EXPECT_EQ(v.model_file, "model.json");
  EXPECT_EQ(v.model_hash, Hash("{\"weights\": [1, 2]}\n"));
  EXPECT_EQ(v.files, 3u);
  EXPECT_EQ(v.source, "model");
  EXPECT_EQ(v.created_by, "alice");
  EXPECT_GT(v.created_at_ms, 0);
  EXPECT_THAT(v.metrics, ElementsAre(Pair("auc", 0.9), Pair("eval.f1", 0.5)));  // flattened
  EXPECT_EQ(v.signature, "{\"inputs\": [{\"name\": \"age\"}]}");                // verbatim
  EXPECT_EQ(v.run_id, 0);
  EXPECT_EQ(v.git_commit, "");  // not in git
  EXPECT_FALSE(v.git_dirty);
  EXPECT_THAT(v.params, IsEmpty());
  EXPECT_THAT(v.inputs, IsEmpty());

  // The digest is the folder's manifest object, stored with every file.
  Result<Digest> digest = Digest::Parse(v.digest, "digest");
  ASSERT_TRUE(digest.ok());
  EXPECT_TRUE(project_->objects().Has(*digest));
  Result<Manifest> files = registry_->Files(v);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  ASSERT_EQ(files->entries().size(), 3u);
  for (const ManifestEntry& e : files->entries()) EXPECT_TRUE(project_->objects().Has(e.digest)) << e.path;

  // The same content again is a new version, noted as identical.
  RegisterResult again = Register(Request("census", "model"));
  EXPECT_EQ(again.version.version, 2);
  EXPECT_EQ(again.identical_to, 1);
  EXPECT_EQ(again.version.digest, v.digest);
  WriteModel("model", "[3]");
  RegisterResult third = Register(Request("census", "model"));
  EXPECT_EQ(third.version.version, 3);
  EXPECT_EQ(third.identical_to, 0);
  EXPECT_NE(third.version.digest, v.digest);
  EXPECT_THAT(third.version.metrics, IsEmpty());
  EXPECT_EQ(Register("other", "model"), 1);  // numbered per model
}

TEST_F(RegistryServiceTest, IfChangedRegistersOnlyNewContent) {
  WriteModel("model", "[1]");
  RegisterRequest r = Request("census", "model");
  r.policy = RegisterPolicy::kIfChanged;
  EXPECT_TRUE(Register(r).registered);
  RegisterResult same = Register(r);
  EXPECT_FALSE(same.registered);
  EXPECT_EQ(same.version.version, 1);
  WriteModel("model", "[2]");
  RegisterResult changed = Register(r);
  EXPECT_TRUE(changed.registered);
  EXPECT_EQ(changed.version.version, 2);
  // Back to version 1's content: it differs from the latest, so it counts.
  WriteModel("model", "[1]");
  RegisterResult back = Register(r);
  EXPECT_TRUE(back.registered);
  EXPECT_EQ(back.version.version, 3);
  EXPECT_EQ(back.identical_to, 1);
}

TEST_F(RegistryServiceTest, FlavorAndModelFile) {
  Write("plain/weights.bin", "0101");
  ModelVersion plain = Register(Request("plain", "plain")).version;
  EXPECT_EQ(plain.flavor, "files");
  EXPECT_EQ(plain.model_file, "weights.bin");  // the only file
  Write("plain/README", "notes");
  ModelVersion two = Register(Request("plain", "plain")).version;
  EXPECT_EQ(two.model_file, "");  // neither model.json nor one file
  EXPECT_EQ(two.model_hash, "");
  RegisterRequest r = Request("plain", "plain");
  r.flavor = "onnx";
  EXPECT_EQ(Register(r).version.flavor, "onnx");
  r.flavor = "bad flavor";
  EXPECT_THAT(RegisterError(r).message(), HasSubstr("bad flavor 'bad flavor'"));
}

TEST_F(RegistryServiceTest, BadRequestsNameWhatIsWrong) {
  WriteModel("model", "[1]");
  Write("file.txt", "x");
  fs::create_directories(root_ + "/empty");
  struct Case {
    RegisterRequest request;
    StatusCode code;
    std::string message;
  };
  std::vector<Case> cases = {
      {Request("-bad", "model"), StatusCode::kInvalidArgument, "bad model name '-bad'"},
      {Request("census", "nope"), StatusCode::kNotFound, "nope: no such folder"},
      {Request("census", "file.txt"), StatusCode::kInvalidArgument, "file.txt: not a folder"},
      {Request("census", "/tmp"), StatusCode::kInvalidArgument, "/tmp: outside the project"},
      {Request("census", "empty"), StatusCode::kInvalidArgument, "empty: the folder has no files"},
      {Request("census", ""), StatusCode::kInvalidArgument, "no folder to register"},
  };
  RegisterRequest run = Request("census", "model");
  run.run = "99";
  cases.push_back({run, StatusCode::kNotFound, "--run: no run 99"});
  run.run = "abc";
  run.run_source = "KEEL_RUN_ID";
  cases.push_back({run, StatusCode::kInvalidArgument, "KEEL_RUN_ID: 'abc' is not a run id"});
  for (const Case& c : cases) {
    Status s = RegisterError(c.request);
    EXPECT_EQ(s.code(), c.code) << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(c.message));
  }
  Result<std::vector<ModelSummary>> models = registry_->ListModels();
  ASSERT_TRUE(models.ok());
  EXPECT_THAT(*models, IsEmpty());  // nothing half-registered
}

TEST_F(RegistryServiceTest, BadMetricsOrSignatureFilesAreRefused) {
  WriteModel("model", "[1]", "{\"auc\": \"high\"}");
  Status s = RegisterError(Request("census", "model"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("model/metrics.json: 'auc' is 'high', not a number"));
  WriteModel("model", "[1]", "", "{not json");
  s = RegisterError(Request("census", "model"));
  EXPECT_THAT(s.message(), HasSubstr("model/signature.json: not valid JSON"));
}

TEST_F(RegistryServiceTest, RunLineageReachesDataVersionsUpstream) {
  int64_t data_version = AddAdultVersion();
  int64_t run = CensusRun();
  WriteModel("model", "[1]");  // no metrics.json: the run's metrics
  RegisterRequest r = Request("census", "model");
  r.run = std::to_string(run);
  ModelVersion v = Register(r).version;
  EXPECT_EQ(v.run_id, run);
  EXPECT_EQ(v.git_commit, std::string(40, 'c'));
  EXPECT_TRUE(v.git_dirty);
  EXPECT_THAT(v.params, ElementsAre(Pair("prepare.split", "0.2"), Pair("train.max_depth", "6")));
  EXPECT_THAT(v.metrics, ElementsAre(Pair("auc", 0.875), Pair("loss", 0.25)));  // latest values
  // train made model; prepare made train's dep. report and lint did not.
  EXPECT_THAT(v.inputs, ElementsAre(ModelInput{"prepare", "data/adult.csv", adult_.ToString(), 8, 1, data_version},
                                    ModelInput{"train", "prepared", Hash("prepared"), 8, 1, 0},
                                    ModelInput{"train", "train.sh", Hash("train.sh"), 20, 1, 0}));
  // metrics.json in the folder wins over the run's.
  WriteModel("model", "[1]", "{\"auc\": 0.7}");
  EXPECT_THAT(Register(r).version.metrics, ElementsAre(Pair("auc", 0.7)));
}

TEST_F(RegistryServiceTest, FolderNoStageWroteTakesAllDeps) {
  int64_t run = CensusRun();
  WriteModel("elsewhere", "[1]");
  RegisterRequest r = Request("census", "elsewhere");
  r.run = std::to_string(run);
  std::vector<std::string> paths;
  for (const ModelInput& in : Register(r).version.inputs) paths.push_back(in.stage + ":" + in.path);
  EXPECT_THAT(paths, ElementsAre("lint:lint.cfg", "prepare:data/adult.csv", "report:model", "train:prepared",
                                 "train:train.sh"));
}

TEST_F(RegistryServiceTest, LineageInputsOfAFolderInsideOrAroundAnOut) {
  RunRecord run;
  run.inputs = {{"a", "dep", "x", "sha256:x", 1, 1}, {"a", "out", "artifacts", "sha256:o", 1, 1},
                {"b", "dep", "y", "sha256:y", 1, 1}, {"b", "out", "bundle/model.json", "sha256:p", 1, 1},
                {"c", "dep", "z", "sha256:z", 1, 1}, {"c", "out", "other", "sha256:q", 1, 1}};
  EXPECT_THAT(LineageInputs(run, {7, 0, 0, 0, 0, 0}, "artifacts/model"),
              ElementsAre(ModelInput{"a", "x", "sha256:x", 1, 1, 7}));
  // A stage writing a part of the folder made it too.
  EXPECT_THAT(LineageInputs(run, {}, "bundle"), ElementsAre(ModelInput{"b", "y", "sha256:y", 1, 1, 0}));
  // "artifacts2" is not inside "artifacts": no stage wrote it, so every dep.
  EXPECT_EQ(LineageInputs(run, {}, "artifacts2").size(), 3u);
}

TEST_F(RegistryServiceTest, ResolvesVersionsAliasesLatestAndDigests) {
  WriteModel("model", "[1]");
  Register("census", "model");
  WriteModel("model", "[2]");
  Register("census", "model");
  WriteModel("model", "[3]");
  ModelVersion third = Register(Request("census", "model")).version;
  ASSERT_TRUE(registry_->SetAlias("census@2", "production").ok());
  EXPECT_EQ(Resolve("census@1").version, 1);
  EXPECT_EQ(Resolve("census@production").version, 2);
  EXPECT_EQ(Resolve("census@latest").version, 3);
  EXPECT_EQ(Resolve("sha256:" + third.digest.substr(7, 10)).version, 3);
  EXPECT_EQ(Resolve(third.digest).version, 3);
  EXPECT_THAT(Resolve("census@production").aliases, ElementsAre("production"));
}

TEST_F(RegistryServiceTest, ResolveErrorsNameTheThing) {
  WriteModel("model", "[1]");
  for (int i = 0; i < 4; ++i) {
    WriteModel("model", "[" + std::to_string(i) + "]");
    Register("census", "model");
  }
  ASSERT_TRUE(registry_->SetAlias("census@4", "production").ok());
  ASSERT_TRUE(registry_->SetAlias("census@3", "staging").ok());
  struct Case {
    std::string id;
    StatusCode code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"censu@1", StatusCode::kNotFound, "unknown model 'censu' (did you mean 'census'?)"},
           {"census@9", StatusCode::kNotFound, "model 'census' has no version 9 (versions: 1-4)"},
           {"census@prod", StatusCode::kNotFound, "model 'census' has no alias 'prod' (aliases: production, staging)"},
           {"census@stagign", StatusCode::kNotFound, "no alias 'stagign' (did you mean 'staging'?)"},
           {"census@", StatusCode::kInvalidArgument, "bad model ID 'census@'"},
           {"sha256:abcd", StatusCode::kNotFound, "no model version matches sha256:abcd"},
           {"census", StatusCode::kInvalidArgument, "did you mean 'census@latest'?"},
       }) {
    Status s = ResolveError(c.id);
    EXPECT_EQ(s.code(), c.code) << c.id << ": " << s.ToString();
    EXPECT_THAT(s.message(), HasSubstr(c.message)) << c.id;
  }
  // A deleted version says so.
  ASSERT_TRUE(registry_->Delete("census@2").ok());
  EXPECT_THAT(ResolveError("census@2").message(),
              HasSubstr("model 'census' has no version 2 (it was deleted; versions: 1, 3-4)"));
}

TEST_F(RegistryServiceTest, AmbiguousDigestsListTheCandidates) {
  // Two contents whose digests share a prefix, recorded straight in the store.
  for (char last : {'0', '1'}) {
    ModelVersion v;
    v.model = "census";
    v.digest = "sha256:abcd" + std::string(59, '0') + last;
    v.flavor = "files";
    v.created_by = "alice";
    ASSERT_TRUE(models_->CreateVersion(v).ok());
  }
  Status s = ResolveError("sha256:abcd");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("sha256:abcd is ambiguous: census@1, census@2 (give more digits)"));
  EXPECT_EQ(Resolve("sha256:abcd" + std::string(59, '0') + "1").version, 2);

  // Identical content in two models is ambiguous at any length.
  WriteModel("shared", "[\"same\"]");
  ModelVersion a = Register(Request("census", "shared")).version;
  ModelVersion b = Register(Request("income", "shared")).version;
  s = ResolveError(a.digest);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("is ambiguous: census@3, income@1 (the same content in several models)"));
  // Within one model, the digest names the content: the newest version has it.
  EXPECT_EQ(Register(Request("income", "shared")).version.version, 2);
  ASSERT_TRUE(registry_->Delete("census@3").ok());
  EXPECT_EQ(Resolve("sha256:" + b.digest.substr(7, 6)).version, 2);
}

TEST_F(RegistryServiceTest, AliasesMoveAndAreRemoved) {
  WriteModel("model", "[1]");
  Register("census", "model");
  WriteModel("model", "[2]");
  Register("census", "model");
  Result<AliasChange> set = registry_->SetAlias("census@1", "production");
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->version, 1);
  EXPECT_FALSE(set->previous.has_value());
  set = registry_->SetAlias("census@latest", "production");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->version, 2);
  EXPECT_EQ(set->previous, 1);
  EXPECT_THAT(registry_->SetAlias("census@1", "latest").status().message(), HasSubstr("built in"));
  EXPECT_THAT(registry_->SetAlias("census@1", "Prod").status().message(), HasSubstr("bad alias 'Prod'"));
  EXPECT_EQ(registry_->SetAlias("census@7", "x").status().code(), StatusCode::kNotFound);

  Result<AliasChange> removed = registry_->RemoveAlias("census", "production");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->version, 2);
  Result<AliasChange> again = registry_->RemoveAlias("census", "production");
  EXPECT_EQ(again.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(again.status().message(), HasSubstr("model 'census' has no alias 'production' (it has no aliases)"));
  EXPECT_THAT(registry_->RemoveAlias("censsu", "production").status().message(),
              HasSubstr("unknown model 'censsu' (did you mean 'census'?)"));
  EXPECT_THAT(registry_->RemoveAlias("census", "latest").status().message(), HasSubstr("cannot be removed"));
}

TEST_F(RegistryServiceTest, DeleteAsksOtherUsersAndKeepsTheVersionOnTheirErrors) {
  WriteModel("model", "[1]");
  Register("census", "model");
  WriteModel("model", "[2]");
  Register("census", "model");
  std::vector<int64_t> asked;
  RegistryService::VersionUsers deployments = [&](const ModelVersion& v) -> Result<std::vector<std::string>> {
    asked.push_back(v.version);
    if (v.version == 2) return std::vector<std::string>{"deploy.yaml environment 'production'"};
    return std::vector<std::string>{};
  };
  Result<ModelVersion> refused = registry_->Delete("census@2", deployments);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("census@2 is in use and cannot be deleted: deploy.yaml environment 'production' points at it "
                        "(point deployments at another version)"));
  ASSERT_TRUE(registry_->SetAlias("census@2", "production").ok());
  EXPECT_THAT(registry_->Delete("census@2", deployments).status().message(),
              HasSubstr("alias 'production', deploy.yaml environment 'production' point at it (move aliases with "
                        "`keel model alias set`, or `keel model alias rm census production`; point deployments at "
                        "another version)"));
  RegistryService::VersionUsers broken = [](const ModelVersion&) -> Result<std::vector<std::string>> {
    return FailedPreconditionError("deploy.yaml:1:1: bad");
  };
  EXPECT_THAT(registry_->Delete("census@1", broken).status().message(), HasSubstr("deploy.yaml:1:1: bad"));
  EXPECT_EQ(Resolve("census@1").version, 1);
  EXPECT_EQ(Resolve("census@2").version, 2);
  Result<ModelVersion> deleted = registry_->Delete("census@1", deployments);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_THAT(asked, ElementsAre(2, 2, 1));
  EXPECT_EQ(ResolveError("census@1").code(), StatusCode::kNotFound);
}

TEST_F(RegistryServiceTest, DeleteIsRefusedWhileAliasedAndNumbersAreNotReused) {
  WriteModel("model", "[1]");
  Register("census", "model");
  WriteModel("model", "[2]");
  Register("census", "model");
  ASSERT_TRUE(registry_->SetAlias("census@2", "production").ok());
  ASSERT_TRUE(registry_->SetAlias("census@2", "canary").ok());
  Result<ModelVersion> refused = registry_->Delete("census@production");
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("census@2 is in use and cannot be deleted: alias 'canary', alias 'production' point at it"));
  ASSERT_TRUE(registry_->RemoveAlias("census", "production").ok());
  ASSERT_TRUE(registry_->RemoveAlias("census", "canary").ok());
  Result<ModelVersion> deleted = registry_->Delete("census@latest");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(deleted->version, 2);
  EXPECT_EQ(Resolve("census@latest").version, 1);
  WriteModel("model", "[3]");
  EXPECT_EQ(Register("census", "model"), 3);
  Result<std::vector<ModelVersion>> live = registry_->ListVersions("census");
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[1].version, 3);
  // With every version gone the model leaves the list, and latest says why.
  ASSERT_TRUE(registry_->Delete("census@1").ok());
  ASSERT_TRUE(registry_->Delete("census@3").ok());
  Result<std::vector<ModelSummary>> models = registry_->ListModels();
  ASSERT_TRUE(models.ok());
  EXPECT_THAT(*models, IsEmpty());
  EXPECT_THAT(ResolveError("census@latest").message(), HasSubstr("no versions left"));
}

TEST_F(RegistryServiceTest, MaterializeWritesTheVersionsBytes) {
  WriteModel("model", "[1, 2, 3]", "{\"auc\": 1}");
  Write("model/sub/run.sh", "#!/bin/sh\necho hi\n");
  fs::permissions(root_ + "/model/sub/run.sh", fs::perms::owner_exec, fs::perm_options::add);
  fs::create_directories(root_ + "/model/empty");
  fs::create_symlink("sub/run.sh", root_ + "/model/link");
  ModelVersion v = Register(Request("census", "model")).version;
  std::string out = root_ + "/out";
  Result<MaterializeResult> got = registry_->Materialize("census@1", root_, "out", OverwriteMode::kRefuse);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->dir, out);
  EXPECT_EQ(got->written, 5u);  // 3 files, the link and the empty folder
  EXPECT_EQ(Read(out + "/model.json"), "{\"weights\": [1, 2, 3]}\n");
  EXPECT_EQ(Read(out + "/sub/run.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_NE(fs::status(out + "/sub/run.sh").permissions() & fs::perms::owner_exec, fs::perms::none);
  EXPECT_EQ(fs::read_symlink(out + "/link"), "sub/run.sh");
  EXPECT_TRUE(fs::is_directory(out + "/empty"));

  // Again: nothing to write. A changed file is refused, then forced.
  got = registry_->Materialize("census@1", root_, "out", OverwriteMode::kRefuse);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->written, 0u);
  EXPECT_EQ(got->unchanged, 5u);
  Write("out/model.json", "changed");
  Write("out/extra.txt", "mine");
  got = registry_->Materialize("census@1", root_, "out", OverwriteMode::kRefuse);
  EXPECT_EQ(got.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(got.status().message(), HasSubstr("out/model.json: exists with other content than census@1's"));
  EXPECT_EQ(Read(out + "/model.json"), "changed");
  got = registry_->Materialize("census@1", root_, "out", OverwriteMode::kForce);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->written, 1u);
  EXPECT_EQ(Read(out + "/model.json"), "{\"weights\": [1, 2, 3]}\n");
  EXPECT_EQ(Read(out + "/extra.txt"), "mine");  // not the version's: left alone
}

TEST_F(RegistryServiceTest, MaterializeRefusesADamagedObject) {
  WriteModel("model", "[1]");
  ModelVersion v = Register(Request("census", "model")).version;
  Digest model = HashBytes("{\"weights\": [1]}\n");
  std::string object = project_->objects().PathOf(model);
  fs::permissions(object, fs::perms::owner_write, fs::perm_options::add);
  std::ofstream(object, std::ios::trunc) << "{\"weights\": [666]}\n";
  Result<MaterializeResult> got = registry_->Materialize("census@1", root_, "out", OverwriteMode::kRefuse);
  EXPECT_EQ(got.status().code(), StatusCode::kCorrupt) << got.status().ToString();
  EXPECT_FALSE(fs::exists(root_ + "/out/model.json"));
}

TEST_F(RegistryServiceTest, ReferencedObjectsAreThoseOfLiveVersions) {
  WriteModel("model", "[1]", "{\"auc\": 1}");
  ModelVersion one = Register(Request("census", "model")).version;
  WriteModel("model", "[2]", "{\"auc\": 1}");
  ModelVersion two = Register(Request("census", "model")).version;
  auto referenced = [&] {
    Result<std::vector<Digest>> r = registry_->ReferencedObjects();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::vector<std::string> out;
    for (const Digest& d : r.ok() ? *r : std::vector<Digest>{}) out.push_back(d.ToString());
    return out;
  };
  std::string metrics = Hash("{\"auc\": 1}");
  EXPECT_THAT(referenced(), UnorderedElementsAre(one.digest, one.model_hash, metrics, two.digest, two.model_hash,
                                                 metrics));
  ASSERT_TRUE(registry_->Delete("census@1").ok());
  EXPECT_THAT(referenced(), UnorderedElementsAre(two.digest, two.model_hash, metrics));
}

TEST_F(RegistryServiceTest, CompareVersionsMarksDifferences) {
  int64_t run = CensusRun();
  WriteModel("model", "[1]", "{\"auc\": 0.9}");
  RegisterRequest r = Request("census", "model");
  r.run = std::to_string(run);
  ModelVersion a = Register(r).version;
  WriteModel("model", "[2]", "{\"auc\": 0.9, \"f1\": 0.4}");
  ModelVersion b = Register(Request("census", "model")).version;
  std::map<std::string, ComparisonRow> rows;
  for (ComparisonRow& row : CompareVersions({a, b})) rows[row.section + "." + row.key] = row;
  EXPECT_FALSE(rows.at("metrics.auc").differs);
  EXPECT_TRUE(rows.at("metrics.f1").differs);
  EXPECT_EQ(rows.at("metrics.f1").values[0], std::nullopt);
  EXPECT_EQ(rows.at("metrics.f1").values[1], "0.4");
  EXPECT_TRUE(rows.at("params.train.max_depth").differs);
  EXPECT_TRUE(rows.at("attributes.digest").differs);
  EXPECT_TRUE(rows.at("attributes.run").differs);
  EXPECT_FALSE(rows.at("attributes.flavor").differs);
  EXPECT_EQ(rows.at("data.data/adult.csv").values[0], adult_.ToString());
  EXPECT_EQ(rows.at("data.data/adult.csv").values[1], std::nullopt);
}

TEST_F(RegistryServiceTest, RegistersPipelineModelsWhenChanged) {
  int64_t run = CensusRun();
  WriteModel("model", "[1]");
  std::vector<ModelSpec> specs = {{"census", "model", "", "from the pipeline", "keel.yaml:9:8"},
                                  {"broken", "missing", "", "", "keel.yaml:10:8"}};
  std::vector<PipelineModelResult> results = registry_->RegisterPipelineModels(specs, run, "ci");
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].status.ok()) << results[0].status.ToString();
  EXPECT_TRUE(results[0].result.registered);
  EXPECT_EQ(results[0].result.version.run_id, run);
  EXPECT_EQ(results[0].result.version.description, "from the pipeline");
  EXPECT_EQ(results[0].result.version.created_by, "ci");
  EXPECT_EQ(results[1].status.code(), StatusCode::kNotFound);
  EXPECT_THAT(results[1].status.message(), HasSubstr("missing: no such folder"));
  results = registry_->RegisterPipelineModels({specs[0]}, run, "ci");
  ASSERT_TRUE(results[0].status.ok());
  EXPECT_FALSE(results[0].result.registered);
  EXPECT_EQ(results[0].result.version.version, 1);
}

TEST_F(RegistryServiceTest, ReadPipelineModels) {
  Result<std::vector<ModelSpec>> none = ReadPipelineModels(*project_);
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);  // no keel.yaml
  Write("keel.yaml", "stages:\n  train: {cmd: x, outs: [out]}\n");
  none = ReadPipelineModels(*project_);
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  Write("keel.yaml", "stages:\n  train: {cmd: x, outs: [model]}\nmodel: {name: census, path: model}\n");
  Result<std::vector<ModelSpec>> one = ReadPipelineModels(*project_);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name, "census");
}

TEST(CurrentUserNameTest, UsesUserThenThePasswordFile) {
  const char* saved = std::getenv("USER");
  std::string before = saved != nullptr ? saved : "";
  ::setenv("USER", "carol", 1);
  EXPECT_EQ(CurrentUserName(), "carol");
  ::unsetenv("USER");
  EXPECT_FALSE(CurrentUserName().empty());
  if (saved != nullptr) ::setenv("USER", before.c_str(), 1);
}

}  // namespace
}  // namespace keel
