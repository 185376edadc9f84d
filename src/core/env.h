// Env: the filesystem, the clock and child processes behind one interface,
// so storage code can be tested against injected faults (fault_env.h).
//
// Paths are plain strings, absolute or relative to the process's working
// directory. Every method is thread-safe unless noted; files returned are not
// (use one per thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keel {

enum class FileType { kRegular, kDirectory, kSymlink, kOther };

struct FileInfo {
  FileType type = FileType::kOther;
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits only (07777)
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  uint64_t device = 0;
  uint64_t links = 0;
};

struct DirEntry {
  std::string name;
  FileInfo info;
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;
  // Reads up to n bytes into buf. Returns the count read, 0 at end of file.
  virtual Result<size_t> Read(char* buf, size_t n) = 0;
  // Reads up to n bytes at `offset` (pread); does not move the read position.
  virtual Result<size_t> ReadAt(uint64_t offset, char* buf, size_t n) = 0;
};

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Flushes data and metadata to stable storage (fsync).
  virtual Status Sync() = 0;
  // Closes the file; further calls are errors. The destructor closes too.
  virtual Status Close() = 0;
};

// Held while alive; the lock is released by the destructor.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class LockMode { kShared, kExclusive };

// How CloneFile materialises dst from src.
enum class CloneMethod {
  kReflink,   // copy-on-write clone (FICLONE); fails where unsupported
  kHardlink,  // a second name for the same inode; fails across filesystems
  kCopy,      // a byte copy (copy_file_range, falling back to read/write)
};

struct ProcessResult {
  int exit_code = 0;  // 128 + signal when killed by a signal
  std::string output;  // stdout and stderr, interleaved
};

struct ProcessOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string cwd;                // empty: the caller's
  // Added to (or replacing in) the caller's environment.
  std::vector<std::pair<std::string, std::string>> env;
};

// A child started by Env::StartProcess, in a process group of its own (so a
// signal reaches the command and everything it started). stdin is
// /dev/null; stdout and stderr share one pipe, read with ReadOutput.
// Not thread-safe except Signal, which may be called from any thread while
// another waits.
class ChildProcess {
 public:
  // Kills the group (SIGKILL) and reaps the child if Wait was never called.
  virtual ~ChildProcess() = default;
  // Reads up to n bytes of output; 0 once every writer has closed it.
  virtual Result<size_t> ReadOutput(char* buf, size_t n) = 0;
  // Waits for the child to exit: its exit code, or 128 + signal.
  virtual Result<int> Wait() = 0;
  // Sends `signal` to the child's process group; OK if it already exited.
  virtual Status Signal(int signal) = 0;
  virtual int pid() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  virtual Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) = 0;
  // Creates a new file with permission bits `mode`; fails with already exists
  // if the path exists.
  virtual Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path,
                                                           uint32_t mode) = 0;
  // lstat(2): symbolic links are described, never followed.
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  // The entries of a folder except "." and "..", in no particular order.
  virtual Result<std::vector<DirEntry>> ListDir(const std::string& path) = 0;
  // Creates one folder; OK if it already exists as a folder.
  virtual Status CreateDir(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RemoveDir(const std::string& path) = 0;
  // rename(2): atomically replaces `to`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  // fsync(2) of an existing file.
  virtual Status SyncFile(const std::string& path) = 0;
  // Flushes every dirty page of the filesystem holding `path` (syncfs(2)):
  // one call in place of an fsync per file for a batch of many files.
  virtual Status SyncFilesystem(const std::string& path) = 0;
  virtual Status SetMode(const std::string& path, uint32_t mode) = 0;
  virtual Status CreateSymlink(const std::string& target, const std::string& path) = 0;
  virtual Result<std::string> ReadSymlink(const std::string& path) = 0;
  // Creates `dst` (which must not exist) with the contents of `src`.
  virtual Status CloneFile(const std::string& src, const std::string& dst,
                           CloneMethod method) = 0;
  // Takes an advisory lock on `path` (created if absent); blocks until held.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path, LockMode mode) = 0;
  // Like LockFile, without waiting: null when another holder keeps it.
  virtual Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path, LockMode mode) = 0;

  // True when this process may write files whose permission bits forbid it
  // (root): read-only modes then protect nothing.
  virtual bool OverridesFilePermissions() = 0;

  // Wall-clock time in nanoseconds since the Unix epoch.
  virtual int64_t NowNanos() = 0;

  // Runs argv[0] (looked up in PATH) in `cwd`, waits, and returns its exit
  // code and combined output. Fails only if it could not be started.
  virtual Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                           const std::string& cwd) = 0;

  // Starts a child without waiting for it; fails only if it could not be
  // started (a missing program shows as exit code 127).
  virtual Result<std::unique_ptr<ChildProcess>> StartProcess(const ProcessOptions& options) = 0;
};

// The real operating system. Never null; lives for the whole process.
Env* DefaultEnv();

// Convenience helpers built on Env.
Result<std::string> ReadFileToString(Env* env, const std::string& path);
// Writes `data` to `path` atomically: a temporary file beside it, fsync,
// rename over `path`, fsync of the folder.
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data,
                       uint32_t mode = 0644);
// Creates `path` and every missing parent.
Status CreateDirs(Env* env, const std::string& path);
bool Exists(Env* env, const std::string& path);
// Removes a file, link or whole folder tree (links are removed, never
// followed). OK if nothing is there.
Status RemoveTree(Env* env, const std::string& path);
// A unique name beside `path` for a temporary file:
// "<dir>/.keel-tmp-<pid>-<n>-<name>". IsTempName recognises it.
std::string TempNameBeside(const std::string& path);
// True for a file name made by TempNameBeside (a leftover if the process
// that made it died).
bool IsTempName(std::string_view name);

}  // namespace keel
