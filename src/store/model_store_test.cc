#include "store/model_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "store/run_store.h"
#include "store/schema.h"
#include "store/sqlite.h"

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

std::string Digest64(char c) { return "sha256:" + std::string(64, c); }

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-models-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    uri_ = "sqlite://" + dir_ + "/keel.db";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<ModelStore> Open() {
    Result<std::unique_ptr<ModelStore>> store = OpenModelStore(uri_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static ModelVersion Version(std::string model, char digest, int64_t at_ms = 1000) {
    ModelVersion v;
    v.model = std::move(model);
    v.digest = Digest64(digest);
    v.size = 1234;
    v.files = 3;
    v.flavor = "files";
    v.source = "model";
    v.created_by = "alice";
    v.created_at_ms = at_ms;
    return v;
  }

  int64_t Create(const ModelVersion& v) {
    Result<int64_t> version = store_->CreateVersion(v);
    EXPECT_TRUE(version.ok()) << version.status().ToString();
    return version.ok() ? *version : 0;
  }

  ModelVersion Get(const std::string& name, int64_t version) {
    Result<ModelVersion> v = store_->GetVersion(name, version);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : ModelVersion{};
  }

  std::vector<int64_t> Live(const std::string& name) {
    Result<std::vector<ModelVersion>> versions = store_->ListVersions(name);
    EXPECT_TRUE(versions.ok()) << versions.status().ToString();
    std::vector<int64_t> out;
    for (const ModelVersion& v : versions.ok() ? *versions : std::vector<ModelVersion>{}) out.push_back(v.version);
    return out;
  }

  std::string dir_;
  std::string uri_;
  std::unique_ptr<ModelStore> store_;
};

TEST_F(ModelStoreTest, VersionsCountFromOnePerModel) {
  EXPECT_EQ(Create(Version("census", 'a')), 1);
  EXPECT_EQ(Create(Version("census", 'b')), 2);
  EXPECT_EQ(Create(Version("other", 'c')), 1);
  EXPECT_EQ(Create(Version("census", 'a')), 3);  // the same content again is a new version
  EXPECT_THAT(Live("census"), ElementsAre(1, 2, 3));
  EXPECT_THAT(Live("other"), ElementsAre(1));
  EXPECT_THAT(Live("unknown"), IsEmpty());
}

TEST_F(ModelStoreTest, StoresEveryLineageField) {
  ModelVersion v = Version("census", 'a', 5000);
  v.model_file = "model.json";
  v.model_hash = Digest64('e');
  v.flavor = "xgboost";
  v.description = "first try";
  v.run_id = 12;
  v.git_commit = std::string(40, '1');
  v.git_dirty = true;
  v.params = {{"train.max_depth", "6"}, {"train.eta", "0.3"}};
  v.metrics = {{"auc", 0.91}, {"loss", std::nan("")}, {"big", 1e300}};
  v.inputs = {{"train", "prepared", Digest64('p'), 100, 2, 0},
              {"prepare", "data/adult.csv", Digest64('d'), 5000, 1, 3}};
  v.signature = R"({"inputs": [{"name": "age", "datatype": "FP32"}]})";
  ASSERT_EQ(Create(v), 1);

  store_ = Open();  // read back from the file, not a cache
  ModelVersion got = Get("census", 1);
  EXPECT_EQ(got.model, "census");
  EXPECT_EQ(got.version, 1);
  EXPECT_EQ(got.digest, v.digest);
  EXPECT_EQ(got.size, 1234u);
  EXPECT_EQ(got.files, 3u);
  EXPECT_EQ(got.model_file, "model.json");
  EXPECT_EQ(got.model_hash, v.model_hash);
  EXPECT_EQ(got.flavor, "xgboost");
  EXPECT_EQ(got.description, "first try");
  EXPECT_EQ(got.source, "model");
  EXPECT_EQ(got.run_id, 12);
  EXPECT_EQ(got.git_commit, v.git_commit);
  EXPECT_TRUE(got.git_dirty);
  EXPECT_EQ(got.params, v.params);
  ASSERT_EQ(got.metrics.size(), 3u);
  EXPECT_EQ(got.metrics["auc"], 0.91);
  EXPECT_EQ(got.metrics["big"], 1e300);
  EXPECT_TRUE(std::isnan(got.metrics["loss"]));
  EXPECT_EQ(got.inputs, v.inputs);  // in the order given
  EXPECT_EQ(got.signature, v.signature);
  EXPECT_EQ(got.created_by, "alice");
  EXPECT_EQ(got.created_at_ms, 5000);
  EXPECT_THAT(got.aliases, IsEmpty());
}

TEST_F(ModelStoreTest, NoRunAndNoSignatureReadBackEmpty) {
  ASSERT_EQ(Create(Version("census", 'a')), 1);
  ModelVersion got = Get("census", 1);
  EXPECT_EQ(got.run_id, 0);
  EXPECT_EQ(got.signature, "");
  EXPECT_THAT(got.params, IsEmpty());
  EXPECT_THAT(got.inputs, IsEmpty());
}

TEST_F(ModelStoreTest, UnknownVersionsAndModelsAreNotFound) {
  Create(Version("census", 'a'));
  Result<ModelVersion> v = store_->GetVersion("census", 2);
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(v.status().message(), HasSubstr("model 'census' has no version 2"));
  Result<ModelSummary> m = store_->GetModel("censu");
  EXPECT_EQ(m.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("unknown model 'censu'"));
}

TEST_F(ModelStoreTest, DeletedVersionsDisappearAndTheirNumbersAreNotReused) {
  Create(Version("census", 'a', 1000));
  Create(Version("census", 'b', 2000));
  Create(Version("census", 'c', 3000));
  ASSERT_TRUE(store_->DeleteVersion("census", 3, 4000).ok());
  EXPECT_THAT(Live("census"), ElementsAre(1, 2));
  EXPECT_EQ(store_->GetVersion("census", 3).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->DeleteVersion("census", 3, 4500).code(), StatusCode::kNotFound);
  EXPECT_EQ(Create(Version("census", 'd', 5000)), 4);  // 3 stays retired
  Result<std::vector<std::pair<int64_t, bool>>> numbers = store_->VersionNumbers("census");
  ASSERT_TRUE(numbers.ok());
  EXPECT_THAT(*numbers, ElementsAre(Pair(1, false), Pair(2, false), Pair(3, true), Pair(4, false)));

  // Even with every version deleted, the next one continues the count.
  for (int64_t v : {1, 2, 4}) ASSERT_TRUE(store_->DeleteVersion("census", v, 6000).ok());
  Result<ModelSummary> summary = store_->GetModel("census");
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(summary->versions, 0);
  EXPECT_EQ(summary->latest, 0);
  EXPECT_EQ(summary->updated_at_ms, 6000);
  EXPECT_EQ(Create(Version("census", 'e', 7000)), 5);
}

TEST_F(ModelStoreTest, AliasesPointAtLiveVersionsAndBlockTheirDeletion) {
  Create(Version("census", 'a'));
  Create(Version("census", 'b'));
  Result<std::optional<int64_t>> set = store_->SetAlias("census", "production", 1, 2000);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_FALSE(set->has_value());
  set = store_->SetAlias("census", "production", 2, 3000);  // moves it
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(**set, 1);
  ASSERT_TRUE(store_->SetAlias("census", "staging", 2, 3000).ok());
  EXPECT_THAT(Get("census", 2).aliases, ElementsAre("production", "staging"));
  EXPECT_THAT(Get("census", 1).aliases, IsEmpty());

  Status refused = store_->DeleteVersion("census", 2, 4000);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("production, staging"));
  EXPECT_THAT(Live("census"), ElementsAre(1, 2));

  Result<int64_t> removed = store_->RemoveAlias("census", "production", 5000);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(store_->RemoveAlias("census", "production", 5000).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->RemoveAlias("nope", "production", 5000).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->RemoveAlias("census", "staging", 5000).ok());
  EXPECT_TRUE(store_->DeleteVersion("census", 2, 6000).ok());

  // An alias cannot point at a deleted or missing version.
  EXPECT_EQ(store_->SetAlias("census", "production", 2, 7000).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetAlias("census", "production", 9, 7000).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->SetAlias("nope", "production", 1, 7000).status().code(), StatusCode::kNotFound);
}

TEST_F(ModelStoreTest, ListModelsSummarisesEach) {
  Create(Version("zeta", 'a', 1000));
  Create(Version("census", 'b', 2000));
  Create(Version("census", 'c', 3000));
  ASSERT_TRUE(store_->SetAlias("census", "production", 1, 4000).ok());
  Result<std::vector<ModelSummary>> models = store_->ListModels();
  ASSERT_TRUE(models.ok());
  ASSERT_EQ(models->size(), 2u);
  const ModelSummary& census = (*models)[0];
  EXPECT_EQ(census.name, "census");
  EXPECT_EQ(census.versions, 2);
  EXPECT_EQ(census.latest, 2);
  EXPECT_THAT(census.aliases, ElementsAre(Pair("production", 1)));
  EXPECT_EQ(census.created_at_ms, 2000);
  EXPECT_EQ(census.updated_at_ms, 4000);
  EXPECT_EQ((*models)[1].name, "zeta");
  EXPECT_EQ((*models)[1].latest, 1);
}

TEST_F(ModelStoreTest, FindByDigestPrefix) {
  ModelVersion a = Version("census", 'a');
  a.digest = "sha256:abcd" + std::string(60, '0');
  ModelVersion b = Version("census", 'a');
  b.digest = "sha256:abce" + std::string(60, '0');
  ModelVersion c = Version("other", 'a');
  c.digest = a.digest;
  Create(a);
  Create(b);
  Create(c);
  auto find = [&](const std::string& prefix) {
    Result<std::vector<VersionRef>> refs = store_->FindByDigest(prefix);
    EXPECT_TRUE(refs.ok()) << refs.status().ToString();
    std::vector<std::string> out;
    for (const VersionRef& r : refs.ok() ? *refs : std::vector<VersionRef>{}) {
      out.push_back(r.model + "@" + std::to_string(r.version));
    }
    return out;
  };
  EXPECT_THAT(find("abc"), ElementsAre("census@1", "census@2", "other@1"));
  EXPECT_THAT(find("abcd"), ElementsAre("census@1", "other@1"));
  EXPECT_THAT(find("abce0000"), ElementsAre("census@2"));
  EXPECT_THAT(find(std::string(a.digest.substr(7))), ElementsAre("census@1", "other@1"));
  EXPECT_THAT(find("abcf"), IsEmpty());
  ASSERT_TRUE(store_->DeleteVersion("census", 1, 2000).ok());
  EXPECT_THAT(find("abcd"), ElementsAre("other@1"));  // deleted versions are not found
}

TEST_F(ModelStoreTest, LiveDigestsLeaveDeletedVersionsOut) {
  Create(Version("census", 'a'));
  Create(Version("census", 'b'));
  Create(Version("other", 'a'));
  ASSERT_TRUE(store_->DeleteVersion("census", 2, 2000).ok());
  Result<std::vector<std::string>> digests = store_->LiveDigests();
  ASSERT_TRUE(digests.ok());
  EXPECT_THAT(*digests, ElementsAre(Digest64('a')));
}

TEST_F(ModelStoreTest, SharesTheDatabaseWithRunsAtTheNewestSchema) {
  Create(Version("census", 'a'));
  Result<std::unique_ptr<RunStore>> runs = OpenRunStore(uri_);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  RunInfo info;
  info.experiment = "e";
  ASSERT_TRUE((*runs)->CreateRun(info, {}).ok());
  Result<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(dir_ + "/keel.db");
  ASSERT_TRUE(db.ok());
  Result<int64_t> version = SchemaVersionOf(db->get());
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, NewestSchemaVersion());
  EXPECT_GE(*version, 3);
}

TEST_F(ModelStoreTest, UnknownSchemeIsInvalidArgumentNamingTheUri) {
  Result<std::unique_ptr<ModelStore>> store = OpenModelStore("postgres://x");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("'postgres://x'"));
}

}  // namespace
}  // namespace keel
