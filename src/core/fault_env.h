// FaultEnv: an Env that forwards to another one and injects failures, for
// tests of what storage code leaves behind when the disk fills up, a write
// fails, or the process dies part way.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "core/env.h"

namespace keel {

class FaultEnv final : public Env {
 public:
  // `base` must outlive this object.
  explicit FaultEnv(Env* base) : base_(base) {}

  // Every mutating call (create, append, rename, link, chmod, mkdir, remove,
  // symlink) after the next `n` succeed fails with `err` (e.g. EIO).
  void FailMutationsAfter(int64_t n, int err);
  // Appends and copies fail with ENOSPC once `bytes` more have been written.
  void SetFreeSpace(int64_t bytes);
  // Simulates the process dying after `n` more mutating calls: every later
  // call that would change the disk fails and has no effect, as if it never
  // ran. Unsynced data is not dropped (the kernel keeps it on a process
  // crash); only an OS crash would lose it.
  void CrashAfter(int64_t n);
  // Clears every injected fault.
  void Reset();
  int64_t mutations() const { return mutations_.load(); }

  Result<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> CreateFile(const std::string& path, uint32_t mode) override;
  Result<FileInfo> Stat(const std::string& path) override { return base_->Stat(path); }
  Result<std::vector<DirEntry>> ListDir(const std::string& path) override {
    return base_->ListDir(path);
  }
  Status CreateDir(const std::string& path) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveDir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& path) override;
  Status SyncFile(const std::string& path) override;
  Status SyncFilesystem(const std::string& path) override;
  Status SetMode(const std::string& path, uint32_t mode) override;
  Status CreateSymlink(const std::string& target, const std::string& path) override;
  Result<std::string> ReadSymlink(const std::string& path) override {
    return base_->ReadSymlink(path);
  }
  Status CloneFile(const std::string& src, const std::string& dst, CloneMethod method) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path, LockMode mode) override {
    return base_->LockFile(path, mode);
  }
  Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path, LockMode mode) override {
    return base_->TryLockFile(path, mode);
  }
  bool OverridesFilePermissions() override { return base_->OverridesFilePermissions(); }
  int64_t NowNanos() override { return base_->NowNanos(); }
  Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const std::string& cwd) override {
    return base_->RunProcess(argv, cwd);
  }
  Result<std::unique_ptr<ChildProcess>> StartProcess(const ProcessOptions& options) override {
    return base_->StartProcess(options);
  }

  // Called by every mutating operation on `path`; returns the injected
  // failure, if any.
  Status BeforeMutation(const std::string& path);
  // Charges `bytes` against the free space; fails with ENOSPC when exhausted.
  Status ChargeSpace(const std::string& path, uint64_t bytes);

 private:
  Env* const base_;
  std::atomic<int64_t> mutations_{0};
  std::mutex mu_;
  int64_t fail_after_ = -1;  // guarded by mu_; -1: never
  int fail_errno_ = 0;
  bool crash_ = false;
  int64_t free_space_ = -1;  // -1: unlimited
};

}  // namespace keel
