// The Env of the real operating system (Linux).
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <ctime>

#include "core/env.h"

namespace keel {
namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  return FileType::kOther;
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = TypeOf(st.st_mode);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  info.inode = st.st_ino;
  info.device = st.st_dev;
  info.links = st.st_nlink;
  return info;
}

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  Result<size_t> Read(char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_.get(), buf, n);
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoError(path_, errno);
    }
  }
  Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) override {
    for (;;) {
      ssize_t got = ::pread(fd_.get(), buf, n, static_cast<off_t>(offset));
      if (got >= 0) return static_cast<size_t>(got);
      if (errno != EINTR) return ErrnoError(path_, errno);
    }
  }

 private:
  std::string path_;
  Fd fd_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { (void)Close(); }

  Status Append(std::string_view data) override {
    while (!data.empty()) {
      ssize_t put = ::write(fd_.get(), data.data(), data.size());
      if (put < 0) {
        if (errno == EINTR) continue;
        return ErrnoError(path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(put));
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (::fsync(fd_.get()) != 0) return ErrnoError(path_, errno);
    return Status::Ok();
  }
  Status Close() override {
    if (fd_.get() < 0) return Status::Ok();
    int rc = ::close(fd_.Release());
    if (rc != 0) return ErrnoError(path_, errno);
    return Status::Ok();
  }

 private:
  std::string path_;
  Fd fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::flock(fd_.get(), LOCK_UN); }

 private:
  Fd fd_;
};

Status CopyBytes(int in, int out, const std::string& src, const std::string& dst) {
  // copy_file_range lets the kernel copy (and some filesystems share blocks);
  // it is refused across some filesystem pairs, so fall back to read/write.
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n == 0) return Status::Ok();
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) break;
    // Most failures here are the destination's (a full disk).
    return ErrnoError(errno == EIO ? src : dst, errno);
  }
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t got = ::read(in, buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return ErrnoError(src, errno);
    if (got == 0) return Status::Ok();
    for (ssize_t off = 0; off < got;) {
      ssize_t put = ::write(out, buf.data() + off, static_cast<size_t>(got - off));
      if (put < 0 && errno == EINTR) continue;
      if (put < 0) return ErrnoError(dst, errno);
      off += put;
    }
  }
}

class PosixChildProcess final : public ChildProcess {
 public:
  PosixChildProcess(pid_t pid, int output_fd)
      : pid_(pid), output_(output_fd), pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))) {}
  ~PosixChildProcess() override {
    if (!waited_) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    ::close(output_);
    if (pidfd_ >= 0) ::close(pidfd_);
  }

  Result<size_t> ReadOutput(char* buf, size_t n) override {
    for (;;) {
      // Output first; then, once the child has exited and nothing is
      // left to read, the end — even if a background process it started
      // still holds the pipe open (it would otherwise hold keel too).
      pollfd fds[2] = {{output_, POLLIN, 0}, {pidfd_, POLLIN, 0}};
      int r = ::poll(fds, pidfd_ >= 0 ? 2 : 1, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoError("poll", errno);
      if (fds[0].revents != 0) {
        ssize_t got = ::read(output_, buf, n);
        if (got >= 0) return static_cast<size_t>(got);
        if (errno == EINTR) continue;
        return ErrnoError("reading the output of process " + std::to_string(pid_), errno);
      }
      if (fds[1].revents != 0) return 0;
    }
  }

  Result<int> Wait() override {
    // Seen exited before it is reaped, so that Signal never reaches a
    // reaped pid that a new process group might reuse.
    siginfo_t info;
    while (::waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) < 0) {
      if (errno != EINTR) return ErrnoError("waiting for process " + std::to_string(pid_), errno);
    }
    exited_ = true;
    int wstatus = 0;
    while (::waitpid(pid_, &wstatus, 0) < 0) {
      if (errno != EINTR) return ErrnoError("waiting for process " + std::to_string(pid_), errno);
    }
    waited_ = true;
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  }

  Status Signal(int signal) override {
    if (exited_) return Status::Ok();
    // The child itself may be exiting right now (ESRCH): fine.
    if (::kill(-pid_, signal) != 0 && errno != ESRCH) return ErrnoError("kill", errno);
    return Status::Ok();
  }

  int pid() const override { return pid_; }

 private:
  const pid_t pid_;
  const int output_;
  const int pidfd_;  // -1 where the kernel has no pidfd_open
  std::atomic<bool> exited_{false};
  std::atomic<bool> waited_{false};
};

// Everything the child needs, built before fork: after fork in a threaded
// process only async-signal-safe calls are allowed.
struct ExecPlan {
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan PlanExec(const ProcessOptions& options) {
  ExecPlan plan;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [k, v] : options.env) replaced = replaced || k == name;
    if (!replaced) plan.env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : options.env) plan.env_strings.push_back(k + "=" + v);
  for (std::string& s : plan.env_strings) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  for (const std::string& a : options.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  return plan;
}

[[noreturn]] void ExecChild(const ExecPlan& plan, const std::string& cwd, int output_fd) {
  ::setpgid(0, 0);
  // Handlers first, then the mask: a signal let through must not run a
  // handler of the parent's in the child.
  for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Above 2 first: if keel ran with stdout closed, the pipe may be fd 1,
  // and dup2(1, 1) would leave it close-on-exec.
  int out = ::fcntl(output_fd, F_DUPFD_CLOEXEC, 3);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || devnull < 0) ::_exit(127);
  ::dup2(out, 1);
  ::dup2(out, 2);
  ::dup2(devnull, 0);
  if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
  ::execvpe(plan.argv[0], plan.argv.data(), plan.envp.data());
  ::_exit(127);
}

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(path, errno);
    return std::unique_ptr<ReadableFile>(new PosixReadableFile(path, fd));
  }

  Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path,
                                                   uint32_t mode) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return ErrnoError(path, errno);
    // The umask must not weaken the modes keel records and restores.
    if (::fchmod(fd, mode) != 0) {
      int err = errno;
      ::close(fd);
      return ErrnoError(path, err);
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }

  Result<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return ErrnoError(path, errno);
    return InfoOf(st);
  }

  Result<std::vector<DirEntry>> ListDir(const std::string& path) override {
    Fd dfd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() < 0) return ErrnoError(path, errno);
    // Close-on-exec: stage commands start while folders are being listed.
    DIR* dir = ::fdopendir(::fcntl(dfd.get(), F_DUPFD_CLOEXEC, 0));
    if (dir == nullptr) return ErrnoError(path, errno);
    std::vector<DirEntry> entries;
    Status status;
    while (struct dirent* ent = ::readdir(dir)) {
      std::string_view name = ent->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (::fstatat(dfd.get(), ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while listing
        status = ErrnoError(path + "/" + ent->d_name, errno);
        break;
      }
      entries.push_back({std::string(name), InfoOf(st)});
    }
    ::closedir(dir);
    if (!status.ok()) return status;
    return entries;
  }

  Status CreateDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::Ok();
    int err = errno;
    struct stat st;
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    return ErrnoError(path, err);
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoError(to, errno);
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError(path, errno);
    if (::fsync(fd.get()) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Status SyncFile(const std::string& path) override {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError(path, errno);
    if (::fsync(fd.get()) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Status SyncFilesystem(const std::string& path) override {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoError(path, errno);
    if (::syncfs(fd.get()) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Status SetMode(const std::string& path, uint32_t mode) override {
    if (::chmod(path.c_str(), mode) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Status CreateSymlink(const std::string& target, const std::string& path) override {
    if (::symlink(target.c_str(), path.c_str()) != 0) return ErrnoError(path, errno);
    return Status::Ok();
  }

  Result<std::string> ReadSymlink(const std::string& path) override {
    std::string buf(PATH_MAX, '\0');
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return ErrnoError(path, errno);
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

  Status CloneFile(const std::string& src, const std::string& dst, CloneMethod method) override {
    if (method == CloneMethod::kHardlink) {
      if (::link(src.c_str(), dst.c_str()) != 0) return ErrnoError(dst, errno);
      return Status::Ok();
    }
    Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return ErrnoError(src, errno);
    struct stat st;
    if (::fstat(in.get(), &st) != 0) return ErrnoError(src, errno);
    Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777));
    if (out.get() < 0) return ErrnoError(dst, errno);
    Status status;
    if (method == CloneMethod::kReflink) {
      if (::ioctl(out.get(), FICLONE, in.get()) != 0) status = ErrnoError(dst, errno);
    } else {
      status = CopyBytes(in.get(), out.get(), src, dst);
    }
    if (!status.ok()) ::unlink(dst.c_str());
    return status;
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path, LockMode mode) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError(path, errno);
    int op = mode == LockMode::kShared ? LOCK_SH : LOCK_EX;
    while (::flock(fd, op) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError(path, err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }

  Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path, LockMode mode) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoError(path, errno);
    int op = (mode == LockMode::kShared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    while (::flock(fd, op) != 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return std::unique_ptr<FileLock>();
      return ErrnoError(path, err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }

  bool OverridesFilePermissions() override { return ::geteuid() == 0; }

  int64_t NowNanos() override {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
  }

  Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const std::string& cwd) override {
    if (argv.empty()) return InvalidArgumentError("RunProcess: empty command");
    ProcessOptions options;
    options.argv = argv;
    options.cwd = cwd;
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, StartProcess(options));
    ProcessResult result;
    char buf[4096];
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(size_t n, child->ReadOutput(buf, sizeof buf));
      if (n == 0) break;
      result.output.append(buf, n);
    }
    KEEL_ASSIGN_OR_RETURN(result.exit_code, child->Wait());
    return result;
  }

  Result<std::unique_ptr<ChildProcess>> StartProcess(const ProcessOptions& options) override {
    if (options.argv.empty()) return InvalidArgumentError("StartProcess: empty command");
    ExecPlan plan = PlanExec(options);
    int pipe_fds[2];
    // Close-on-exec, so that children started at the same time by other
    // threads do not hold this pipe open.
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      return ErrnoError("fork", err);
    }
    if (pid == 0) ExecChild(plan, options.cwd, pipe_fds[1]);
    // Both sides set the group, so a signal sent right after this returns
    // reaches the child whichever runs first.
    ::setpgid(pid, pid);
    ::close(pipe_fds[1]);
    return std::unique_ptr<ChildProcess>(new PosixChildProcess(pid, pipe_fds[0]));
  }
};

}  // namespace

Env* DefaultEnv() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

}  // namespace keel
