#include "core/env.h"

#include <unistd.h>

#include <atomic>

namespace keel {

Result<std::string> ReadFileToString(Env* env, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, env->OpenForRead(path));
  // Read straight into the string, sized from lstat when it can be: each
  // regrowth of a large buffer costs fresh pages (and page faults) again.
  Result<FileInfo> info = env->Stat(path);
  size_t expected = info.ok() && info->type == FileType::kRegular ? info->size : 0;
  std::string data(expected + 1, '\0');
  size_t len = 0;
  for (;;) {
    if (len == data.size()) data.resize(data.size() * 2 + 65536);
    KEEL_ASSIGN_OR_RETURN(size_t n, file->Read(data.data() + len, data.size() - len));
    if (n == 0) break;
    len += n;
  }
  data.resize(len);
  return data;
}

Status RemoveTree(Env* env, const std::string& path) {
  Result<FileInfo> info = env->Stat(path);
  if (!info.ok()) return info.status().code() == StatusCode::kNotFound ? Status::Ok() : info.status();
  if (info->type != FileType::kDirectory) return env->RemoveFile(path);
  KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> children, env->ListDir(path));
  for (const DirEntry& c : children) KEEL_RETURN_IF_ERROR(RemoveTree(env, path + "/" + c.name));
  return env->RemoveDir(path);
}

namespace {
constexpr std::string_view kTempPrefix = ".keel-tmp-";
}

std::string TempNameBeside(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  std::string::size_type slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + std::string(kTempPrefix) + std::to_string(::getpid()) + "-" + std::to_string(++counter) +
         "-" + name;
}

bool IsTempName(std::string_view name) { return name.substr(0, kTempPrefix.size()) == kTempPrefix; }

Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data, uint32_t mode) {
  std::string tmp = TempNameBeside(path);
  Status status = [&]() -> Status {
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->CreateFile(tmp, mode));
    KEEL_RETURN_IF_ERROR(file->Append(data));
    KEEL_RETURN_IF_ERROR(file->Sync());
    KEEL_RETURN_IF_ERROR(file->Close());
    return env->Rename(tmp, path);
  }();
  if (!status.ok()) {
    (void)env->RemoveFile(tmp);
    return status;
  }
  std::string::size_type slash = path.rfind('/');
  return env->SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
}

Status CreateDirs(Env* env, const std::string& path) {
  Status status = env->CreateDir(path);
  if (status.ok() || status.code() != StatusCode::kNotFound) return status;
  std::string::size_type slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return status;
  KEEL_RETURN_IF_ERROR(CreateDirs(env, path.substr(0, slash)));
  return env->CreateDir(path);
}

bool Exists(Env* env, const std::string& path) { return env->Stat(path).ok(); }

}  // namespace keel
