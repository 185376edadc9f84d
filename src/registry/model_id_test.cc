#include "registry/model_id.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keel {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

ModelId Parsed(const std::string& text) {
  Result<ModelId> id = ParseModelId(text);
  EXPECT_TRUE(id.ok()) << text << ": " << id.status().ToString();
  return id.ok() ? *id : ModelId{};
}

void ExpectBad(const std::string& text, const std::string& why) {
  Result<ModelId> id = ParseModelId(text);
  ASSERT_FALSE(id.ok()) << text << " parsed as " << id->ToString();
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), StartsWith("bad model ID '" + text + "'"));
  EXPECT_THAT(id.status().message(), HasSubstr(why)) << id.status().message();
}

TEST(ModelIdTest, Version) {
  ModelId id = Parsed("census@7");
  EXPECT_EQ(id.kind, ModelId::Kind::kVersion);
  EXPECT_EQ(id.name, "census");
  EXPECT_EQ(id.version, 7);
  EXPECT_EQ(id.ToString(), "census@7");
  EXPECT_EQ(Parsed("a@1").version, 1);
  EXPECT_EQ(Parsed("Census.v2_x-y@123456").name, "Census.v2_x-y");
  EXPECT_EQ(Parsed("0model@9223372036854775807").version, 9223372036854775807);
}

TEST(ModelIdTest, Alias) {
  ModelId id = Parsed("census@production");
  EXPECT_EQ(id.kind, ModelId::Kind::kAlias);
  EXPECT_EQ(id.name, "census");
  EXPECT_EQ(id.alias, "production");
  EXPECT_EQ(id.ToString(), "census@production");
  EXPECT_EQ(Parsed("census@latest").alias, "latest");
  EXPECT_EQ(Parsed("census@canary-2_b").alias, "canary-2_b");
  EXPECT_EQ(Parsed("census@" + std::string(64, 'a')).alias.size(), 64u);
}

TEST(ModelIdTest, Digest) {
  ModelId id = Parsed("sha256:ABcd12");
  EXPECT_EQ(id.kind, ModelId::Kind::kDigest);
  EXPECT_EQ(id.digest_prefix, "abcd12");  // lower-cased
  EXPECT_EQ(id.ToString(), "sha256:abcd12");
  EXPECT_EQ(Parsed("sha256:" + std::string(64, 'f')).digest_prefix.size(), 64u);
}

TEST(ModelIdTest, BadIds) {
  ExpectBad("census@", "expected a version number or an alias after '@'");
  ExpectBad("@7", "model name before '@' is missing");
  ExpectBad("census", "did you mean 'census@latest'?");
  ExpectBad("", "expected NAME@VERSION, NAME@ALIAS or sha256:DIGEST");
  ExpectBad("census@0", "from 1 up");
  ExpectBad("census@07", "without leading zeros");
  ExpectBad("census@-1", "an alias has lower-case letters");
  ExpectBad("census@1x", "a version is a number");
  ExpectBad("census@99999999999999999999", "a version is a number");
  ExpectBad("census@Prod", "an alias has lower-case letters");
  ExpectBad("census@_x", "starts with a letter");
  ExpectBad("census@" + std::string(65, 'a'), "at most 64");
  ExpectBad("census@a@b", "an alias");
  ExpectBad("-census@1", "a model name has");
  ExpectBad("cen sus@1", "a model name has");
  ExpectBad(std::string(129, 'm') + "@1", "at most 128");
  ExpectBad("sha256:abc", "4 to 64 hex digits");
  ExpectBad("sha256:", "4 to 64 hex digits");
  ExpectBad("sha256:abcg", "'g' is not a hex digit");
  ExpectBad("sha256:" + std::string(65, 'a'), "4 to 64 hex digits");
}

TEST(ModelIdTest, ModelNames) {
  EXPECT_TRUE(ValidateModelName("census").ok());
  EXPECT_TRUE(ValidateModelName("9.a_b-C").ok());
  EXPECT_TRUE(ValidateModelName(std::string(128, 'x')).ok());
  std::vector<std::string> bad_names = {"", ".census", "_a", "a b", "a@b", "a/b", "sha256:ab", std::string(129, 'x')};
  for (const std::string& bad : bad_names) {
    Status s = ValidateModelName(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), StartsWith("bad model name '" + bad + "'"));
  }
}

TEST(ModelIdTest, AliasNames) {
  EXPECT_TRUE(ValidateAliasName("production").ok());
  EXPECT_TRUE(ValidateAliasName("a").ok());
  EXPECT_TRUE(ValidateAliasName("canary-2_b").ok());
  EXPECT_THAT(ValidateAliasName("latest").message(), HasSubstr("built in"));
  for (std::string bad : std::vector<std::string>{"", "Prod", "1st", "-a", "a.b", "a b", std::string(65, 'a')}) {
    Status s = ValidateAliasName(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), StartsWith("bad alias '" + bad + "'"));
  }
}

TEST(ModelIdTest, VersionId) { EXPECT_EQ(VersionId("census", 12), "census@12"); }

}  // namespace
}  // namespace keel
