#include "core/fault_env.h"

#include <cerrno>

namespace keel {
namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultEnv* env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}
  Status Append(std::string_view data) override {
    KEEL_RETURN_IF_ERROR(env_->BeforeMutation(path_));
    KEEL_RETURN_IF_ERROR(env_->ChargeSpace(path_, data.size()));
    return base_->Append(data);
  }
  Status Sync() override { return base_->Sync(); }
  Status Close() override { return base_->Close(); }

 private:
  FaultEnv* env_;
  std::string path_;
  std::unique_ptr<WritableFile> base_;
};

}  // namespace

void FaultEnv::FailMutationsAfter(int64_t n, int err) {
  std::lock_guard lock(mu_);
  fail_after_ = mutations_.load() + n;
  fail_errno_ = err;
  crash_ = false;
}

void FaultEnv::SetFreeSpace(int64_t bytes) {
  std::lock_guard lock(mu_);
  free_space_ = bytes;
}

void FaultEnv::CrashAfter(int64_t n) {
  std::lock_guard lock(mu_);
  fail_after_ = mutations_.load() + n;
  fail_errno_ = EIO;
  crash_ = true;
}

void FaultEnv::Reset() {
  std::lock_guard lock(mu_);
  fail_after_ = -1;
  free_space_ = -1;
  crash_ = false;
}

Status FaultEnv::BeforeMutation(const std::string& path) {
  int64_t count = mutations_.fetch_add(1);
  std::lock_guard lock(mu_);
  if (fail_after_ < 0 || count < fail_after_) return Status::Ok();
  if (crash_) return InternalError(path + ": simulated crash (process is gone)");
  return ErrnoError(path, fail_errno_);
}

Status FaultEnv::ChargeSpace(const std::string& path, uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (free_space_ < 0) return Status::Ok();
  if (static_cast<int64_t>(bytes) > free_space_) {
    free_space_ = 0;
    return ErrnoError(path, ENOSPC);
  }
  free_space_ -= static_cast<int64_t>(bytes);
  return Status::Ok();
}

Result<std::unique_ptr<ReadableFile>> FaultEnv::OpenForRead(const std::string& path) {
  return base_->OpenForRead(path);
}

Result<std::unique_ptr<WritableFile>> FaultEnv::CreateFile(const std::string& path, uint32_t mode) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, base_->CreateFile(path, mode));
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, path, std::move(file)));
}

Status FaultEnv::CreateDir(const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->CreateDir(path);
}

Status FaultEnv::RemoveFile(const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->RemoveFile(path);
}

Status FaultEnv::RemoveDir(const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->RemoveDir(path);
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(to));
  return base_->Rename(from, to);
}

Status FaultEnv::SyncDir(const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->SyncDir(path);
}

Status FaultEnv::SyncFile(const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->SyncFile(path);
}

Status FaultEnv::SyncFilesystem(const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->SyncFilesystem(path);
}

Status FaultEnv::SetMode(const std::string& path, uint32_t mode) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->SetMode(path, mode);
}

Status FaultEnv::CreateSymlink(const std::string& target, const std::string& path) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(path));
  return base_->CreateSymlink(target, path);
}

Status FaultEnv::CloneFile(const std::string& src, const std::string& dst, CloneMethod method) {
  KEEL_RETURN_IF_ERROR(BeforeMutation(dst));
  if (method != CloneMethod::kHardlink) {
    KEEL_ASSIGN_OR_RETURN(FileInfo info, base_->Stat(src));
    KEEL_RETURN_IF_ERROR(ChargeSpace(dst, info.size));
  }
  return base_->CloneFile(src, dst, method);
}

}  // namespace keel
