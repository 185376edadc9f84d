#include "store/metadata_store.h"

#include "store/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <barrier>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <thread>
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

class MetadataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-meta-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    uri_ = "sqlite://" + dir_ + "/keel.db";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  std::unique_ptr<MetadataStore> Open() {
    Result<std::unique_ptr<MetadataStore>> store = OpenMetadataStore(uri_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static DataVersion Version(std::string path, std::string_view content, int64_t at = 1000) {
    DataVersion v;
    v.path = std::move(path);
    v.kind = "file";
    v.digest = HashBytes(content);
    v.size = content.size();
    v.files = 1;
    v.created_at_ns = at;
    v.git_commit = "0123456789abcdef0123456789abcdef01234567";
    return v;
  }

  // True if the database file's header says WAL (bytes 18 and 19 are 2).
  bool IsWal() const {
    FILE* f = std::fopen((dir_ + "/keel.db").c_str(), "rb");
    if (f == nullptr) return false;
    unsigned char header[20] = {};
    size_t n = std::fread(header, 1, sizeof header, f);
    std::fclose(f);
    return n == sizeof header && header[18] == 2 && header[19] == 2;
  }

  static std::vector<int64_t> Ids(const std::vector<DataVersion>& versions) {
    std::vector<int64_t> ids;
    for (const DataVersion& v : versions) ids.push_back(v.id);
    return ids;
  }

  std::string dir_;
  std::string uri_;
};

TEST_F(MetadataStoreTest, OpenCreatesAndMigrates) {
  std::unique_ptr<MetadataStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/keel.db"));
  EXPECT_TRUE(IsWal());
  Result<int64_t> version = store->SchemaVersion();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, NewestSchemaVersion());
  Result<std::vector<DataVersion>> none = store->ListDataVersions("");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(MetadataStoreTest, OpeningTwiceIsIdempotent) {
  std::unique_ptr<MetadataStore> first = Open();
  ASSERT_NE(first, nullptr);
  Result<int64_t> id = first->RecordDataVersion(Version("data/a.csv", "a"));
  ASSERT_TRUE(id.ok());
  first.reset();

  std::unique_ptr<MetadataStore> second = Open();
  ASSERT_NE(second, nullptr);
  std::unique_ptr<MetadataStore> third = Open();  // while the second is open
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(*second->SchemaVersion(), NewestSchemaVersion());
  EXPECT_EQ(*third->SchemaVersion(), NewestSchemaVersion());
  Result<std::vector<DataVersion>> versions = third->ListDataVersions("");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(versions->front().id, *id);
}

TEST_F(MetadataStoreTest, RecordThenListNewestFirstAndFiltered) {
  std::unique_ptr<MetadataStore> store = Open();
  ASSERT_NE(store, nullptr);
  DataVersion dir_version = Version("data/images", "manifest", 3000);
  dir_version.kind = "dir";
  dir_version.files = 42;
  dir_version.size = 123456789012;  // more than 32 bits
  dir_version.git_commit = "";
  Result<int64_t> a1 = store->RecordDataVersion(Version("data/a.csv", "a1", 1000));
  Result<int64_t> b1 = store->RecordDataVersion(Version("data/b.csv", "b1", 2000));
  Result<int64_t> img = store->RecordDataVersion(dir_version);
  Result<int64_t> a2 = store->RecordDataVersion(Version("data/a.csv", "a2", 4000));
  ASSERT_TRUE(a1.ok() && b1.ok() && img.ok() && a2.ok());

  Result<std::vector<DataVersion>> all = store->ListDataVersions("");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_THAT(Ids(*all), ElementsAre(*a2, *img, *b1, *a1));

  Result<std::vector<DataVersion>> a = store->ListDataVersions("data/a.csv");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT(Ids(*a), ElementsAre(*a2, *a1));
  EXPECT_EQ((*a)[0].digest, HashBytes("a2"));
  EXPECT_EQ((*a)[1].digest, HashBytes("a1"));

  Result<std::vector<DataVersion>> dirs = store->ListDataVersions("data/images");
  ASSERT_TRUE(dirs.ok());
  ASSERT_EQ(dirs->size(), 1u);
  const DataVersion& got = dirs->front();
  EXPECT_EQ(got.id, *img);
  EXPECT_EQ(got.path, "data/images");
  EXPECT_EQ(got.kind, "dir");
  EXPECT_EQ(got.digest, dir_version.digest);
  EXPECT_EQ(got.size, 123456789012u);
  EXPECT_EQ(got.files, 42u);
  EXPECT_EQ(got.created_at_ns, 3000);
  EXPECT_EQ(got.git_commit, "");
  EXPECT_EQ((*a)[0].git_commit, "0123456789abcdef0123456789abcdef01234567");

  Result<std::vector<DataVersion>> none = store->ListDataVersions("data/missing.csv");
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
  // A path filter is exact, not a prefix.
  Result<std::vector<DataVersion>> prefix = store->ListDataVersions("data");
  ASSERT_TRUE(prefix.ok());
  EXPECT_THAT(*prefix, IsEmpty());
}

TEST_F(MetadataStoreTest, SameDigestAgainKeepsTheRow) {
  std::unique_ptr<MetadataStore> store = Open();
  ASSERT_NE(store, nullptr);
  Result<int64_t> first = store->RecordDataVersion(Version("data/a.csv", "same", 1000));
  ASSERT_TRUE(first.ok());
  Result<int64_t> again = store->RecordDataVersion(Version("data/a.csv", "same", 2000));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  Result<std::vector<DataVersion>> rows = store->ListDataVersions("data/a.csv");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->front().created_at_ns, 1000);  // the kept row is the first

  // The same digest under another path is another row.
  Result<int64_t> other = store->RecordDataVersion(Version("data/copy.csv", "same"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *first);

  // A new digest adds a row; going back to the old one adds another.
  Result<int64_t> changed = store->RecordDataVersion(Version("data/a.csv", "changed"));
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *first);
  Result<int64_t> back = store->RecordDataVersion(Version("data/a.csv", "same"));
  ASSERT_TRUE(back.ok());
  EXPECT_NE(*back, *first);
  EXPECT_NE(*back, *changed);
  rows = store->ListDataVersions("data/a.csv");
  ASSERT_TRUE(rows.ok());
  EXPECT_THAT(Ids(*rows), ElementsAre(*back, *changed, *first));
  EXPECT_EQ(store->ListDataVersions("")->size(), 4u);
}

TEST_F(MetadataStoreTest, UnknownSchemeIsInvalidArgumentNamingTheUri) {
  for (std::string uri : {"postgres://x", "foo", "", "sqlite:/one-slash.db"}) {
    Result<std::unique_ptr<MetadataStore>> store = OpenMetadataStore(uri);
    ASSERT_FALSE(store.ok()) << uri;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << uri;
    EXPECT_THAT(store.status().message(), HasSubstr("'" + uri + "'"));
  }
}

TEST_F(MetadataStoreTest, UnopenableFileIsAnError) {
  // The database path is a folder that does not exist.
  Result<std::unique_ptr<MetadataStore>> store =
      OpenMetadataStore("sqlite://" + dir_ + "/no/such/dir/keel.db");
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(dir_ + "/no/such/dir/keel.db"));
}

TEST_F(MetadataStoreTest, ConcurrentWritersFromTwoConnectionsAllSucceed) {
  ASSERT_NE(Open(), nullptr);  // created and migrated up front
  constexpr int kPerThread = 200;
  // Both threads open their own store, then start recording together.
  std::barrier start(2);
  std::vector<Status> errors(2);
  std::vector<std::set<int64_t>> ids(2);
  auto writer = [&](int t) {
    Result<std::unique_ptr<MetadataStore>> store = OpenMetadataStore(uri_);
    start.arrive_and_wait();
    if (!store.ok()) {
      errors[t] = store.status();
      return;
    }
    for (int i = 0; i < kPerThread; ++i) {
      std::string name = "t" + std::to_string(t) + "/file" + std::to_string(i);
      Result<int64_t> id = (*store)->RecordDataVersion(Version(name, name));
      if (!id.ok()) {
        errors[t] = id.status();
        return;
      }
      ids[t].insert(*id);
    }
  };
  std::thread a(writer, 0);
  std::thread b(writer, 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].ok()) << errors[0].ToString();
  EXPECT_TRUE(errors[1].ok()) << errors[1].ToString();
  EXPECT_EQ(ids[0].size(), static_cast<size_t>(kPerThread));
  EXPECT_EQ(ids[1].size(), static_cast<size_t>(kPerThread));

  std::unique_ptr<MetadataStore> store = Open();
  ASSERT_NE(store, nullptr);
  Result<std::vector<DataVersion>> all = store->ListDataVersions("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u * kPerThread);
  std::set<int64_t> listed;
  for (const DataVersion& v : *all) listed.insert(v.id);
  std::set<int64_t> recorded = ids[0];
  recorded.insert(ids[1].begin(), ids[1].end());
  EXPECT_EQ(listed, recorded);
}

TEST_F(MetadataStoreTest, ConcurrentFirstOpenMigratesOnce) {
  std::barrier start(2);
  std::vector<Status> errors(2);
  auto opener = [&](int t) {
    start.arrive_and_wait();
    Result<std::unique_ptr<MetadataStore>> store = OpenMetadataStore(uri_);
    if (!store.ok()) {
      errors[t] = store.status();
      return;
    }
    Result<int64_t> id = (*store)->RecordDataVersion(Version("p" + std::to_string(t), "x"));
    if (!id.ok()) errors[t] = id.status();
  };
  std::thread a(opener, 0);
  std::thread b(opener, 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].ok()) << errors[0].ToString();
  EXPECT_TRUE(errors[1].ok()) << errors[1].ToString();
  std::unique_ptr<MetadataStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->SchemaVersion(), NewestSchemaVersion());
  EXPECT_EQ(store->ListDataVersions("")->size(), 2u);
  EXPECT_TRUE(IsWal());
}

}  // namespace
}  // namespace keel
