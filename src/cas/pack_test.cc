#include "cas/pack.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace keel {
namespace {

TEST(PackIndexTest, RoundTripAndChecksum) {
  std::vector<PackEntry> entries;
  for (int i = 0; i < 5; ++i) entries.push_back({HashBytes(std::to_string(i)), 8u + 100u * i, 100u + i});
  std::sort(entries.begin(), entries.end(), [](const PackEntry& a, const PackEntry& b) { return a.digest < b.digest; });
  std::string data = SerializePackIndex(entries);
  EXPECT_EQ(data.size(), 8u + 8u + 5u * 48u + 32u);
  Result<std::vector<PackEntry>> back = ParsePackIndex(data, "x.idx");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*back)[i].digest, entries[i].digest);
    EXPECT_EQ((*back)[i].offset, entries[i].offset);
    EXPECT_EQ((*back)[i].size, entries[i].size);
  }
  std::string flipped = data;
  flipped[30] ^= 1;
  EXPECT_EQ(ParsePackIndex(flipped, "x.idx").status().code(), StatusCode::kCorrupt);
  EXPECT_NE(ParsePackIndex(flipped, "x.idx").status().message().find("x.idx: damaged pack index (checksum"),
            std::string::npos);
  EXPECT_EQ(ParsePackIndex(data.substr(0, data.size() - 1), "x.idx").status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(ParsePackIndex("KEELIDX1", "x.idx").status().code(), StatusCode::kCorrupt);
  std::string huge_count = data;
  huge_count[15] = '\x7f';
  EXPECT_EQ(ParsePackIndex(huge_count, "x.idx").status().code(), StatusCode::kCorrupt);
}

TEST(PackWriterTest, PublishedPackIsFoundAndUnpublishedLeavesNothing) {
  char tmpl[] = "/tmp/keel-pack-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  Env* env = DefaultEnv();
  ASSERT_TRUE(env->CreateDir(dir + "/tmp").ok());
  ASSERT_TRUE(env->CreateDir(dir + "/pack").ok());
  {
    PackWriter abandoned(env, dir + "/tmp");
    ASSERT_TRUE(abandoned.Append(HashBytes("x"), "x").ok());
    ASSERT_TRUE(abandoned.Seal().ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir + "/tmp"));

  PackWriter writer(env, dir + "/tmp");
  ASSERT_TRUE(writer.Append(HashBytes("one"), "one").ok());
  ASSERT_TRUE(writer.Append(HashBytes("two"), "two").ok());
  ASSERT_TRUE(writer.Append(HashBytes("one"), "one").ok());  // repeat: skipped
  EXPECT_EQ(writer.size(), 2u);
  ASSERT_TRUE(writer.Seal().ok());
  Result<std::string> index = writer.Publish(dir + "/pack");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(PackPathOf(*index)));
  EXPECT_TRUE(std::filesystem::is_empty(dir + "/tmp"));

  PackSet packs(env, dir + "/pack");
  Result<std::optional<PackSet::Location>> at = packs.Find(HashBytes("two"));
  ASSERT_TRUE(at.ok() && at->has_value());
  Result<std::string> data = packs.Read(**at);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(*data, "two");
  Result<std::optional<PackSet::Location>> missing = packs.Find(HashBytes("three"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keel
