// Crashes and concurrency: a `keel data add` killed with SIGKILL half way,
// and several adds at once on one store, leave a consistent store.
#include <dirent.h>
#include <signal.h>
#include <sched.h>
#include <sys/wait.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "keel_runner.h"

namespace keel::testing {
namespace {

namespace fs = std::filesystem;

size_t CountEntries(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
  return n;
}

void MakeManyFiles(const std::string& root, int count, const std::string& salt) {
  for (int d = 0; d < count / 100; ++d) {
    std::string dir = root + "/d" + std::to_string(d);
    MakeDirs(dir);
    for (int f = 0; f < 100; ++f) {
      WriteFile(dir + "/f" + std::to_string(f), salt + std::to_string(d * 100 + f) + std::string(512, 'x'));
    }
  }
}

class DataFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(RunKeel(dir_.path(), {"init"}).exit_code, 0); }

  // Starts `keel data add PATH` and SIGKILLs it once it has begun staging
  // objects (its temporaries appear), which is after hashing and before any
  // object or pointer is committed. Returns how it ended.
  int AddAndKillHalfWay(const std::string& path) {
    pid_t pid = StartKeel(dir_.path(), {"data", "add", path});
    std::string tmp = dir_ / ".keel/objects/tmp";
    for (;;) {
      int status = 0;
      pid_t done = ::waitpid(pid, &status, WNOHANG);
      if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (CountEntries(tmp) > 0) break;
      sched_yield();
    }
    ::kill(pid, SIGKILL);
    return WaitFor(pid);
  }

  TempDir dir_;
};

TEST_F(DataFaultsTest, SigkillDuringAddLeavesTheStoreConsistentAndTheOldPointer) {
  MakeManyFiles(dir_ / "many", 200, "v1-");
  ASSERT_EQ(RunKeel(dir_.path(), {"data", "add", "many"}).exit_code, 0);
  std::string v1_pointer = ReadFile(dir_ / "many.keel");

  // Version 2 changes every file, so the add has thousands of objects to stage.
  fs::remove_all(dir_ / "many");
  MakeManyFiles(dir_ / "many", 20000, "v2-");
  int ended = AddAndKillHalfWay("many");
  ASSERT_EQ(ended, 128 + SIGKILL) << "the add finished before it could be killed";

  // The old pointer is intact, every visible object matches its hash.
  EXPECT_EQ(ReadFile(dir_ / "many.keel"), v1_pointer);
  RunResult verify = RunKeel(dir_.path(), {"data", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  nlohmann::json st = RunKeelJson(dir_.path(), {"data", "status"});
  EXPECT_EQ(st[0]["state"], "modified");

  // gc removes the leftovers of the killed add.
  EXPECT_GT(CountEntries(dir_ / ".keel/objects/tmp"), 0u);
  nlohmann::json gc = RunKeelJson(dir_.path(), {"gc"});
  EXPECT_GT(gc["temporaries_removed"].get<int>(), 0);
  EXPECT_EQ(CountEntries(dir_ / ".keel/objects/tmp"), 0u);

  // Adding again completes, and the first version can still be restored.
  ASSERT_EQ(RunKeel(dir_.path(), {"data", "add", "many"}).exit_code, 0);
  EXPECT_EQ(RunKeelJson(dir_.path(), {"data", "status"})[0]["state"], "unchanged");
  WriteFile(dir_ / "many.keel", v1_pointer);
  RunResult checkout = RunKeel(dir_.path(), {"data", "checkout"});
  ASSERT_EQ(checkout.exit_code, 0) << checkout.err;
  EXPECT_EQ(ReadFile(dir_ / "many/d1/f5"), "v1-105" + std::string(512, 'x'));
  EXPECT_FALSE(PathExists(dir_ / "many/d150"));
  EXPECT_EQ(RunKeel(dir_.path(), {"data", "verify"}).exit_code, 0);
}

TEST_F(DataFaultsTest, ConcurrentAddsOnOneStoreAllSucceed) {
  // Overlapping content between the folders: both processes store the same
  // objects at the same time.
  MakeManyFiles(dir_ / "a", 2000, "shared-");
  MakeManyFiles(dir_ / "b", 2000, "shared-");
  WriteFile(dir_ / "b/own.txt", "only in b");
  WriteFile(dir_ / "same.csv", "1,2,3\n");
  std::vector<pid_t> pids = {StartKeel(dir_.path(), {"data", "add", "a", "same.csv"}),
                             StartKeel(dir_.path(), {"data", "add", "b", "same.csv"}),
                             StartKeel(dir_.path(), {"data", "add", "same.csv"})};
  for (pid_t pid : pids) EXPECT_EQ(WaitFor(pid), 0);
  nlohmann::json st = RunKeelJson(dir_.path(), {"data", "status"});
  ASSERT_EQ(st.size(), 3u);
  for (const auto& s : st) EXPECT_EQ(s["state"], "unchanged") << s["path"];
  RunResult verify = RunKeel(dir_.path(), {"data", "verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(CountEntries(dir_ / ".keel/objects/tmp"), 0u);
}

}  // namespace
}  // namespace keel::testing
