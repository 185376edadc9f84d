#include "cas/object_store.h"

#include <unistd.h>

#include <atomic>
#include <set>

#include "core/paths.h"

namespace keel {
namespace {

constexpr uint32_t kObjectMode = 0444;
// Below this many objects an fsync per file is cheaper than syncfs(2).
constexpr size_t kSyncEachLimit = 8;

bool IsHexName(std::string_view name, size_t len) {
  if (name.size() != len) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<CloneMethod>> ParseCloneOrder(std::string_view text) {
  std::vector<CloneMethod> order;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view word = text.substr(i, j - i);
    while (!word.empty() && word.front() == ' ') word.remove_prefix(1);
    while (!word.empty() && word.back() == ' ') word.remove_suffix(1);
    i = j + 1;
    if (word == "reflink") order.push_back(CloneMethod::kReflink);
    else if (word == "hardlink") order.push_back(CloneMethod::kHardlink);
    else if (word == "copy") order.push_back(CloneMethod::kCopy);
    else {
      return InvalidArgumentError("cache.type: unknown link type '" + std::string(word) +
                                  "' (expected a comma-separated list of reflink, hardlink, copy)");
    }
  }
  return order;
}

std::string CloneMethodName(CloneMethod method) {
  switch (method) {
    case CloneMethod::kReflink: return "reflink";
    case CloneMethod::kHardlink: return "hardlink";
    case CloneMethod::kCopy: return "copy";
  }
  return "copy";
}

ObjectStore::ObjectStore(Env* env, std::string root, std::vector<CloneMethod> clone_order)
    : env_(env), root_(std::move(root)), clone_order_(std::move(clone_order)) {
  if (clone_order_.empty()) clone_order_.push_back(CloneMethod::kCopy);
}

Status ObjectStore::Init() {
  if (Exists(env_, JoinPath(root_, "tmp"))) return Status::Ok();
  KEEL_RETURN_IF_ERROR(CreateDirs(env_, root_));
  return env_->CreateDir(JoinPath(root_, "tmp"));
}

std::string ObjectStore::PathOf(const Digest& digest) const {
  std::string hex = digest.Hex();
  return root_ + "/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

bool ObjectStore::Has(const Digest& digest) const { return Exists(env_, PathOf(digest)); }

std::string ObjectStore::NewTempPath(const Digest& digest) const {
  static std::atomic<uint64_t> counter{0};
  static const std::string pid = std::to_string(::getpid());
  return root_ + "/tmp/" + digest.Hex().substr(0, 16) + "." + pid + "." + std::to_string(++counter);
}

Result<CloneMethod> ObjectStore::Clone(const std::string& src, const std::string& dst,
                                       bool executable) {
  Status status = InternalError(dst + ": no usable cache.type");
  for (CloneMethod method : clone_order_) {
    std::atomic<bool>* failed = method == CloneMethod::kReflink    ? &reflink_failed_
                                : method == CloneMethod::kHardlink ? &hardlink_failed_
                                                                   : nullptr;
    if (failed != nullptr && failed->load(std::memory_order_relaxed)) continue;
    // A hardlink would give an executable the object's mode 0444.
    if (method == CloneMethod::kHardlink && executable) continue;
    status = env_->CloneFile(src, dst, method);
    if (status.ok()) return method;
    // Disk full, a vanished source or a taken destination will not get
    // better with another method, and say nothing about this one.
    if (status.code() == StatusCode::kUnavailable || status.code() == StatusCode::kNotFound ||
        status.code() == StatusCode::kAlreadyExists) {
      break;
    }
    if (failed != nullptr) *failed = true;
  }
  return status;
}

Result<Digest> ObjectStore::PutBytes(std::string_view data) {
  Digest digest = HashBytes(data);
  Batch batch(this);
  KEEL_RETURN_IF_ERROR(batch.AddBytes(data, digest));
  KEEL_RETURN_IF_ERROR(batch.Commit());
  return digest;
}

Result<std::string> ObjectStore::ReadVerified(const Digest& digest) const {
  KEEL_ASSIGN_OR_RETURN(std::string data, ReadFileToString(env_, PathOf(digest)));
  if (HashBytes(data) != digest) {
    return CorruptError("object " + digest.ToString() + " (" + PathOf(digest) +
                        ") does not match its hash");
  }
  return data;
}

ObjectStore::Batch::~Batch() {
  for (const Staged& s : staged_) (void)store_->env_->RemoveFile(s.temp);
}

Status ObjectStore::Batch::AddBytes(std::string_view data, const Digest& digest) {
  if (store_->Has(digest)) return Status::Ok();
  Env* env = store_->env_;
  std::string temp = store_->NewTempPath(digest);
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->CreateFile(temp, kObjectMode));
  {
    std::lock_guard lock(mu_);
    staged_.push_back({digest, temp});
  }
  KEEL_RETURN_IF_ERROR(file->Append(data));
  return file->Close();
}

Status ObjectStore::Batch::AddFile(const std::string& path, const Digest& digest,
                                   const FileInfo& info) {
  if (store_->Has(digest)) return Status::Ok();
  Env* env = store_->env_;
  std::string temp = store_->NewTempPath(digest);
  KEEL_ASSIGN_OR_RETURN(CloneMethod method, store_->Clone(path, temp, (info.mode & 0111) != 0));
  (void)method;
  {
    std::lock_guard lock(mu_);
    staged_.push_back({digest, temp});
  }
  KEEL_RETURN_IF_ERROR(env->SetMode(temp, kObjectMode));
  KEEL_ASSIGN_OR_RETURN(FileInfo now, env->Stat(path));
  // A file replaced by another (rsync -t, cp -p) keeps size and mtime but
  // not the inode.
  if (now.size != info.size || now.mtime_ns != info.mtime_ns || now.inode != info.inode) {
    return FailedPreconditionError(path + ": changed while it was being added; add it again");
  }
  return Status::Ok();
}

Status ObjectStore::Batch::Commit() {
  Env* env = store_->env_;
  if (staged_.empty()) return Status::Ok();
  if (staged_.size() <= kSyncEachLimit) {
    for (const Staged& s : staged_) KEEL_RETURN_IF_ERROR(env->SyncFile(s.temp));
  } else {
    KEEL_RETURN_IF_ERROR(env->SyncFilesystem(store_->root_));
  }
  std::set<std::string> dirs;
  bool new_dirs = false;
  for (const Staged& s : staged_) {
    std::string final_path = store_->PathOf(s.digest);
    std::string dir = DirName(final_path);
    if (dirs.insert(dir).second && !Exists(env, dir)) {
      KEEL_RETURN_IF_ERROR(env->CreateDir(dir));
      new_dirs = true;
    }
    KEEL_RETURN_IF_ERROR(env->Rename(s.temp, final_path));
  }
  staged_.clear();
  for (const std::string& dir : dirs) KEEL_RETURN_IF_ERROR(env->SyncDir(dir));
  if (new_dirs) KEEL_RETURN_IF_ERROR(env->SyncDir(store_->root_));
  return Status::Ok();
}

Result<CloneMethod> ObjectStore::Materialize(const Digest& digest, const std::string& dest,
                                             bool executable) {
  std::string src = PathOf(digest);
  if (!Has(digest)) {
    return NotFoundError("object " + digest.ToString() + " is not in the store (" + src + ")");
  }
  KEEL_ASSIGN_OR_RETURN(CloneMethod method, Clone(src, dest, executable));
  if (method != CloneMethod::kHardlink) KEEL_RETURN_IF_ERROR(env_->SetMode(dest, executable ? 0755 : 0644));
  return method;
}

Status ObjectStore::ForEach(const std::function<Status(const Digest&, const FileInfo&)>& fn) const {
  KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> fanout, env_->ListDir(root_));
  for (const DirEntry& dir : fanout) {
    if (dir.info.type != FileType::kDirectory || !IsHexName(dir.name, 2)) continue;
    KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> objects, env_->ListDir(JoinPath(root_, dir.name)));
    for (const DirEntry& obj : objects) {
      if (obj.info.type != FileType::kRegular || !IsHexName(obj.name, 62)) continue;
      KEEL_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(dir.name + obj.name, "object name"));
      KEEL_RETURN_IF_ERROR(fn(digest, obj.info));
    }
  }
  return Status::Ok();
}

Status ObjectStore::Verify(const Digest& digest) const {
  std::string path = PathOf(digest);
  KEEL_ASSIGN_OR_RETURN(HashedFile hashed, HashFile(env_, path));
  if (hashed.digest != digest) {
    return CorruptError("object " + digest.ToString() + " (" + path + ") has content " +
                        hashed.digest.ToString());
  }
  return Status::Ok();
}

Status ObjectStore::Remove(const Digest& digest) {
  return env_->RemoveFile(PathOf(digest));
}

Result<size_t> ObjectStore::RemoveTemporaries() {
  std::string tmp = JoinPath(root_, "tmp");
  Result<std::vector<DirEntry>> entries = env_->ListDir(tmp);
  if (!entries.ok()) {
    return entries.status().code() == StatusCode::kNotFound ? Result<size_t>(0) : entries.status();
  }
  size_t removed = 0;
  for (const DirEntry& e : *entries) {
    KEEL_RETURN_IF_ERROR(env_->RemoveFile(JoinPath(tmp, e.name)));
    ++removed;
  }
  return removed;
}

}  // namespace keel
