#include "core/hash.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

#include "core/env.h"

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;

constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kMillionA[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

TEST(HashTest, KnownVectors) {
  EXPECT_EQ(HashBytes("").Hex(), kEmpty);
  EXPECT_EQ(HashBytes("abc").Hex(), kAbc);
  EXPECT_EQ(HashBytes(std::string(1000000, 'a')).Hex(), kMillionA);
  EXPECT_EQ(HashBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").Hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HashTest, StreamingMatchesOneShotAndResets) {
  Sha256 hasher;
  std::string million(1000000, 'a');
  // Uneven chunks, crossing block boundaries.
  size_t pos = 0;
  for (size_t chunk = 1; pos < million.size(); chunk = chunk * 3 + 1) {
    size_t n = std::min(chunk, million.size() - pos);
    hasher.Update(std::string_view(million).substr(pos, n));
    pos += n;
  }
  EXPECT_EQ(hasher.Finish().Hex(), kMillionA);
  // Finish resets: the hasher is reusable.
  hasher.Update("a");
  hasher.Update("bc");
  EXPECT_EQ(hasher.Finish().Hex(), kAbc);
  EXPECT_EQ(hasher.Finish().Hex(), kEmpty);
}

TEST(DigestTest, HexAndToString) {
  Digest d = HashBytes("abc");
  EXPECT_EQ(d.Hex().size(), 64u);
  EXPECT_EQ(d.ToString(), std::string("sha256:") + kAbc);
  Digest zero;
  EXPECT_EQ(zero.Hex(), std::string(64, '0'));
  Digest ff;
  ff.bytes.fill(0xff);
  EXPECT_EQ(ff.Hex(), std::string(64, 'f'));
  Digest mixed;
  mixed.bytes[0] = 0x0a;
  mixed.bytes[31] = 0xb0;
  EXPECT_EQ(mixed.Hex(), "0a" + std::string(60, '0') + "b0");
}

TEST(DigestTest, ParseAcceptsWithAndWithoutPrefix) {
  Result<Digest> bare = Digest::Parse(kAbc, "f");
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_EQ(*bare, HashBytes("abc"));
  Result<Digest> prefixed = Digest::Parse(std::string("sha256:") + kAbc, "f");
  ASSERT_TRUE(prefixed.ok()) << prefixed.status().ToString();
  EXPECT_EQ(*prefixed, HashBytes("abc"));
  // Round trip through ToString.
  Digest d = HashBytes("round trip");
  Result<Digest> again = Digest::Parse(d.ToString(), "f");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, d);
  EXPECT_FALSE(*again != d);
}

TEST(DigestTest, ParseRejectsWrongLength) {
  std::string short_hex = std::string(kAbc).substr(0, 63);
  Result<Digest> r = Digest::Parse("sha256:" + short_hex, "data/a.csv.keel: field 'hash'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("data/a.csv.keel: field 'hash'"));
  EXPECT_THAT(r.status().message(), HasSubstr("'sha256:" + short_hex + "'"));
  EXPECT_THAT(r.status().message(), HasSubstr("63 hex digits"));

  Result<Digest> too_long = Digest::Parse(std::string(kAbc) + "0", "field 'hash'");
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(too_long.status().message(), HasSubstr("65 hex digits"));

  EXPECT_EQ(Digest::Parse("", "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Digest::Parse("sha256:", "x").status().code(), StatusCode::kInvalidArgument);
  // Another algorithm's prefix is not skipped.
  EXPECT_FALSE(Digest::Parse(std::string("md5:") + kAbc, "x").ok());
}

TEST(DigestTest, ParseRejectsNonHex) {
  std::string bad(kAbc);
  bad[10] = 'g';
  Result<Digest> r = Digest::Parse(bad, "keel.lock: stage 'train': field 'md5'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("keel.lock: stage 'train': field 'md5'"));
  EXPECT_THAT(r.status().message(), HasSubstr("'" + bad + "'"));
  EXPECT_THAT(r.status().message(), HasSubstr("non-hex"));

  std::string space(kAbc);
  space[63] = ' ';
  EXPECT_FALSE(Digest::Parse(space, "x").ok());
}

TEST(DigestTest, ComparisonsAndHash) {
  Digest a = HashBytes("a");
  Digest b = HashBytes("b");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, HashBytes("a"));
  EXPECT_TRUE((a < b) != (b < a));
  EXPECT_EQ(DigestHash()(a), DigestHash()(HashBytes("a")));
}

class HashFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-hash-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }
  std::string dir_;
};

TEST_F(HashFileTest, LargeFileEqualsHashBytes) {
  // Not a multiple of the 1 MiB read size, so the last read is partial.
  std::string data;
  data.reserve(3 * (1 << 20) + 12345);
  uint32_t x = 12345;
  while (data.size() < 3 * (1u << 20) + 12345) {
    x = x * 1103515245 + 12345;
    data.push_back(static_cast<char>(x >> 24));
  }
  std::string path = dir_ + "/big.bin";
  ASSERT_TRUE(WriteFileAtomic(DefaultEnv(), path, data).ok());

  uint64_t reported = 0;
  int chunks = 0;
  Result<HashedFile> hashed = HashFile(DefaultEnv(), path, [&](uint64_t n) {
    reported += n;
    ++chunks;
  });
  ASSERT_TRUE(hashed.ok()) << hashed.status().ToString();
  EXPECT_EQ(hashed->digest, HashBytes(data));
  EXPECT_EQ(hashed->size, data.size());
  EXPECT_EQ(reported, data.size());
  EXPECT_GE(chunks, 4);
}

TEST_F(HashFileTest, EmptyFile) {
  std::string path = dir_ + "/empty";
  ASSERT_TRUE(WriteFileAtomic(DefaultEnv(), path, "").ok());
  Result<HashedFile> hashed = HashFile(DefaultEnv(), path);
  ASSERT_TRUE(hashed.ok());
  EXPECT_EQ(hashed->digest.Hex(), kEmpty);
  EXPECT_EQ(hashed->size, 0u);
}

TEST_F(HashFileTest, MissingFileIsNotFoundNamingPath) {
  std::string path = dir_ + "/missing.csv";
  Result<HashedFile> hashed = HashFile(DefaultEnv(), path);
  ASSERT_FALSE(hashed.ok());
  EXPECT_EQ(hashed.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(hashed.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace keel
