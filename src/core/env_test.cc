#include "core/env.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <ostream>
#include <string>
#include <thread>
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


// --- Env::StartProcess / ChildProcess ---

using namespace std::chrono_literals;

// Starts `argv`; null (with a test failure) if it could not be started.
std::unique_ptr<ChildProcess> Start(std::vector<std::string> argv, std::string cwd = "",
                                    std::vector<std::pair<std::string, std::string>> env = {}) {
  ProcessOptions options;
  options.argv = std::move(argv);
  options.cwd = std::move(cwd);
  options.env = std::move(env);
  Result<std::unique_ptr<ChildProcess>> child = DefaultEnv()->StartProcess(options);
  EXPECT_TRUE(child.ok()) << child.status().ToString();
  return child.ok() ? std::move(*child) : nullptr;
}

// The child's output up to the end (every writer closed the pipe).
std::string ReadAll(ChildProcess* child) {
  std::string out;
  char buf[4096];
  for (;;) {
    Result<size_t> n = child->ReadOutput(buf, sizeof buf);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0) return out;
    out.append(buf, *n);
  }
}

// One line of output, without its newline ("" at the end of the output).
std::string ReadLine(ChildProcess* child) {
  std::string line;
  char c;
  for (;;) {
    Result<size_t> n = child->ReadOutput(&c, 1);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    if (!n.ok() || *n == 0 || c == '\n') return line;
    line += c;
  }
}

int WaitFor(ChildProcess* child) {
  Result<int> code = child->Wait();
  EXPECT_TRUE(code.ok()) << code.status().ToString();
  return code.ok() ? *code : -1;
}

// The state letter of /proc/PID/stat ('R', 'S', 'Z', ...), or 0 if unreadable.
char ProcState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');  // the command name may hold spaces and ')'
  return close != std::string::npos && close + 2 < stat.size() ? stat[close + 2] : 0;
}

// True once `pid` has ended: no such process (kill(pid, 0) fails with
// ESRCH), or a zombie. A grandchild killed with its group is reparented to
// init (or a subreaper), which reaps it when it gets to it; until then it is
// a zombie, dead but still there. Some container inits reap only every few
// seconds, some never.
bool Ended(pid_t pid) {
  if (::kill(pid, 0) == -1 && errno == ESRCH) return true;
  return ProcState(pid) == 'Z';
}

// Polls (bounded) until `pid` has ended.
bool EndsWithin(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!Ended(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A pid printed by a child on a line of its own, or -1.
pid_t ParsePid(const std::string& line) {
  if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) return -1;
  return static_cast<pid_t>(std::stol(line));
}

// Kills `pid` at scope exit if it still runs, so a failing test leaves no
// stray `sleep 30` behind.
class KillAtExit {
 public:
  explicit KillAtExit(pid_t pid) : pid_(pid) {}
  ~KillAtExit() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }

 private:
  pid_t pid_;
};

TEST_F(EnvTest, StartProcessReadsStdoutAndStderrThroughOnePipe) {
  std::unique_ptr<ChildProcess> child =
      Start({"sh", "-c", "echo to-stdout; echo to-stderr >&2; echo again; exit 7"});
  ASSERT_NE(child, nullptr);
  EXPECT_GT(child->pid(), 0);
  // One pipe, written in order by one process: the order is kept.
  EXPECT_EQ(ReadAll(child.get()), "to-stdout\nto-stderr\nagain\n");
  EXPECT_EQ(WaitFor(child.get()), 7);

  std::unique_ptr<ChildProcess> quiet = Start({"true"});
  ASSERT_NE(quiet, nullptr);
  EXPECT_EQ(ReadAll(quiet.get()), "");
  EXPECT_EQ(WaitFor(quiet.get()), 0);
}

TEST_F(EnvTest, StartProcessWaitReturnsTheExitCode) {
  for (int code : {0, 1, 7, 126, 255}) {
    std::unique_ptr<ChildProcess> child = Start({"sh", "-c", "exit " + std::to_string(code)});
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(WaitFor(child.get()), code) << code;
  }
}

TEST_F(EnvTest, StartProcessMissingProgramExits127) {
  std::unique_ptr<ChildProcess> child = Start({"keel-no-such-program-xyz"});
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(ReadAll(child.get()), "");
  EXPECT_EQ(WaitFor(child.get()), 127);

  ProcessOptions empty;
  EXPECT_EQ(env_->StartProcess(empty).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EnvTest, StartProcessExitCodeForASignalIs128PlusTheSignal) {
  std::unique_ptr<ChildProcess> killed = Start({"sh", "-c", "kill -KILL $$"});
  ASSERT_NE(killed, nullptr);
  EXPECT_EQ(WaitFor(killed.get()), 128 + SIGKILL);
  std::unique_ptr<ChildProcess> usr1 = Start({"sh", "-c", "kill -USR1 $$"});
  ASSERT_NE(usr1, nullptr);
  EXPECT_EQ(WaitFor(usr1.get()), 128 + SIGUSR1);
}

TEST_F(EnvTest, StartProcessUsesCwdAndEnv) {
  ASSERT_EQ(::setenv("KEEL_TEST_INHERITED", "from-parent", 1), 0);
  ASSERT_EQ(::setenv("KEEL_TEST_REPLACED", "old", 1), 0);
  const std::string home = dir_ + "/home dir";
  const std::vector<std::pair<std::string, std::string>> added = {
      {"HOME", home}, {"KEEL_TEST_ADDED", "a b=c"}, {"KEEL_TEST_REPLACED", "new"}};
  std::unique_ptr<ChildProcess> child = Start(
      {"sh", "-c", "pwd -P; printf '%s\\n' \"$HOME\" \"$KEEL_TEST_ADDED\" \"$KEEL_TEST_REPLACED\" \"$KEEL_TEST_INHERITED\""},
      dir_, added);
  // `env` itself (not a shell, which would drop duplicates): the raw environment.
  std::unique_ptr<ChildProcess> raw = Start({"env"}, "", added);
  ::unsetenv("KEEL_TEST_INHERITED");
  ::unsetenv("KEEL_TEST_REPLACED");
  ASSERT_NE(child, nullptr);
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(ReadAll(child.get()),
            std::filesystem::canonical(dir_).string() + "\n" + home + "\na b=c\nnew\nfrom-parent\n");
  EXPECT_EQ(WaitFor(child.get()), 0);

  // A replaced variable appears once, with the new value.
  std::vector<std::string> lines;
  const std::string env = ReadAll(raw.get());
  for (size_t pos = 0, end; pos < env.size(); pos = end + 1) {
    end = env.find('\n', pos);
    if (end == std::string::npos) end = env.size();
    const std::string line = env.substr(pos, end - pos);
    if (line.rfind("HOME=", 0) == 0 || line.rfind("KEEL_TEST_", 0) == 0) lines.push_back(line);
  }
  EXPECT_THAT(lines, UnorderedElementsAre("HOME=" + home, "KEEL_TEST_ADDED=a b=c", "KEEL_TEST_REPLACED=new",
                                          "KEEL_TEST_INHERITED=from-parent"));
  EXPECT_EQ(WaitFor(raw.get()), 0);
}

TEST_F(EnvTest, StartProcessStdinIsDevNull) {
  // Give this process a stdin with a line waiting in it while the child
  // starts: a child that inherited it would read the line.
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  ASSERT_EQ(::write(fds[1], "from-parent\n", 12), 12);
  const int saved_stdin = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
  ::dup2(fds[0], 0);
  std::unique_ptr<ChildProcess> child =
      Start({"sh", "-c", "readlink /proc/self/fd/0; if read line; then echo \"read $line\"; else echo eof; fi"});
  if (saved_stdin >= 0) {
    ::dup2(saved_stdin, 0);
    ::close(saved_stdin);
  } else {
    ::close(0);
  }
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_NE(child, nullptr);
  // Only what the child must not see is asserted: on some machines /dev/null
  // is a plain file that other programs have written into, so the child may
  // read a line from it, but never the parent's line.
  const std::string output = ReadAll(child.get());
  EXPECT_EQ(output.substr(0, output.find('\n')), "/dev/null");
  EXPECT_EQ(output.find("from-parent"), std::string::npos) << output;
  EXPECT_EQ(WaitFor(child.get()), 0);
}

TEST_F(EnvTest, StartProcessSignalReachesTheWholeProcessGroup) {
  // The shell prints its background child's pid, then waits for it.
  std::unique_ptr<ChildProcess> child = Start({"sh", "-c", "sleep 30 & echo $!; wait"});
  ASSERT_NE(child, nullptr);
  const pid_t grandchild = ParsePid(ReadLine(child.get()));
  ASSERT_GT(grandchild, 0);
  KillAtExit cleanup(grandchild);
  ASSERT_FALSE(Ended(grandchild));

  // Signal from this thread while another one waits.
  std::future<int> code = std::async(std::launch::async, [&] { return WaitFor(child.get()); });
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  ASSERT_EQ(code.wait_for(20s), std::future_status::ready) << "SIGTERM did not end the child";
  EXPECT_EQ(code.get(), 128 + SIGTERM);
  EXPECT_TRUE(EndsWithin(grandchild, 10s)) << "grandchild " << grandchild << " survived SIGTERM to the group";
  EXPECT_EQ(ReadAll(child.get()), "");  // every writer is gone
  // Signalling a child that has exited is fine.
  EXPECT_TRUE(child->Signal(SIGTERM).ok());
}

TEST_F(EnvTest, StartProcessSignalToAnExitedChildIsOk) {
  std::unique_ptr<ChildProcess> child = Start({"true"});
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(ReadAll(child.get()), "");  // it closed its output: it is exiting
  EXPECT_TRUE(child->Signal(SIGTERM).ok());
  EXPECT_EQ(WaitFor(child.get()), 0);
}

TEST_F(EnvTest, StartProcessDestructorKillsAnUnwaitedChildAndItsGroup) {
  std::unique_ptr<ChildProcess> child = Start({"sh", "-c", "sleep 30 & echo $!; wait"});
  ASSERT_NE(child, nullptr);
  const pid_t pid = child->pid();
  const pid_t grandchild = ParsePid(ReadLine(child.get()));
  ASSERT_GT(grandchild, 0);
  KillAtExit cleanup(grandchild);
  const auto start = std::chrono::steady_clock::now();
  child.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s) << "the destructor waited for the child";
  // Killed and reaped by the destructor: not even a zombie is left.
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_TRUE(EndsWithin(grandchild, 10s)) << "grandchild " << grandchild << " survived the destructor";

  // A child that exited but was never waited for is reaped too.
  std::unique_ptr<ChildProcess> done = Start({"true"});
  ASSERT_NE(done, nullptr);
  const pid_t done_pid = done->pid();
  EXPECT_EQ(ReadAll(done.get()), "");
  done.reset();
  EXPECT_EQ(::kill(done_pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

// The file descriptors this process has open, by /proc/self/fd (without
// the listing's own, closed by the time this returns).
std::vector<int> OpenFds() {
  std::vector<int> listed;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    listed.push_back(std::stoi(entry.path().filename().string()));
  }
  std::vector<int> fds;
  for (int fd : listed) {
    if (::fcntl(fd, F_GETFD) >= 0) fds.push_back(fd);
  }
  std::sort(fds.begin(), fds.end());
  return fds;
}

TEST_F(EnvTest, StartProcessKeepsItsEndOfThePipeCloseOnExec) {
  const std::vector<int> before = OpenFds();
  std::unique_ptr<ChildProcess> child = Start({"sleep", "30"});
  ASSERT_NE(child, nullptr);
  int added = 0;
  for (int fd : OpenFds()) {
    if (std::binary_search(before.begin(), before.end(), fd)) continue;
    const int flags = ::fcntl(fd, F_GETFD);
    ++added;
    EXPECT_TRUE(flags & FD_CLOEXEC) << "fd " << fd << " would leak into other children";
  }
  // The read end of the output pipe and the child's pidfd, nothing else.
  EXPECT_EQ(added, 2);
}

TEST_F(EnvTest, StartProcessPipesDoNotLeakIntoConcurrentChildren) {
  // Another thread starts long-running children (A: `sleep 30`) while this
  // one starts short ones (B: `echo hi`) and reads each to the end. An A
  // forked while a B's pipe is open in this process must not keep it open
  // after its exec: B's output must end when B does, while every A runs on.
  constexpr int kLongRunning = 40;
  std::atomic<bool> stop{false};
  std::atomic<bool> starter_done{false};
  std::atomic<int> started{0};
  std::vector<std::unique_ptr<ChildProcess>> longs;  // the starter's until joined
  std::thread starter([&] {
    for (int i = 0; i < kLongRunning && !stop.load(); ++i) {
      std::unique_ptr<ChildProcess> a = Start({"sleep", "30"});
      if (a == nullptr) break;
      longs.push_back(std::move(a));
      ++started;
    }
    starter_done = true;
  });
  auto stop_starter = [&] {
    stop = true;
    if (starter.joinable()) starter.join();
  };

  int rounds = 0;
  // While A children are being started, and at least a few rounds.
  while ((!starter_done.load() || rounds < 5) && rounds < 2000) {
    std::unique_ptr<ChildProcess> b = Start({"sh", "-c", "echo hi"});
    ASSERT_NE(b, nullptr);
    std::future<std::string> output = std::async(std::launch::async, [&] { return ReadAll(b.get()); });
    if (output.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "round " << rounds << ": the output of a finished child did not end: "
                    << "a child started at the same time holds its pipe";
      stop_starter();
      longs.clear();  // kills every A, closing the leaked pipe
      output.get();
      return;
    }
    EXPECT_EQ(output.get(), "hi\n") << "round " << rounds;
    EXPECT_EQ(WaitFor(b.get()), 0);
    ++rounds;
  }
  stop_starter();
  EXPECT_EQ(started.load(), kLongRunning);
  for (const auto& a : longs) EXPECT_FALSE(Ended(a->pid())) << "an A ended early";
  longs.clear();  // the destructors kill them
}

TEST_F(EnvTest, StartProcessResetsTheSignalMask) {
  // A child inherits the signal mask of the thread that forks it: with
  // SIGTERM blocked here, children must still start with an empty mask.
  // (Programs run directly: a shell might clear its mask itself.)
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  std::unique_ptr<ChildProcess> status = Start({"grep", "^SigBlk:", "/proc/self/status"});
  std::unique_ptr<ChildProcess> child = Start({"sleep", "30"});
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
  ASSERT_NE(status, nullptr);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(ReadAll(status.get()), "SigBlk:\t0000000000000000\n");
  EXPECT_EQ(WaitFor(status.get()), 0);

  std::future<int> code = std::async(std::launch::async, [&] { return WaitFor(child.get()); });
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  if (code.wait_for(20s) != std::future_status::ready) {
    ADD_FAILURE() << "SIGTERM stayed blocked in the child";
    (void)child->Signal(SIGKILL);
  }
  EXPECT_EQ(code.get(), 128 + SIGTERM);
}

TEST_F(EnvTest, StartProcessResetsIgnoredSignals) {
  // An ignored signal stays ignored across exec; the child must not inherit
  // this process's SIG_IGN for SIGTERM.
  struct sigaction ignore {}, old {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ASSERT_EQ(::sigaction(SIGTERM, &ignore, &old), 0);
  std::unique_ptr<ChildProcess> child = Start({"sh", "-c", "echo ready; exec sleep 30"});
  ASSERT_EQ(::sigaction(SIGTERM, &old, nullptr), 0);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(ReadLine(child.get()), "ready");

  std::future<int> code = std::async(std::launch::async, [&] { return WaitFor(child.get()); });
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  if (code.wait_for(20s) != std::future_status::ready) {
    ADD_FAILURE() << "SIGTERM stayed ignored in the child";
    (void)child->Signal(SIGKILL);
  }
  EXPECT_EQ(code.get(), 128 + SIGTERM);
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

TEST(EnvProcessTest, OutputEndsWhenTheChildExitsEvenIfABackgroundProcessHoldsThePipe) {
  // `sleep` inherits the pipe and keeps it open for 30 s; the command
  // itself is done at once. Reading must end with the command, not the sleep.
  std::unique_ptr<ChildProcess> child = Start({"sh", "-c", "sleep 30 & echo $!; echo done"});
  ASSERT_NE(child, nullptr);
  std::string out = ReadAll(child.get());
  Result<int> code = child->Wait();
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  ASSERT_NE(out.find("done\n"), std::string::npos) << out;
  pid_t sleeper = std::stoi(out);
  EXPECT_EQ(::kill(sleeper, 0), 0) << "the background process should still run";
  ::kill(sleeper, SIGKILL);
}

}  // namespace
}  // namespace keel
