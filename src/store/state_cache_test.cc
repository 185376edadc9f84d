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

TEST_F(StateCacheTest, PreloadLoadsPrefixAndBelowOnly) {
  const FileInfo old_info = Info(10, 100, 1000);
  const FileInfo new_info = Info(20, 200, 2000);
  const std::vector<std::string> paths = {"a",    "a/b",     "a/b/x", "a/b/y/z", "a/bc",
                                          "a/b0", "a/b.txt", "a/a",   "b"};
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    for (const std::string& p : paths) cache->Record(p, old_info, HashBytes("old " + p));
    ASSERT_TRUE(cache->Flush().ok());
  }

  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->Preload("a/b").ok());

  // Another connection rewrites every entry, and adds one below the prefix.
  // What the first cache preloaded it now answers from memory; everything
  // else it must still look up in the database.
  {
    std::unique_ptr<StateCache> writer = Open();
    ASSERT_NE(writer, nullptr);
    for (const std::string& p : paths) writer->Record(p, new_info, HashBytes("new " + p));
    writer->Record("a/b/added", new_info, HashBytes("added"));
    writer->Record("a/bz", new_info, HashBytes("bz"));
    ASSERT_TRUE(writer->Flush().ok());
  }

  for (const std::string p : {"a/b", "a/b/x", "a/b/y/z"}) {
    SCOPED_TRACE(p);
    EXPECT_EQ(cache->Lookup(p, old_info), HashBytes("old " + p));  // preloaded
    EXPECT_FALSE(cache->Lookup(p, new_info).has_value());
  }
  for (const std::string p : {"a/bc", "a/b0", "a/b.txt", "a/a", "a", "b"}) {
    SCOPED_TRACE(p);
    EXPECT_EQ(cache->Lookup(p, new_info), HashBytes("new " + p));  // queried
    EXPECT_FALSE(cache->Lookup(p, old_info).has_value());
  }
  EXPECT_EQ(cache->Lookup("a/bz", new_info), HashBytes("bz"));
  // Below a preloaded prefix, an entry missing at preload time is a miss.
  EXPECT_FALSE(cache->Lookup("a/b/added", new_info).has_value());
}

TEST_F(StateCacheTest, PreloadOfUnknownPrefixStillAnswersOtherPaths) {
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    cache->Record("data/x", Info(1, 1, 1), HashBytes("x"));
    ASSERT_TRUE(cache->Flush().ok());
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->Preload("models").ok());
  ASSERT_TRUE(cache->Preload("data/x").ok());
  EXPECT_EQ(cache->Lookup("data/x", Info(1, 1, 1)), HashBytes("x"));
  EXPECT_FALSE(cache->Lookup("models/m.bin", Info(1, 1, 1)).has_value());
  // Recording below a preloaded prefix is visible at once, and after reopening.
  cache->Record("models/m.bin", Info(5, 5, 5), HashBytes("m"));
  EXPECT_EQ(cache->Lookup("models/m.bin", Info(5, 5, 5)), HashBytes("m"));
  ASSERT_TRUE(cache->Flush().ok());
  cache = Open();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->Lookup("models/m.bin", Info(5, 5, 5)), HashBytes("m"));
}

TEST_F(StateCacheTest, LookupLoadedAnswersOnlyFromMemory) {
  const FileInfo info = Info(7, 8, 9);
  {
    std::unique_ptr<StateCache> cache = Open();
    ASSERT_NE(cache, nullptr);
    for (const std::string p : {"d/a", "d/b", "e/c"}) cache->Record(p, info, HashBytes(p));
    ASSERT_TRUE(cache->Flush().ok());
  }
  std::unique_ptr<StateCache> cache = Open();
  ASSERT_NE(cache, nullptr);
  ASSERT_TRUE(cache->Preload("d").ok());
  EXPECT_EQ(cache->LookupLoaded("d/a", info), HashBytes("d/a"));
  EXPECT_FALSE(cache->LookupLoaded("d/a", Info(7, 8, 10)).has_value());
  EXPECT_FALSE(cache->LookupLoaded("d/missing", info).has_value());
  // Not preloaded: no query is made, so no answer; Lookup does query.
  EXPECT_FALSE(cache->LookupLoaded("e/c", info).has_value());
  EXPECT_EQ(cache->Lookup("e/c", info), HashBytes("e/c"));

  // Several threads at once, while nothing else touches the cache.
  constexpr int kThreads = 4;
  std::vector<int> hits(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        const char* p = i % 2 == 0 ? "d/a" : "d/b";
        if (cache->LookupLoaded(p, info) == HashBytes(p)) ++hits[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(hits[t], 1000);
}

TEST_F(StateCacheTest, OpenFailureNamesThePath) {
  Result<std::unique_ptr<StateCache>> cache = StateCache::Open(dir_ + "/missing/dir/state.db");
  ASSERT_FALSE(cache.ok());
  EXPECT_NE(cache.status().message().find(dir_ + "/missing/dir/state.db"), std::string::npos)
      << cache.status().ToString();
}

}  // namespace
}  // namespace keel
