#include "core/env.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "core/fault_env.h"

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-env-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Writes `data` to a new file at `path` with `mode`.
  void Write(Env* env, const std::string& path, std::string_view data, uint32_t mode = 0644) {
    Result<std::unique_ptr<WritableFile>> file = env->CreateFile(path, mode);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_TRUE((*file)->Append(data).ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  std::string Read(const std::string& path) {
    Result<std::string> data = ReadFileToString(DefaultEnv(), path);
    EXPECT_TRUE(data.ok()) << data.status().ToString();
    return data.ok() ? *data : std::string();
  }
  std::vector<std::string> Names(const std::string& dir) {
    Result<std::vector<DirEntry>> entries = DefaultEnv()->ListDir(dir);
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    std::vector<std::string> names;
    if (entries.ok()) {
      for (const DirEntry& e : *entries) names.push_back(e.name);
    }
    return names;
  }

  Env* env_ = DefaultEnv();
  std::string dir_;
};

// Restores the process's umask at scope exit.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

using EnvTest = TempDirTest;

TEST_F(EnvTest, CreateFileIsExclusive) {
  std::string path = Path("f");
  Write(env_, path, "first");
  Result<std::unique_ptr<WritableFile>> again = env_->CreateFile(path, 0644);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr(path));
  EXPECT_EQ(Read(path), "first");
}

TEST_F(EnvTest, CreateFileAppliesExactModeDespiteUmask) {
  ScopedUmask umask(077);
  for (uint32_t mode : {0664u, 0755u, 0444u, 0600u}) {
    std::string path = Path("m" + std::to_string(mode));
    Write(env_, path, "x", mode);
    Result<FileInfo> info = env_->Stat(path);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->mode, mode) << std::oct << info->mode << " for " << mode;
    EXPECT_EQ(info->type, FileType::kRegular);
    EXPECT_EQ(info->size, 1u);
  }
}

TEST_F(EnvTest, AppendSyncCloseAndRead) {
  std::string path = Path("data");
  Result<std::unique_ptr<WritableFile>> file = env_->CreateFile(path, 0644);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->Append("hello ").ok());
  ASSERT_TRUE((*file)->Append("").ok());
  ASSERT_TRUE((*file)->Append("world").ok());
  ASSERT_TRUE((*file)->Sync().ok());
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_EQ(Read(path), "hello world");
  Result<FileInfo> info = env_->Stat(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 11u);
  EXPECT_EQ(info->links, 1u);
  EXPECT_GT(info->mtime_ns, 0);
}

TEST_F(EnvTest, MissingPathsAreNotFoundNamingThePath) {
  std::string missing = Path("missing");
  Result<FileInfo> info = env_->Stat(missing);
  EXPECT_EQ(info.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(info.status().message(), HasSubstr(missing));
  Result<std::unique_ptr<ReadableFile>> in = env_->OpenForRead(missing);
  EXPECT_EQ(in.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(in.status().message(), HasSubstr(missing));
  EXPECT_EQ(env_->RemoveFile(missing).code(), StatusCode::kNotFound);
  EXPECT_EQ(env_->ListDir(missing).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(Exists(env_, missing));
}

TEST_F(EnvTest, WriteFileAtomicReplacesContentAndLeavesNoTemp) {
  std::string path = Path("keel.lock");
  ASSERT_TRUE(WriteFileAtomic(env_, path, "version 1\n").ok());
  EXPECT_EQ(Read(path), "version 1\n");
  Result<FileInfo> before = env_->Stat(path);
  ASSERT_TRUE(before.ok());

  ASSERT_TRUE(WriteFileAtomic(env_, path, "v2", 0600).ok());
  EXPECT_EQ(Read(path), "v2");
  Result<FileInfo> after = env_->Stat(path);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->mode, 0600u);
  // A rename put a new inode in place; the old file was not rewritten.
  EXPECT_NE(after->inode, before->inode);
  EXPECT_THAT(Names(dir_), UnorderedElementsAre("keel.lock"));
}

TEST_F(EnvTest, WriteFileAtomicFailureLeavesNoTemp) {
  // The target is a non-empty folder: the rename fails.
  std::string path = Path("target");
  ASSERT_TRUE(env_->CreateDir(path).ok());
  Write(env_, path + "/inside", "x");
  Status s = WriteFileAtomic(env_, path, "data");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(Names(dir_), UnorderedElementsAre("target"));
}

TEST_F(EnvTest, TempNameBesideIsUnique) {
  std::string a = TempNameBeside("/x/y");
  std::string b = TempNameBeside("/x/y");
  EXPECT_NE(a, b);
  EXPECT_THAT(a, ::testing::StartsWith("/x/.keel-tmp-" + std::to_string(::getpid()) + "-"));
  EXPECT_THAT(a, ::testing::EndsWith("-y"));
  EXPECT_TRUE(IsTempName(a.substr(3)));
  EXPECT_FALSE(IsTempName("y"));
}

TEST_F(EnvTest, ListDirReportsLstatInfo) {
  Write(env_, Path("file"), "12345");
  ASSERT_TRUE(env_->CreateDir(Path("sub")).ok());
  ASSERT_TRUE(env_->CreateSymlink("file", Path("link_to_file")).ok());
  ASSERT_TRUE(env_->CreateSymlink("sub", Path("link_to_dir")).ok());
  ASSERT_TRUE(env_->CreateSymlink("nowhere", Path("dangling")).ok());

  Result<std::vector<DirEntry>> entries = env_->ListDir(dir_);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 5u);
  for (const DirEntry& e : *entries) {
    if (e.name == "file") {
      EXPECT_EQ(e.info.type, FileType::kRegular);
      EXPECT_EQ(e.info.size, 5u);
      EXPECT_EQ(e.info.mode, 0644u);
    } else if (e.name == "sub") {
      EXPECT_EQ(e.info.type, FileType::kDirectory);
    } else if (e.name == "link_to_file") {
      EXPECT_EQ(e.info.type, FileType::kSymlink);
      EXPECT_EQ(e.info.size, 4u);  // lstat: the length of the target "file"
    } else if (e.name == "link_to_dir") {
      EXPECT_EQ(e.info.type, FileType::kSymlink);
    } else if (e.name == "dangling") {
      EXPECT_EQ(e.info.type, FileType::kSymlink);
      EXPECT_EQ(e.info.size, 7u);
    } else {
      ADD_FAILURE() << "unexpected entry " << e.name;
    }
  }
  Result<FileInfo> link = env_->Stat(Path("link_to_file"));
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->type, FileType::kSymlink);
  Result<std::string> target = env_->ReadSymlink(Path("dangling"));
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(*target, "nowhere");
}

TEST_F(EnvTest, CreateDirAndCreateDirs) {
  EXPECT_TRUE(env_->CreateDir(Path("d")).ok());
  EXPECT_TRUE(env_->CreateDir(Path("d")).ok());  // exists as a folder: OK
  Write(env_, Path("f"), "x");
  EXPECT_EQ(env_->CreateDir(Path("f")).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(env_->CreateDir(Path("no/such")).code(), StatusCode::kNotFound);
  EXPECT_TRUE(CreateDirs(env_, Path("a/b/c")).ok());
  EXPECT_TRUE(CreateDirs(env_, Path("a/b/c")).ok());
  Result<FileInfo> info = env_->Stat(Path("a/b/c"));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kDirectory);
  EXPECT_TRUE(env_->RemoveDir(Path("a/b/c")).ok());
  EXPECT_FALSE(Exists(env_, Path("a/b/c")));
  EXPECT_EQ(env_->RemoveDir(Path("a")).code(), StatusCode::kFailedPrecondition);  // not empty
}

TEST_F(EnvTest, RenameReplacesAndSetModeChanges) {
  Write(env_, Path("from"), "new");
  Write(env_, Path("to"), "old");
  ASSERT_TRUE(env_->Rename(Path("from"), Path("to")).ok());
  EXPECT_EQ(Read(Path("to")), "new");
  EXPECT_FALSE(Exists(env_, Path("from")));
  ASSERT_TRUE(env_->SetMode(Path("to"), 0751).ok());
  EXPECT_EQ(env_->Stat(Path("to"))->mode, 0751u);
  EXPECT_TRUE(env_->SyncFile(Path("to")).ok());
  EXPECT_TRUE(env_->SyncDir(dir_).ok());
  EXPECT_TRUE(env_->SyncFilesystem(dir_).ok());
}

TEST_F(EnvTest, CloneHardlinkSharesInode) {
  Write(env_, Path("src"), "shared bytes");
  ASSERT_TRUE(env_->CloneFile(Path("src"), Path("dst"), CloneMethod::kHardlink).ok());
  Result<FileInfo> src = env_->Stat(Path("src"));
  Result<FileInfo> dst = env_->Stat(Path("dst"));
  ASSERT_TRUE(src.ok() && dst.ok());
  EXPECT_EQ(src->inode, dst->inode);
  EXPECT_EQ(src->device, dst->device);
  EXPECT_EQ(dst->links, 2u);
  EXPECT_EQ(Read(Path("dst")), "shared bytes");
}

TEST_F(EnvTest, CloneCopyHasOwnInodeAndSameBytes) {
  std::string data(1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31 + 7);
  Write(env_, Path("src"), data, 0640);
  ASSERT_TRUE(env_->CloneFile(Path("src"), Path("dst"), CloneMethod::kCopy).ok());
  Result<FileInfo> src = env_->Stat(Path("src"));
  Result<FileInfo> dst = env_->Stat(Path("dst"));
  ASSERT_TRUE(src.ok() && dst.ok());
  EXPECT_NE(src->inode, dst->inode);
  EXPECT_EQ(src->links, 1u);
  EXPECT_EQ(dst->size, data.size());
  EXPECT_EQ(Read(Path("dst")), data);
  // A copy is independent: changing the source leaves it alone.
  ASSERT_TRUE(env_->RemoveFile(Path("src")).ok());
  EXPECT_EQ(Read(Path("dst")), data);
}

TEST_F(EnvTest, CloneOntoExistingFails) {
  Write(env_, Path("src"), "a");
  Write(env_, Path("dst"), "b");
  for (CloneMethod m : {CloneMethod::kHardlink, CloneMethod::kCopy}) {
    Status s = env_->CloneFile(Path("src"), Path("dst"), m);
    EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
    EXPECT_THAT(s.message(), HasSubstr(Path("dst")));
  }
  EXPECT_EQ(Read(Path("dst")), "b");
  EXPECT_EQ(env_->CloneFile(Path("none"), Path("x"), CloneMethod::kCopy).code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(Exists(env_, Path("x")));
}

TEST_F(EnvTest, RunProcessReturnsExitCodeAndOutput) {
  Result<ProcessResult> r =
      env_->RunProcess({"sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"}, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_THAT(r->output, HasSubstr("to-stdout\n"));
  EXPECT_THAT(r->output, HasSubstr("to-stderr\n"));

  Result<ProcessResult> ok = env_->RunProcess({"true"}, "");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->exit_code, 0);
  EXPECT_EQ(ok->output, "");
}

TEST_F(EnvTest, RunProcessUsesCwd) {
  Result<ProcessResult> r = env_->RunProcess({"pwd", "-P"}, dir_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, std::filesystem::canonical(dir_).string() + "\n");
}

TEST_F(EnvTest, RunProcessSignalsAndMissingCommands) {
  Result<ProcessResult> killed = env_->RunProcess({"sh", "-c", "kill -9 $$"}, "");
  ASSERT_TRUE(killed.ok());
  EXPECT_EQ(killed->exit_code, 128 + 9);
  Result<ProcessResult> missing = env_->RunProcess({"keel-no-such-command-xyz"}, "");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->exit_code, 127);
  EXPECT_EQ(env_->RunProcess({}, "").status().code(), StatusCode::kInvalidArgument);
}

// Tries to take `op` (LOCK_SH or LOCK_EX) on `path` through a separate open
// file, without blocking; flock locks conflict between open files even in
// one process.
bool CanLock(const std::string& path, int op) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    ADD_FAILURE() << path << ": " << std::strerror(errno);
    return false;
  }
  bool got = ::flock(fd, op | LOCK_NB) == 0;
  ::close(fd);  // releases the probe's lock
  return got;
}

TEST_F(EnvTest, ExclusiveLockExcludesEveryone) {
  std::string path = Path("lock");
  {
    Result<std::unique_ptr<FileLock>> lock = env_->LockFile(path, LockMode::kExclusive);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    EXPECT_TRUE(Exists(env_, path));  // created
    EXPECT_FALSE(CanLock(path, LOCK_SH));
    EXPECT_FALSE(CanLock(path, LOCK_EX));
  }
  // Released by the destructor.
  EXPECT_TRUE(CanLock(path, LOCK_EX));
}

TEST_F(EnvTest, SharedLocksShareButExcludeWriters) {
  std::string path = Path("lock");
  Result<std::unique_ptr<FileLock>> a = env_->LockFile(path, LockMode::kShared);
  ASSERT_TRUE(a.ok());
  Result<std::unique_ptr<FileLock>> b = env_->LockFile(path, LockMode::kShared);
  ASSERT_TRUE(b.ok());  // a second shared lock does not block
  EXPECT_TRUE(CanLock(path, LOCK_SH));
  EXPECT_FALSE(CanLock(path, LOCK_EX));
  a->reset();
  EXPECT_FALSE(CanLock(path, LOCK_EX));
  b->reset();
  EXPECT_TRUE(CanLock(path, LOCK_EX));
  // Now an exclusive lock can be taken without blocking.
  Result<std::unique_ptr<FileLock>> c = env_->LockFile(path, LockMode::kExclusive);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(CanLock(path, LOCK_SH));
}

TEST_F(EnvTest, NowNanosIsWallClock) {
  int64_t now = env_->NowNanos();
  EXPECT_GT(now, int64_t{1600000000} * 1000000000);  // after 2020
  EXPECT_LE(now, env_->NowNanos());
}

TEST_F(EnvTest, OverridesFilePermissionsMatchesEuid) {
  EXPECT_EQ(env_->OverridesFilePermissions(), ::geteuid() == 0);
}

// FaultEnv over the real filesystem.
class FaultEnvTest : public TempDirTest {
 protected:
  FaultEnv fault_{DefaultEnv()};
};

TEST_F(FaultEnvTest, PassesThroughWithoutFaults) {
  Write(&fault_, Path("f"), "abc");
  EXPECT_EQ(Read(Path("f")), "abc");
  EXPECT_EQ(fault_.mutations(), 2);  // create + append
  ASSERT_TRUE(fault_.Rename(Path("f"), Path("g")).ok());
  EXPECT_EQ(fault_.mutations(), 3);
  EXPECT_EQ(Read(Path("g")), "abc");
}

TEST_F(FaultEnvTest, FailMutationsAfterLetsExactlyNThrough) {
  fault_.FailMutationsAfter(3, EIO);
  for (int i = 0; i < 3; ++i) {
    Result<std::unique_ptr<WritableFile>> f =
        fault_.CreateFile(Path("ok" + std::to_string(i)), 0644);
    ASSERT_TRUE(f.ok()) << i << ": " << f.status().ToString();
  }
  Result<std::unique_ptr<WritableFile>> fourth = fault_.CreateFile(Path("fails"), 0644);
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.status().code(), StatusCode::kInternal);
  EXPECT_THAT(fourth.status().message(), HasSubstr(Path("fails")));
  EXPECT_THAT(fourth.status().message(), HasSubstr(std::strerror(EIO)));
  EXPECT_FALSE(Exists(DefaultEnv(), Path("fails")));
  // Every later mutation fails too, of any kind.
  EXPECT_EQ(fault_.CreateDir(Path("d")).code(), StatusCode::kInternal);
  EXPECT_EQ(fault_.RemoveFile(Path("ok0")).code(), StatusCode::kInternal);
  EXPECT_EQ(fault_.SetMode(Path("ok0"), 0600).code(), StatusCode::kInternal);
  EXPECT_TRUE(Exists(DefaultEnv(), Path("ok0")));
  // Reads still work.
  EXPECT_TRUE(fault_.Stat(Path("ok0")).ok());

  fault_.Reset();
  EXPECT_TRUE(fault_.CreateDir(Path("d")).ok());
}

TEST_F(FaultEnvTest, FailMutationsAfterCountsAppends) {
  Result<std::unique_ptr<WritableFile>> f = fault_.CreateFile(Path("f"), 0644);
  ASSERT_TRUE(f.ok());
  fault_.FailMutationsAfter(1, ENOSPC);
  EXPECT_TRUE((*f)->Append("one").ok());
  Status second = (*f)->Append("two");
  EXPECT_EQ(second.code(), StatusCode::kUnavailable);
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read(Path("f")), "one");
}

TEST_F(FaultEnvTest, SetFreeSpaceFailsAppendPastBudget) {
  Result<std::unique_ptr<WritableFile>> f = fault_.CreateFile(Path("f"), 0644);
  ASSERT_TRUE(f.ok());
  fault_.SetFreeSpace(10);
  EXPECT_TRUE((*f)->Append("123456").ok());
  EXPECT_TRUE((*f)->Append("7890").ok());  // exactly the budget
  Status full = (*f)->Append("x");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.code(), StatusCode::kUnavailable);
  EXPECT_THAT(full.message(), HasSubstr("No space left"));
  EXPECT_THAT(full.message(), HasSubstr(Path("f")));
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read(Path("f")), "1234567890");
}

TEST_F(FaultEnvTest, SetFreeSpaceChargesCopies) {
  Write(DefaultEnv(), Path("src"), std::string(100, 'x'));
  fault_.SetFreeSpace(99);
  Status copy = fault_.CloneFile(Path("src"), Path("copy"), CloneMethod::kCopy);
  EXPECT_EQ(copy.code(), StatusCode::kUnavailable);
  EXPECT_THAT(copy.message(), HasSubstr("No space left"));
  EXPECT_FALSE(Exists(DefaultEnv(), Path("copy")));
  // A hardlink takes no space.
  EXPECT_TRUE(fault_.CloneFile(Path("src"), Path("link"), CloneMethod::kHardlink).ok());
}

TEST_F(FaultEnvTest, CrashAfterMakesLaterMutationsFailWithoutEffect) {
  fault_.CrashAfter(2);
  Write(&fault_, Path("before"), "kept");  // create + append: the 2 allowed
  Result<std::unique_ptr<WritableFile>> after = fault_.CreateFile(Path("after"), 0644);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kInternal);
  EXPECT_FALSE(Exists(DefaultEnv(), Path("after")));
  EXPECT_FALSE(fault_.Rename(Path("before"), Path("renamed")).ok());
  EXPECT_FALSE(fault_.RemoveFile(Path("before")).ok());
  EXPECT_FALSE(fault_.CreateDir(Path("dir")).ok());
  EXPECT_FALSE(fault_.CreateSymlink("before", Path("link")).ok());
  EXPECT_FALSE(fault_.CloneFile(Path("before"), Path("clone"), CloneMethod::kHardlink).ok());
  EXPECT_THAT(Names(dir_), UnorderedElementsAre("before"));
  EXPECT_EQ(Read(Path("before")), "kept");
}

TEST_F(FaultEnvTest, CrashAfterZeroStopsEverything) {
  fault_.CrashAfter(0);
  EXPECT_FALSE(fault_.CreateFile(Path("f"), 0644).ok());
  EXPECT_FALSE(fault_.CreateDir(Path("d")).ok());
  EXPECT_THAT(Names(dir_), IsEmpty());
}

}  // namespace
}  // namespace keel
