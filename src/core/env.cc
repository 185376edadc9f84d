#include "core/env.h"

#include <unistd.h>

#include <atomic>

namespace keel {

Result<std::string> ReadFileToString(Env* env, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, env->OpenForRead(path));
  std::string data;
  char buf[65536];
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(size_t n, file->Read(buf, sizeof buf));
    if (n == 0) return data;
    data.append(buf, n);
  }
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
