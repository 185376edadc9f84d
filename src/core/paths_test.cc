#include "core/paths.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

TEST(JoinPathTest, Joins) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
  EXPECT_EQ(JoinPath("/x/y", "b/c"), "/x/y/b/c");
  EXPECT_EQ(JoinPath(".keel", "objects"), ".keel/objects");
}

TEST(JoinPathTest, AbsoluteSecondWins) {
  EXPECT_EQ(JoinPath("a", "/b"), "/b");
  EXPECT_EQ(JoinPath("/a", "/b/c"), "/b/c");
}

TEST(JoinPathTest, EmptyPartsVanish) {
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(JoinPath("a", ""), "a");
  EXPECT_EQ(JoinPath("", ""), "");
}

TEST(NormalizePathTest, RemovesDotsAndSlashes) {
  EXPECT_EQ(NormalizePath("/a/./b/../c/"), "/a/c");
  EXPECT_EQ(NormalizePath("a//b///c"), "a/b/c");
  EXPECT_EQ(NormalizePath("./a/./b/."), "a/b");
  EXPECT_EQ(NormalizePath("a/b/../../c"), "c");
  EXPECT_EQ(NormalizePath("//a//"), "/a");
  EXPECT_EQ(NormalizePath("a/b/"), "a/b");
}

TEST(NormalizePathTest, EmptyResults) {
  EXPECT_EQ(NormalizePath("."), ".");
  EXPECT_EQ(NormalizePath(""), ".");
  EXPECT_EQ(NormalizePath("./"), ".");
  EXPECT_EQ(NormalizePath("a/.."), ".");
  EXPECT_EQ(NormalizePath("/"), "/");
  EXPECT_EQ(NormalizePath("/."), "/");
}

TEST(NormalizePathTest, AbsoluteCannotClimbAboveRoot) {
  EXPECT_EQ(NormalizePath("/.."), "/");
  EXPECT_EQ(NormalizePath("/../a"), "/a");
  EXPECT_EQ(NormalizePath("/a/../../b"), "/b");
}

TEST(NormalizePathTest, RelativeClimbingKeepsDotDot) {
  EXPECT_EQ(NormalizePath(".."), "..");
  EXPECT_EQ(NormalizePath("../a"), "../a");
  EXPECT_EQ(NormalizePath("a/../.."), "..");
  EXPECT_EQ(NormalizePath("a/../../b"), "../b");
  EXPECT_EQ(NormalizePath("../../a/b/.."), "../../a");
  EXPECT_EQ(NormalizePath("./../x/../.."), "../..");
}

TEST(DirNameTest, PartBeforeLastSlash) {
  EXPECT_EQ(DirName("a/b/c"), "a/b");
  EXPECT_EQ(DirName("c"), "");
  EXPECT_EQ(DirName("/c"), "/");
  EXPECT_EQ(DirName("/a/b"), "/a");
  EXPECT_EQ(DirName(""), "");
}

TEST(BaseNameTest, PartAfterLastSlash) {
  EXPECT_EQ(BaseName("a/b/c"), "c");
  EXPECT_EQ(BaseName("c"), "c");
  EXPECT_EQ(BaseName("/c"), "c");
  EXPECT_EQ(BaseName("a/b/"), "");
  EXPECT_EQ(BaseName("données/é.csv"), "é.csv");
}

TEST(IsWithinTest, SameOrBelow) {
  EXPECT_TRUE(IsWithin("/a/b", "/a/b"));
  EXPECT_TRUE(IsWithin("/a/b", "/a/b/c"));
  EXPECT_TRUE(IsWithin("/a/b", "/a/b/c/d"));
  EXPECT_TRUE(IsWithin("a", "a/x"));
  EXPECT_TRUE(IsWithin("/", "/anything"));
  EXPECT_TRUE(IsWithin("/", "/"));
}

TEST(IsWithinTest, SiblingsWithCommonPrefixAreNotWithin) {
  EXPECT_FALSE(IsWithin("/a/b", "/a/bc"));
  EXPECT_FALSE(IsWithin("/a/b", "/a/b0"));
  EXPECT_FALSE(IsWithin("a/b", "a/b.txt"));
  EXPECT_FALSE(IsWithin("/a/b", "/a"));
  EXPECT_FALSE(IsWithin("/a/b", "/x/a/b"));
  EXPECT_FALSE(IsWithin("/", "relative"));
  EXPECT_FALSE(IsWithin("/a", ""));
}

TEST(IsWithinTest, NormalisedClimbOutIsNotWithin) {
  // Callers normalise first; a path that climbs out then is outside.
  EXPECT_FALSE(IsWithin("/root/project", NormalizePath("/root/project/../other")));
  EXPECT_TRUE(IsWithin("/root/project", NormalizePath("/root/project/./a/../b")));
}

TEST(RelativePathTest, StripsRoot) {
  EXPECT_EQ(RelativePath("/a/b", "/a/b/c/d"), "c/d");
  EXPECT_EQ(RelativePath("/a/b", "/a/b"), "");
  EXPECT_EQ(RelativePath("/", "/x/y"), "x/y");
  EXPECT_EQ(RelativePath("/", "/"), "");
  EXPECT_EQ(RelativePath("a", "a/b"), "b");
}

TEST(Utf8Test, ValidAndInvalid) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("données é ü 漢字 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("caf\xe9"));            // Latin-1
  EXPECT_FALSE(IsValidUtf8("\xc3"));               // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));           // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));       // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));   // past U+10FFFF
}

}  // namespace
}  // namespace keel
