#include "cas/object_store.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <unordered_set>

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
    : env_(env),
      root_(std::move(root)),
      clone_order_(std::move(clone_order)),
      packs_(std::make_unique<PackSet>(env, root_ + "/pack")) {
  if (clone_order_.empty()) clone_order_.push_back(CloneMethod::kCopy);
}

Status ObjectStore::Init() {
  // Only what is missing is created: opening a store writes nothing.
  for (const std::string& dir : {root_, JoinPath(root_, "tmp"), JoinPath(root_, "pack")}) {
    if (!Exists(env_, dir)) KEEL_RETURN_IF_ERROR(CreateDirs(env_, dir));
  }
  return Status::Ok();
}

Result<std::optional<PackSet::Location>> ObjectStore::FindPacked(const Digest& digest) const {
  KEEL_ASSIGN_OR_RETURN(std::optional<PackSet::Location> at, packs_->Find(digest));
  if (at) return at;
  // Another process may have published packs since they were loaded.
  return packs_->Find(digest, /*refresh=*/true);
}

Result<std::string> ObjectStore::ReadRaw(const Digest& digest) const {
  Result<std::string> loose = ReadFileToString(env_, PathOf(digest));
  if (loose.ok() || loose.status().code() != StatusCode::kNotFound) return loose;
  KEEL_ASSIGN_OR_RETURN(std::optional<PackSet::Location> at, FindPacked(digest));
  if (!at) return NotFoundError("object " + digest.ToString() + " is not in the store (" + PathOf(digest) + ")");
  return packs_->Read(*at);
}

std::string ObjectStore::PathOf(const Digest& digest) const {
  std::string hex = digest.Hex();
  return root_ + "/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

bool ObjectStore::Has(const Digest& digest) const {
  Result<std::optional<PackSet::Location>> packed = packs_->Find(digest);
  if (packed.ok() && packed->has_value()) return true;
  return Exists(env_, PathOf(digest));
}

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
  KEEL_ASSIGN_OR_RETURN(std::string data, ReadRaw(digest));
  if (HashBytes(data) != digest) {
    return CorruptError("object " + digest.ToString() + " (" + PathOf(digest) +
                        ") does not match its hash");
  }
  return data;
}

bool ObjectStore::StartsWith(const Digest& digest, std::string_view prefix) const {
  std::string head(prefix.size(), '\0');
  Result<std::unique_ptr<ReadableFile>> file = env_->OpenForRead(PathOf(digest));
  if (file.ok()) {
    Result<size_t> n = (*file)->ReadAt(0, head.data(), head.size());
    return n.ok() && *n == head.size() && head == prefix;
  }
  Result<std::optional<PackSet::Location>> at = FindPacked(digest);
  if (!at.ok() || !at->has_value() || (*at)->size < prefix.size()) return false;
  PackSet::Location first = **at;
  first.size = prefix.size();
  Result<std::string> data = packs_->Read(first);
  return data.ok() && *data == prefix;
}

PackWriter* ObjectStore::Batch::pack() {
  std::lock_guard lock(mu_);
  if (pack_ == nullptr) pack_ = std::make_unique<PackWriter>(store_->env_, store_->root_ + "/tmp");
  return pack_.get();
}

ObjectStore::Batch::~Batch() {
  for (const Staged& s : staged_) (void)store_->env_->RemoveFile(s.temp);
}

Status ObjectStore::Batch::AddBytes(std::string_view data, const Digest& digest, Placement placement) {
  // kLoose promises a loose copy, even of an object that is also packed.
  bool stored = placement == Placement::kLoose ? Exists(store_->env_, store_->PathOf(digest)) : store_->Has(digest);
  if (stored) return Status::Ok();
  if (placement == Placement::kAuto && Packs(data.size())) return pack()->Append(digest, data);
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
  if (Packs(info.size)) {
    KEEL_ASSIGN_OR_RETURN(std::string data, ReadFileToString(env, path));
    if (HashBytes(data) != digest) {
      return FailedPreconditionError(path + ": changed while it was being added; add it again");
    }
    return pack()->Append(digest, data);
  }
  std::string temp = store_->NewTempPath(digest);
  KEEL_RETURN_IF_ERROR(store_->Clone(path, temp, (info.mode & 0111) != 0).status());
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
  if (pack_ != nullptr && !pack_->empty()) {
    KEEL_RETURN_IF_ERROR(pack_->Seal());
  }
  if (staged_.size() <= kSyncEachLimit) {
    for (const Staged& s : staged_) KEEL_RETURN_IF_ERROR(env->SyncFile(s.temp));
  } else {
    KEEL_RETURN_IF_ERROR(env->SyncFilesystem(store_->root_));
  }
  if (pack_ != nullptr && !pack_->empty()) {
    KEEL_ASSIGN_OR_RETURN(std::string index, pack_->Publish(store_->packs_->dir()));
    KEEL_RETURN_IF_ERROR(env->SyncDir(store_->packs_->dir()));
    store_->packs_->Add(index, pack_->entries());
    pack_.reset();
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
  if (!Exists(env_, src)) {
    KEEL_ASSIGN_OR_RETURN(std::optional<PackSet::Location> at, FindPacked(digest));
    if (!at) return NotFoundError("object " + digest.ToString() + " is not in the store (" + src + ")");
    KEEL_ASSIGN_OR_RETURN(std::string data, packs_->Read(*at));
    if (HashBytes(data) != digest) {
      return CorruptError("object " + digest.ToString() + " (in " + at->pack_path +
                          ") is damaged; run `keel data verify`");
    }
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_->CreateFile(dest, executable ? 0755 : 0644));
    KEEL_RETURN_IF_ERROR(file->Append(data));
    KEEL_RETURN_IF_ERROR(file->Close());
    return CloneMethod::kCopy;
  }
  KEEL_ASSIGN_OR_RETURN(CloneMethod method, Clone(src, dest, executable));
  // What was restored is checked, not trusted: a damaged object must fail
  // the checkout rather than pass for the version.
  Result<HashedFile> written = HashFile(env_, dest);
  if (!written.ok() || written->digest != digest) {
    (void)env_->RemoveFile(dest);
    if (!written.ok()) return written.status();
    return CorruptError("object " + digest.ToString() + " (" + src + ") is damaged; run `keel data verify`");
  }
  if (method != CloneMethod::kHardlink) KEEL_RETURN_IF_ERROR(env_->SetMode(dest, executable ? 0755 : 0644));
  return method;
}

Status ObjectStore::ForEach(const std::function<Status(const Digest&, const FileInfo&)>& fn) const {
  std::unordered_set<Digest, DigestHash> loose;
  KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> fanout, env_->ListDir(root_));
  for (const DirEntry& dir : fanout) {
    if (dir.info.type != FileType::kDirectory || !IsHexName(dir.name, 2)) continue;
    KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> objects, env_->ListDir(JoinPath(root_, dir.name)));
    for (const DirEntry& obj : objects) {
      if (obj.info.type != FileType::kRegular || !IsHexName(obj.name, 62)) continue;
      KEEL_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(dir.name + obj.name, "object name"));
      KEEL_RETURN_IF_ERROR(fn(digest, obj.info));
      loose.insert(digest);
    }
  }
  return packs_->ForEach([&](const PackEntry& e) -> Status {
    if (loose.count(e.digest)) return Status::Ok();
    FileInfo info;
    info.type = FileType::kRegular;
    info.size = e.size;
    info.mode = kObjectMode;
    return fn(e.digest, info);
  });
}

Status ObjectStore::Verify(const Digest& digest) const {
  std::string path = PathOf(digest);
  Result<HashedFile> hashed = HashFile(env_, path);
  if (!hashed.ok() && hashed.status().code() == StatusCode::kNotFound) {
    KEEL_ASSIGN_OR_RETURN(std::optional<PackSet::Location> at, FindPacked(digest));
    if (!at) return NotFoundError("object " + digest.ToString() + " is not in the store (" + path + ")");
    KEEL_ASSIGN_OR_RETURN(std::string data, packs_->Read(*at));
    Digest actual = HashBytes(data);
    if (actual != digest) {
      return CorruptError("object " + digest.ToString() + " (in " + at->pack_path + " at offset " +
                          std::to_string(at->offset) + ") has content " + actual.ToString());
    }
    return Status::Ok();
  }
  if (!hashed.ok()) return hashed.status();
  if (hashed->digest != digest) {
    return CorruptError("object " + digest.ToString() + " (" + path + ") has content " +
                        hashed->digest.ToString());
  }
  return Status::Ok();
}

Status ObjectStore::RemoveObjects(const std::vector<Digest>& digests) {
  std::unordered_set<Digest, DigestHash> doomed(digests.begin(), digests.end());
  for (const Digest& d : digests) {
    Status s = env_->RemoveFile(PathOf(d));
    if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
  }
  // Packs: keep the live entries of a partly dead pack in a new pack, then
  // delete the old one (index first, so no index ever names a missing pack).
  std::vector<std::string> dead_packs;
  PackWriter survivors(env_, root_ + "/tmp");
  KEEL_RETURN_IF_ERROR(packs_->ForEachPack([&](const std::string& index, const std::vector<PackEntry>& entries) {
    size_t dying = std::count_if(entries.begin(), entries.end(),
                                 [&](const PackEntry& e) { return doomed.count(e.digest) > 0; });
    if (dying == 0) return Status::Ok();
    for (const PackEntry& e : entries) {
      if (doomed.count(e.digest)) continue;
      KEEL_ASSIGN_OR_RETURN(std::string data,
                            packs_->Read(PackSet::Location{PackPathOf(index), e.offset, e.size}));
      KEEL_RETURN_IF_ERROR(survivors.Append(e.digest, data));
    }
    dead_packs.push_back(index);
    return Status::Ok();
  }));
  if (!survivors.empty()) {
    KEEL_RETURN_IF_ERROR(survivors.Seal());
    KEEL_RETURN_IF_ERROR(survivors.Publish(packs_->dir()).status());
    KEEL_RETURN_IF_ERROR(env_->SyncDir(packs_->dir()));
  }
  for (const std::string& index : dead_packs) {
    KEEL_RETURN_IF_ERROR(env_->RemoveFile(index));
    KEEL_RETURN_IF_ERROR(env_->RemoveFile(PackPathOf(index)));
  }
  if (!dead_packs.empty()) KEEL_RETURN_IF_ERROR(env_->SyncDir(packs_->dir()));
  return packs_->Reload();
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
  // A pack whose index never appeared was not published.
  Result<std::vector<DirEntry>> packs = env_->ListDir(packs_->dir());
  if (!packs.ok()) return packs.status().code() == StatusCode::kNotFound ? Result<size_t>(removed) : packs.status();
  for (const DirEntry& e : *packs) {
    std::string path = JoinPath(packs_->dir(), e.name);
    bool orphan = EndsWith(e.name, ".pack") &&
                  !Exists(env_, path.substr(0, path.size() - 5) + ".idx");
    if (!orphan) continue;
    KEEL_RETURN_IF_ERROR(env_->RemoveFile(path));
    ++removed;
  }
  return removed;
}

}  // namespace keel
