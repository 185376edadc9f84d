// `keel init`, `keel version` and what every command does outside a project.
#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

TEST(InitTest, OutsideGitCreatesKeelFolderConfigAndIgnoreEntry) {
  TempDir dir;
  RunResult r = RunKeel(dir.path(), {"init"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("not a git repository"), std::string::npos) << r.out;
  EXPECT_TRUE(PathExists(dir / ".keel/config"));
  EXPECT_TRUE(PathExists(dir / ".keel/keel.db"));
  EXPECT_TRUE(PathExists(dir / ".keel/objects"));
  EXPECT_EQ(ReadFile(dir / ".gitignore"), "/.keel\n");
}

TEST(InitTest, InsideGitAndIdempotent) {
  TempDir dir;
  ASSERT_EQ(RunProgram(dir.path(), {"git", "init", "-q"}).exit_code, 0);
  WriteFile(dir / ".gitignore", "*.pyc");
  nlohmann::json first = RunKeelJson(dir.path(), {"init"});
  EXPECT_EQ(first["created"], true);
  EXPECT_EQ(first["git"], true);
  nlohmann::json second = RunKeelJson(dir.path(), {"init"});
  EXPECT_EQ(second["created"], false);
  // The existing ignore file is kept, and the entry is added once.
  EXPECT_EQ(ReadFile(dir / ".gitignore"), "*.pyc\n/.keel\n");
  RunResult status = RunProgram(dir.path(), {"git", "status", "--porcelain"});
  EXPECT_EQ(status.out.find(".keel/"), std::string::npos) << status.out;
}

TEST(InitTest, CommandsOutsideAProjectSaySo) {
  TempDir dir;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"data", "status"}, {"data", "add", "x"}, {"data", "checkout"}, {"data", "verify"}, {"gc"}}) {
    RunResult r = RunKeel(dir.path(), args);
    EXPECT_EQ(r.exit_code, 3) << args[0];
    EXPECT_NE(r.err.find("not in a keel project"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("keel init"), std::string::npos) << r.err;
  }
}

TEST(InitTest, SubfolderFindsTheProjectAbove) {
  TempDir dir;
  ASSERT_EQ(RunKeel(dir.path(), {"init"}).exit_code, 0);
  MakeDirs(dir / "a/b");
  WriteFile(dir / "a/b/f.txt", "hello");
  RunResult r = RunKeel(dir / "a/b", {"data", "add", "f.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(PathExists(dir / "a/b/f.txt.keel"));
  EXPECT_EQ(ReadFile(dir / "a/b/.gitignore"), "/f.txt\n");
  EXPECT_FALSE(PathExists(dir / "a/b/.keel"));
}

TEST(VersionTest, PrintsVersionAndJson) {
  TempDir dir;
  RunResult r = RunKeel(dir.path(), {"version"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("keel ", 0), 0u) << r.out;
  nlohmann::json j = RunKeelJson(dir.path(), {"version"});
  EXPECT_TRUE(j["version"].is_string());
}

TEST(UsageTest, UnknownCommandIsAUsageError) {
  TempDir dir;
  RunResult r = RunKeel(dir.path(), {"dta", "add"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("dta"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace keel::testing
