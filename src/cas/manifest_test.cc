#include "cas/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

ManifestEntry File(std::string path, std::string_view content, EntryMode mode = EntryMode::kFile) {
  ManifestEntry e;
  e.path = std::move(path);
  e.mode = mode;
  e.size = content.size();
  e.digest = HashBytes(content);
  return e;
}

ManifestEntry EmptyDir(std::string path) {
  ManifestEntry e;
  e.path = std::move(path);
  e.mode = EntryMode::kEmptyDir;
  return e;
}

// A full manifest line for `path` with valid fields.
std::string Line(std::string_view path, std::string_view mode = "100644") {
  return std::string(mode) + " 3 " + HashBytes("abc").Hex() + " " + std::string(path) + "\n";
}

constexpr char kHeader[] = "keel-manifest 1\n";

// Parses `text` and expects a corrupt error whose message starts with
// "m:<line>:" and contains `why`.
void ExpectCorrupt(const std::string& text, int line, std::string_view why) {
  Result<Manifest> m = Manifest::Parse(text, "m");
  ASSERT_FALSE(m.ok()) << text;
  EXPECT_EQ(m.status().code(), StatusCode::kCorrupt) << m.status().ToString();
  EXPECT_THAT(m.status().message(), StartsWith("m:" + std::to_string(line) + ": "));
  EXPECT_THAT(m.status().message(), HasSubstr(std::string(why)));
}

TEST(ManifestTest, EmptyRoundTrip) {
  Manifest empty;
  EXPECT_EQ(empty.Serialize(), kHeader);
  Result<Manifest> parsed = Manifest::Parse(kHeader, "m");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->entries().empty());
  EXPECT_EQ(parsed->TotalSize(), 0u);
  EXPECT_EQ(parsed->FileCount(), 0u);
}

TEST(ManifestTest, RoundTripsAwkwardNamesAndModes) {
  std::vector<ManifestEntry> entries = {
      File("with space/a b.csv", "spaced"),
      File("line\nbreak.txt", "newline"),
      File("back\\slash", "backslash"),
      File("trailing\\", "trailing backslash"),
      File("escaped\\n", "looks like an escape"),
      File("données/é.csv", "utf-8"),
      File("bin/train.sh", "#!/bin/sh\n", EntryMode::kExecutable),
      File("latest", "données/é.csv", EntryMode::kSymlink),
      EmptyDir("empty/dir"),
      File("z", ""),
  };
  Manifest manifest(entries);
  std::string text = manifest.Serialize();
  EXPECT_THAT(text, StartsWith(kHeader));
  // One line per entry after the header: the newline in a name is escaped.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1 + static_cast<long>(entries.size()));

  Result<Manifest> parsed = Manifest::Parse(text, "m");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->entries(), manifest.entries());
  EXPECT_EQ(parsed->Serialize(), text);

  const ManifestEntry* utf8 = parsed->Find("données/é.csv");
  ASSERT_NE(utf8, nullptr);
  EXPECT_EQ(utf8->digest, HashBytes("utf-8"));
  const ManifestEntry* nl = parsed->Find("line\nbreak.txt");
  ASSERT_NE(nl, nullptr);
  EXPECT_EQ(nl->size, 7u);
  const ManifestEntry* exec = parsed->Find("bin/train.sh");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->mode, EntryMode::kExecutable);
  const ManifestEntry* link = parsed->Find("latest");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->mode, EntryMode::kSymlink);
  const ManifestEntry* dir = parsed->Find("empty/dir");
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(dir->mode, EntryMode::kEmptyDir);
  EXPECT_EQ(parsed->Find("back\\slash")->digest, HashBytes("backslash"));
  EXPECT_EQ(parsed->Find("trailing\\")->digest, HashBytes("trailing backslash"));
  EXPECT_EQ(parsed->Find("escaped\\n")->digest, HashBytes("looks like an escape"));
}

TEST(ManifestTest, SerializedFormat) {
  Manifest manifest({File("b.csv", "abc"), EmptyDir("a"),
                     File("run.sh", "x", EntryMode::kExecutable),
                     File("l", "target", EntryMode::kSymlink)});
  std::string expected = std::string(kHeader) + "040000 0 - a\n" + "100644 3 " +
                         HashBytes("abc").Hex() + " b.csv\n" + "120000 6 " +
                         HashBytes("target").Hex() + " l\n" + "100755 1 " + HashBytes("x").Hex() +
                         " run.sh\n";
  EXPECT_EQ(manifest.Serialize(), expected);
}

TEST(ManifestTest, ConstructorSortsByPath) {
  Manifest manifest({File("c", "3"), File("a/b", "2"), File("a", "1"), File("a-b", "4")});
  std::vector<std::string> paths;
  for (const ManifestEntry& e : manifest.entries()) paths.push_back(e.path);
  // Byte order: '-' (0x2d) < '/' (0x2f).
  EXPECT_THAT(paths, ::testing::ElementsAre("a", "a-b", "a/b", "c"));
  // What the constructor sorts, Parse accepts.
  EXPECT_TRUE(Manifest::Parse(manifest.Serialize(), "m").ok());
}

TEST(ManifestTest, NonAsciiSortsAsBytes) {
  // 'é' is 0xc3 0xa9: above every ASCII byte, so it sorts after "z".
  Manifest manifest({File("é", "1"), File("z", "2"), File("a", "3")});
  ASSERT_EQ(manifest.entries().size(), 3u);
  EXPECT_EQ(manifest.entries()[2].path, "é");
  Result<Manifest> parsed = Manifest::Parse(manifest.Serialize(), "m");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
}

TEST(ManifestTest, TotalSizeFileCountFind) {
  Manifest manifest({File("a", "12345"), File("b/c", "123", EntryMode::kExecutable),
                     File("link", "a", EntryMode::kSymlink), EmptyDir("e")});
  EXPECT_EQ(manifest.TotalSize(), 9u);
  EXPECT_EQ(manifest.FileCount(), 3u);  // the empty folder is not counted
  ASSERT_NE(manifest.Find("b/c"), nullptr);
  EXPECT_EQ(manifest.Find("b/c")->size, 3u);
  EXPECT_NE(manifest.Find("e"), nullptr);
  EXPECT_EQ(manifest.Find("b"), nullptr);
  EXPECT_EQ(manifest.Find("zzz"), nullptr);
  EXPECT_EQ(manifest.Find(""), nullptr);
  EXPECT_EQ(manifest.Find("a/"), nullptr);
}

TEST(ManifestParseTest, MissingHeader) {
  for (std::string text : {std::string(""), std::string("keel-manifest 2\n"),
                           std::string("keel-manifest 1"), Line("a")}) {
    Result<Manifest> m = Manifest::Parse(text, "objects/ab/cd");
    ASSERT_FALSE(m.ok()) << text;
    EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
    EXPECT_THAT(m.status().message(), StartsWith("objects/ab/cd: "));
    EXPECT_THAT(m.status().message(), HasSubstr("header"));
  }
}

TEST(ManifestParseTest, UnknownMode) {
  ExpectCorrupt(kHeader + Line("a", "100600"), 2, "unknown entry mode");
  ExpectCorrupt(kHeader + Line("a") + Line("b", "644"), 3, "unknown entry mode");
}

TEST(ManifestParseTest, BadSize) {
  std::string hex = HashBytes("abc").Hex();
  ExpectCorrupt(std::string(kHeader) + "100644 -1 " + hex + " a\n", 2, "bad size");
  ExpectCorrupt(std::string(kHeader) + "100644 3x " + hex + " a\n", 2, "bad size");
  ExpectCorrupt(std::string(kHeader) + "100644  " + hex + " a\n", 2, "bad size");
  ExpectCorrupt(std::string(kHeader) + "100644 99999999999999999999999 " + hex + " a\n", 2,
                "bad size");
}

TEST(ManifestParseTest, BadDigest) {
  std::string hex = HashBytes("abc").Hex();
  ExpectCorrupt(std::string(kHeader) + "100644 3 " + hex.substr(1) + " a\n", 2, "bad digest");
  std::string nonhex = hex;
  nonhex[5] = 'x';
  ExpectCorrupt(std::string(kHeader) + Line("a") + "100644 3 " + nonhex + " b\n", 3, "bad digest");
  ExpectCorrupt(std::string(kHeader) + "100644 3 - a\n", 2, "bad digest");
  // An empty folder has "-" and nothing else.
  ExpectCorrupt(std::string(kHeader) + "040000 0 " + hex + " a\n", 2, "no digest");
}

TEST(ManifestParseTest, BadPaths) {
  for (std::string_view path :
       {"../x", "/abs", "a/../b", "./a", "a/.", "a//b", "a/", "", "bad\\escape", ".."}) {
    SCOPED_TRACE(std::string(path));
    ExpectCorrupt(kHeader + Line(path), 2, "bad path");
  }
  ExpectCorrupt(kHeader + Line("ok") + Line("../x"), 3, "bad path '../x'");
}

TEST(ManifestParseTest, UnsortedOrDuplicateEntries) {
  ExpectCorrupt(kHeader + Line("b") + Line("a"), 3, "not sorted or repeated at 'a'");
  ExpectCorrupt(kHeader + Line("a") + Line("b") + Line("b"), 4, "not sorted or repeated at 'b'");
  // A file and an empty folder with one path are a duplicate too.
  ExpectCorrupt(kHeader + Line("a") + "040000 0 - a\n", 3, "not sorted or repeated");
}

TEST(ManifestParseTest, UnterminatedLine) {
  std::string text = kHeader + Line("a");
  text.pop_back();
  ExpectCorrupt(text, 2, "not terminated");
}

TEST(ManifestParseTest, TruncatedLine) {
  ExpectCorrupt(std::string(kHeader) + "100644 3\n", 2, "bad digest");
  ExpectCorrupt(std::string(kHeader) + "100644\n", 2, "bad size");
  ExpectCorrupt(std::string(kHeader) + "100644 3 " + HashBytes("abc").Hex() + "\n", 2, "bad path");
}

}  // namespace
}  // namespace keel
