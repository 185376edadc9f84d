// DataService against injected faults: a full disk and a crash after every
// possible number of writes never lose the stored version or leave a
// visible object that does not match its hash.
#include "data/data_service.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/fault_env.h"

namespace keel {
namespace {

namespace fs = std::filesystem;

class DataServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "keel-ds-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ASSERT_TRUE(Project::Init(DefaultEnv(), root_).ok());
    // Copies, so that a full disk is felt whoever runs the test.
    Write(".keel/config", "cache:\n  type: copy\n");
  }
  void TearDown() override {
    for (auto& e : fs::recursive_directory_iterator(root_)) {
      if (e.is_directory() && !e.is_symlink()) fs::permissions(e.path(), fs::perms::owner_all, fs::perm_options::add);
    }
    fs::remove_all(root_);
  }

  void Write(const std::string& rel, const std::string& data) {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel, std::ios::trunc) << data;
  }
  std::string Read(const std::string& rel) {
    std::ifstream in(root_ + "/" + rel);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void MakeVersion(const std::string& tag, int files) {
    fs::remove_all(root_ + "/data");
    for (int i = 0; i < files; ++i) {
      Write("data/sub" + std::to_string(i % 3) + "/f" + std::to_string(i), tag + std::string(200 * (i % 9 + 1), 'x'));
    }
  }

  // Opens the project through `env` and runs `fn` with its DataService.
  template <typename Fn>
  auto WithService(Env* env, Fn fn) {
    Result<std::unique_ptr<Project>> project = Project::Open(env, root_);
    EXPECT_TRUE(project.ok()) << project.status().ToString();
    DataService service(project->get(), &progress_);
    return fn(service);
  }

  // The store as a fresh process sees it: every object intact, no pointer
  // naming something absent.
  void ExpectConsistent() {
    Result<VerifyReport> report = WithService(DefaultEnv(), [&](DataService& s) { return s.Verify(); });
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->problems.empty()) << report->problems.front();
  }

  std::string State() {
    return WithService(DefaultEnv(), [&](DataService& s) {
      Result<std::vector<DataStatus>> st = s.StatusOf(root_, {});
      EXPECT_TRUE(st.ok() && st->size() == 1);
      return st.ok() && st->size() == 1 ? std::string(DataStateName((*st)[0].state)) : "?";
    });
  }

  Status Add(Env* env) {
    return WithService(env, [&](DataService& s) { return s.Add(root_, {"data"}).status(); });
  }

  std::string root_;
  NullProgress progress_;
};

TEST_F(DataServiceTest, FullDiskDuringAddKeepsTheOldVersion) {
  MakeVersion("v1", 12);
  ASSERT_TRUE(Add(DefaultEnv()).ok());
  std::string v1 = Read("data.keel");

  MakeVersion("v2", 12);
  FaultEnv env(DefaultEnv());
  env.SetFreeSpace(3000);
  Status full = Add(&env);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.code(), StatusCode::kUnavailable);
  EXPECT_NE(full.message().find("No space left on device"), std::string::npos) << full.message();

  EXPECT_EQ(Read("data.keel"), v1);
  EXPECT_EQ(State(), "modified");
  ExpectConsistent();
  EXPECT_TRUE(fs::is_empty(root_ + "/.keel/objects/tmp"));  // the failed batch cleaned up
  ASSERT_TRUE(Add(DefaultEnv()).ok());
  EXPECT_EQ(State(), "unchanged");
}

class CrashTest : public DataServiceTest, public ::testing::WithParamInterface<int> {};

// 7 files are stored loose, 70 go into a pack.
INSTANTIATE_TEST_SUITE_P(LooseAndPacked, CrashTest, ::testing::Values(7, 70));

TEST_P(CrashTest, CrashAfterAnyNumberOfWritesLosesNothing) {
  const int files = GetParam();
  for (int64_t n = 0;; ++n) {
    SCOPED_TRACE("crash after " + std::to_string(n) + " writes");
    fs::remove(root_ + "/data.keel");
    MakeVersion("v1-" + std::to_string(n), files);
    ASSERT_TRUE(Add(DefaultEnv()).ok());
    std::string v1 = Read("data.keel");
    MakeVersion("v2-" + std::to_string(n), files + 2);

    FaultEnv env(DefaultEnv());
    env.CrashAfter(n);
    Status crashed = Add(&env);
    // What a new process finds: the old pointer or the new one, never a
    // broken one, and a store whose every object is intact.
    std::string pointer = Read("data.keel");
    if (crashed.ok()) {
      EXPECT_EQ(State(), "unchanged");
      ExpectConsistent();
      break;  // n reached the number of writes an add needs
    }
    EXPECT_TRUE(pointer == v1 || Pointer::Parse(pointer, "data.keel").ok()) << pointer;
    std::string state = State();
    EXPECT_TRUE(state == (pointer == v1 ? "modified" : "unchanged")) << state;
    ExpectConsistent();
    ASSERT_TRUE(Add(DefaultEnv()).ok());
    EXPECT_EQ(State(), "unchanged");
    ASSERT_LT(n, 500) << "an add should need far fewer writes";
  }
}

TEST_F(DataServiceTest, FailedWriteIsReportedWithThePath) {
  MakeVersion("v1", 3);
  FaultEnv env(DefaultEnv());
  env.FailMutationsAfter(2, EIO);
  Status failed = Add(&env);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find(root_), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("Input/output error"), std::string::npos) << failed.message();
  EXPECT_FALSE(fs::exists(root_ + "/data.keel"));
  ExpectConsistent();
}

}  // namespace
}  // namespace keel
