#include "data/pointer.h"

#include <gtest/gtest.h>

namespace keel {
namespace {

Pointer Sample() {
  Pointer p;
  p.path = "adult.csv";
  p.kind = DataKind::kFile;
  p.digest = HashBytes("data");
  p.size = 4;
  p.files = 1;
  return p;
}

TEST(PointerTest, RoundTrip) {
  for (bool exec : {false, true}) {
    Pointer p = Sample();
    p.executable = exec;
    Result<Pointer> back = Pointer::Parse(p.Serialize(), "a.keel");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->path, p.path);
    EXPECT_EQ(back->digest, p.digest);
    EXPECT_EQ(back->size, 4u);
    EXPECT_EQ(back->files, 1u);
    EXPECT_EQ(back->executable, exec);
  }
  Pointer dir = Sample();
  dir.kind = DataKind::kDir;
  dir.path = "données folder";
  dir.files = 1000;
  Result<Pointer> back = Pointer::Parse(dir.Serialize(), "d.keel");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->kind, DataKind::kDir);
  EXPECT_EQ(back->path, "données folder");
  EXPECT_EQ(back->files, 1000u);
}

TEST(PointerTest, SerializedFormIsStable) {
  EXPECT_EQ(Sample().Serialize(),
            "# keel data pointer: `keel data checkout` restores the data it names\n"
            "path: adult.csv\n"
            "kind: file\n"
            "hash: sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7\n"
            "size: 4\n"
            "files: 1\n");
}

void ExpectError(const std::string& text, StatusCode code, const std::string& needle) {
  Result<Pointer> p = Pointer::Parse(text, "x.keel");
  ASSERT_FALSE(p.ok()) << text;
  EXPECT_EQ(p.status().code(), code);
  EXPECT_NE(p.status().message().find(needle), std::string::npos) << p.status().message();
}

TEST(PointerTest, ErrorsNameFileLineColumnAndField) {
  std::string hash = HashBytes("data").ToString();
  ExpectError("path: a\nhash: sha256:12\nsize: 1\n", StatusCode::kInvalidArgument,
              "x.keel:2:7: field 'hash': 'sha256:12' is not a sha256 digest");
  ExpectError("path: a\nhash: " + hash + "\nsize: -3\n", StatusCode::kInvalidArgument,
              "x.keel:3:7: field 'size': '-3' is not a non-negative integer");
  ExpectError("path: a\nhash: " + hash + "\n", StatusCode::kInvalidArgument, "missing field 'size'");
  ExpectError("path: a\nhsh: " + hash + "\nsize: 1\n", StatusCode::kInvalidArgument,
              "x.keel:2:1: unknown key 'hsh' (did you mean 'hash'?)");
  for (const std::string bad : {"../up", "/abs", ".", "..", ".git", ".keel", "a/b", "''"}) {
    ExpectError("path: " + bad + "\nhash: " + hash + "\nsize: 1\n", StatusCode::kInvalidArgument,
                "must be the name of a file or folder beside the pointer");
  }
  ExpectError("path: a\nkind: folder\nhash: " + hash + "\nsize: 1\n", StatusCode::kInvalidArgument,
              "field 'kind': 'folder'");
  ExpectError("path: [a\n", StatusCode::kInvalidArgument, "x.keel:");
  ExpectError("path: caf\xe9.csv\nhash: " + hash + "\nsize: 1\n", StatusCode::kInvalidArgument,
              "x.keel:1:7: field 'path' is not valid UTF-8");
  ExpectError("", StatusCode::kInvalidArgument, "expected a mapping");
  ExpectError("- a\n- b\n", StatusCode::kInvalidArgument, "expected a mapping");
}

}  // namespace
}  // namespace keel
