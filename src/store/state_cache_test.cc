#include "store/state_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace keel {
namespace {

class StateCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-state-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    path_ = dir_ + "/state.db";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  std::unique_ptr<StateCache> Open() {
    Result<std::unique_ptr<StateCache>> cache = StateCache::Open(path_);
    EXPECT_TRUE(cache.ok()) << cache.status().ToString();
    return cache.ok() ? std::move(cache).value() : nullptr;
  }

  static FileInfo Info(uint64_t size, int64_t mtime_ns, uint64_t inode) {
    FileInfo info;
    info.type = FileType::kRegular;
    info.size = size;
    info.mtime_ns = mtime_ns;
    info.inode = inode;
    info.mode = 0644;
    return info;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateCacheTest, RecordFlushReopenLookup) {
  const FileInfo info = Info(1234, 1700000000123456789, 42);
  const Digest digest = HashBytes("file content");
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    EXPECT_FALSE(cache->Lookup("data/a.csv", info).has_value());
    cache->Record("data/a.csv", info, digest);
    ASSERT_TRUE(cache->Flush().ok());
    ASSERT_TRUE(cache->Flush().ok());  // nothing pending: a no-op
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  std::optional<Digest> hit = cache->Lookup("data/a.csv", info);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(*hit, digest);
  // Lookups are repeatable (the prepared statement is reset).
  EXPECT_EQ(cache->Lookup("data/a.csv", info), digest);
}

TEST_F(StateCacheTest, LookupHitsOnlyWhenSizeMtimeAndInodeMatch) {
  const FileInfo info = Info(1234, 1700000000123456789, 42);
  const Digest digest = HashBytes("x");
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    cache->Record("f", info, digest);
    ASSERT_TRUE(cache->Flush().ok());
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->Lookup("f", info), digest);
  EXPECT_FALSE(cache->Lookup("f", Info(1235, info.mtime_ns, 42)).has_value());
  EXPECT_FALSE(cache->Lookup("f", Info(1234, info.mtime_ns + 1, 42)).has_value());
  EXPECT_FALSE(cache->Lookup("f", Info(1234, info.mtime_ns, 43)).has_value());
  // Mode, links and device are not part of the key.
  FileInfo other = info;
  other.mode = 0755;
  other.links = 3;
  other.device = 9;
  EXPECT_EQ(cache->Lookup("f", other), digest);
  EXPECT_FALSE(cache->Lookup("g", info).has_value());
  EXPECT_FALSE(cache->Lookup("F", info).has_value());
}

TEST_F(StateCacheTest, RecordedEntriesServeLookupsBeforeFlushButPersistOnlyAfter) {
  const FileInfo info = Info(1, 2, 3);
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    cache->Record("unflushed", info, HashBytes("u"));
    EXPECT_EQ(cache->Lookup("unflushed", info), HashBytes("u"));
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->Lookup("unflushed", info).has_value());
}

TEST_F(StateCacheTest, LaterRecordReplacesEarlier) {
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    cache->Record("f", Info(1, 1, 1), HashBytes("old"));
    ASSERT_TRUE(cache->Flush().ok());
    cache->Record("f", Info(2, 2, 2), HashBytes("mid"));
    cache->Record("f", Info(3, 3, 3), HashBytes("new"));
    ASSERT_TRUE(cache->Flush().ok());
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->Lookup("f", Info(1, 1, 1)).has_value());
  EXPECT_FALSE(cache->Lookup("f", Info(2, 2, 2)).has_value());
  EXPECT_EQ(cache->Lookup("f", Info(3, 3, 3)), HashBytes("new"));
}

TEST_F(StateCacheTest, ForEachUnderListsPrefixAndBelowOnlyInByteOrder) {
  const std::vector<std::string> paths = {"a",    "a/b",     "a/b/x", "a/b/y/z", "a/bc",
                                          "a/b0", "a/b.txt", "a/a",   "b",       "a/b/é"};
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    for (size_t i = 0; i < paths.size(); ++i) {
      cache->Record(paths[i], Info(i, 100 + i, 1000 + i), HashBytes(paths[i]));
    }
    ASSERT_TRUE(cache->Flush().ok());
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  std::vector<std::string> seen;
  ASSERT_TRUE(cache->ForEachUnder("a/b", [&](std::string_view rel, const CachedState& s) {
    std::string full = rel.empty() ? "a/b" : "a/b/" + std::string(rel);
    EXPECT_EQ(s.digest, HashBytes(full)) << full;
    seen.emplace_back(rel);
  }).ok());
  // Exactly the prefix and what lies below it, in byte order (é is 0xc3 0xa9).
  EXPECT_EQ(seen, (std::vector<std::string>{"", "x", "y/z", "é"}));

  seen.clear();
  ASSERT_TRUE(cache->ForEachUnder("nothing/here", [&](std::string_view rel, const CachedState&) {
    seen.emplace_back(rel);
  }).ok());
  EXPECT_TRUE(seen.empty());
}

TEST_F(StateCacheTest, ForEachUnderSeesOnlyFlushedEntries) {
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  cache->Record("d/a", Info(1, 2, 3), HashBytes("a"));
  int count = 0;
  auto counter = [&](std::string_view, const CachedState& s) {
    EXPECT_TRUE(s.Matches(Info(1, 2, 3)));
    EXPECT_FALSE(s.Matches(Info(1, 2, 4)));
    ++count;
  };
  ASSERT_TRUE(cache->ForEachUnder("d", counter).ok());
  EXPECT_EQ(count, 0);
  EXPECT_EQ(cache->Lookup("d/a", Info(1, 2, 3)), HashBytes("a"));  // pending, but seen by Lookup
  ASSERT_TRUE(cache->Flush().ok());
  ASSERT_TRUE(cache->ForEachUnder("d", counter).ok());
  EXPECT_EQ(count, 1);
}

TEST_F(StateCacheTest, OpenFailureNamesThePath) {
  Result<std::unique_ptr<StateCache>> cache = StateCache::Open(dir_ + "/missing/dir/state.db");
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.status().message().find(dir_ + "/missing/dir/state.db"), std::string::npos)
      << cache.status().ToString();
}

}  // namespace
}  // namespace keel
