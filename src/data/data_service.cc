#include "data/data_service.h"

#include <algorithm>

#include "core/parallel.h"
#include "core/paths.h"
#include "data/tree.h"

namespace keel {

std::string_view DataStateName(DataState state) {
  switch (state) {
    case DataState::kUnchanged: return "unchanged";
    case DataState::kModified: return "modified";
    case DataState::kNotCheckedOut: return "not checked out";
    case DataState::kMissing: return "missing";
  }
  return "unknown";
}

std::string_view FileChangeKindName(FileChange::Kind kind) {
  switch (kind) {
    case FileChange::Kind::kAdded: return "added";
    case FileChange::Kind::kModified: return "modified";
    case FileChange::Kind::kDeleted: return "deleted";
  }
  return "unknown";
}

std::string DataPathOf(const std::string& pointer_path, const Pointer& pointer) {
  return JoinPath(DirName(pointer_path), pointer.path);
}

namespace {

// A folder with at least this many entries packs its small files.
constexpr size_t kPackFromFiles = 64;

// Merge-walks two sorted manifests into the changes from `stored` to `now`.
std::vector<FileChange> DiffManifests(const Manifest& stored, const Manifest& now) {
  std::vector<FileChange> changes;
  const auto& a = stored.entries();
  const auto& b = now.entries();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      changes.push_back({FileChange::Kind::kDeleted, a[i++].path});
    } else if (i == a.size() || b[j].path < a[i].path) {
      changes.push_back({FileChange::Kind::kAdded, b[j++].path});
    } else {
      if (!(a[i] == b[j])) changes.push_back({FileChange::Kind::kModified, a[i].path});
      ++i;
      ++j;
    }
  }
  return changes;
}

}  // namespace

Result<std::vector<AddResult>> DataService::Add(const std::string& cwd,
                                                const std::vector<std::string>& paths) {
  if (paths.empty()) return InvalidArgumentError("keel data add: no path given");
  std::vector<std::string> project_paths;
  for (const std::string& p : paths) {
    KEEL_ASSIGN_OR_RETURN(std::string rel, project_->ToProjectPath(cwd, p));
    project_paths.push_back(std::move(rel));
  }
  // Every path must exist before any is added: a typo in the last path
  // must not leave the first ones half-reported.
  for (size_t i = 0; i < project_paths.size(); ++i) {
    if (!Exists(project_->env(), project_->Abs(project_paths[i]))) {
      return NotFoundError(paths[i] + ": no such file or folder (nothing was added)");
    }
  }
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  std::vector<AddResult> results;
  for (const std::string& rel : project_paths) {
    Result<AddResult> added = AddOne(rel);
    // The cache entries of work done so far stay useful even after a failure.
    Status flushed = project_->state().Flush();
    if (!added.ok()) return added.status();
    KEEL_RETURN_IF_ERROR(flushed);
    results.push_back(std::move(*added));
  }
  return results;
}

Status DataService::CheckNoTrackedAncestor(const std::string& path) {
  Env* env = project_->env();
  for (std::string dir = DirName(path); !dir.empty(); dir = DirName(dir)) {
    Result<FileInfo> info = env->Stat(project_->Abs(dir));
    if (!info.ok() && info.status().code() == StatusCode::kNotFound) continue;
    if (!info.ok()) return info.status();
    if (info->type == FileType::kSymlink) {
      return InvalidArgumentError(path + ": lies under the symbolic link " + dir +
                                  "; keel never follows links out of the project");
    }
    if (Exists(env, project_->Abs(dir) + std::string(kPointerSuffix))) {
      return FailedPreconditionError(path + ": lies inside " + dir + ", which " + dir +
                                     std::string(kPointerSuffix) + " already tracks; add " + dir +
                                     " again instead");
    }
  }
  return Status::Ok();
}

Result<FileInfo> DataService::CheckAddable(const std::string& path) {
  if (EndsWith(path, kPointerSuffix)) {
    return InvalidArgumentError(path + ": is a pointer file; add the data it names instead");
  }
  if (!IsValidUtf8(BaseName(path))) {
    // The name goes into a YAML pointer file, which is UTF-8.
    return InvalidArgumentError(path + ": the name is not valid UTF-8; rename it to track it "
                                "(names inside a tracked folder may be any bytes)");
  }
  Result<FileInfo> info = project_->env()->Stat(project_->Abs(path));
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return NotFoundError(path + ": no such file or folder");
    return info.status();
  }
  KEEL_RETURN_IF_ERROR(CheckNoTrackedAncestor(path));
  if (info->type == FileType::kSymlink) {
    return InvalidArgumentError(path + ": is a symbolic link; add the file or folder it points to");
  }
  if (info->type == FileType::kOther) {
    return InvalidArgumentError(path + ": not a regular file or folder; keel cannot store it");
  }
  return info;
}

Status DataService::StoreFile(const std::string& path, const FileInfo& info, AddResult* result) {
  std::string abs = project_->Abs(path);
  TreeScanner scanner(project_->env(), &project_->state(), progress_);
  Pointer& pointer = result->pointer;
  KEEL_ASSIGN_OR_RETURN(pointer.digest, scanner.HashFile(abs, path, info));
  pointer.kind = DataKind::kFile;
  pointer.size = info.size;
  pointer.files = 1;
  pointer.executable = (info.mode & 0100) != 0;
  ObjectStore::Batch batch(&project_->objects());
  KEEL_RETURN_IF_ERROR(batch.AddFile(abs, pointer.digest, info));
  result->objects_stored = batch.staged();
  return batch.Commit();
}

Status DataService::StoreFolder(const std::string& path, AddResult* result) {
  std::string abs = project_->Abs(path);
  TreeScanner scanner(project_->env(), &project_->state(), progress_);
  KEEL_ASSIGN_OR_RETURN(std::vector<ScannedEntry> entries, scanner.Walk(abs, path));
  for (const ScannedEntry& e : entries) {
    if (e.entry.mode != EntryMode::kEmptyDir && EndsWith(e.entry.path, kPointerSuffix)) {
      return FailedPreconditionError(JoinPath(path, e.entry.path) + ": a pointer inside " + path +
                                     " (its data is tracked on its own); remove it or add " + path +
                                     "'s parts one by one");
    }
  }
  // Many small files go into one pack rather than one file each, straight
  // from the buffer they were hashed from.
  Packing packing = entries.size() >= kPackFromFiles ? Packing::kSmallObjects : Packing::kLoose;
  ObjectStore::Batch batch(&project_->objects(), packing);
  ContentSink sink;
  if (packing == Packing::kSmallObjects) {
    sink = [&batch](ScannedEntry& e, std::string_view data) {
      e.stored = true;
      return batch.AddBytes(data, e.entry.digest);
    };
  }
  KEEL_RETURN_IF_ERROR(scanner.HashMissing(path, &entries, kPackMaxObject, sink));
  ScannedTree tree = TreeScanner::Finish(std::move(entries));
  progress_->Begin("storing " + path, tree.entries.size());
  Status stored = ParallelFor(tree.entries.size(), WorkerThreads(), [&](size_t i) -> Status {
    const ScannedEntry& e = tree.entries[i];
    progress_->Advance(1);
    if (e.entry.mode == EntryMode::kSymlink) return batch.AddBytes(e.link_target, e.entry.digest);
    if (e.entry.mode == EntryMode::kEmptyDir || e.stored) return Status::Ok();
    return batch.AddFile(e.abs, e.entry.digest, e.info);
  });
  progress_->End();
  KEEL_RETURN_IF_ERROR(stored);
  std::string manifest = tree.manifest.Serialize();
  Pointer& pointer = result->pointer;
  pointer.kind = DataKind::kDir;
  pointer.digest = HashBytes(manifest);
  pointer.size = tree.manifest.TotalSize();
  pointer.files = tree.manifest.FileCount();
  // Manifests stay loose (docs/format/cas.md): they are read whole, often.
  KEEL_RETURN_IF_ERROR(batch.AddBytes(manifest, pointer.digest, Placement::kLoose));
  result->objects_stored = batch.staged();
  return batch.Commit();
}

Result<Pointer> DataService::HashPath(const std::string& path) {
  Env* env = project_->env();
  std::string abs = project_->Abs(path);
  Result<FileInfo> info = env->Stat(abs);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return NotFoundError(path + ": no such file or folder");
    return info.status();
  }
  return HashPath(path, *info);
}

Result<Pointer> DataService::HashPath(const std::string& path, const FileInfo& info) {
  Env* env = project_->env();
  std::string abs = project_->Abs(path);
  Pointer p;
  p.path = BaseName(path);
  TreeScanner scanner(env, &project_->state(), progress_);
  if (info.type == FileType::kRegular) {
    KEEL_ASSIGN_OR_RETURN(p.digest, scanner.HashFile(abs, path, info));
    p.size = info.size;
    p.files = 1;
    p.executable = (info.mode & 0100) != 0;
    return p;
  }
  if (info.type != FileType::kDirectory) {
    return InvalidArgumentError(path + ": not a regular file or folder");
  }
  KEEL_ASSIGN_OR_RETURN(ScannedTree tree, scanner.ScanFolder(abs, path));
  p.kind = DataKind::kDir;
  p.digest = HashBytes(tree.manifest.Serialize());
  p.size = tree.manifest.TotalSize();
  p.files = tree.manifest.FileCount();
  return p;
}

Status DataService::Store(const std::string& path, AddResult* result) {
  KEEL_ASSIGN_OR_RETURN(FileInfo info, CheckAddable(path));
  result->pointer.path = BaseName(path);
  if (info.type == FileType::kRegular) return StoreFile(path, info, result);
  return StoreFolder(path, result);
}

Result<Pointer> DataService::StorePath(const std::string& path) {
  AddResult result;
  KEEL_RETURN_IF_ERROR(Store(path, &result));
  return result.pointer;
}

Result<AddResult> DataService::AddOne(const std::string& path) {
  AddResult result;
  result.path = path;
  result.pointer_path = path + std::string(kPointerSuffix);
  KEEL_RETURN_IF_ERROR(Store(path, &result));
  // Everything is stored before the record and the pointer name it.
  Env* env = project_->env();
  const Pointer& pointer = result.pointer;
  DataVersion version;
  version.path = path;
  version.kind = std::string(DataKindName(pointer.kind));
  version.digest = pointer.digest;
  version.size = pointer.size;
  version.files = pointer.files;
  version.created_at_ns = env->NowNanos();
  KEEL_ASSIGN_OR_RETURN(GitInfo git, project_->git());
  version.git_commit = git.head_commit;
  KEEL_ASSIGN_OR_RETURN(result.version_id, project_->metadata().RecordDataVersion(version));
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, project_->Abs(result.pointer_path), pointer.Serialize()));
  KEEL_RETURN_IF_ERROR(AddGitIgnoreEntry(env, project_->Abs(DirName(path)), BaseName(path),
                                         JoinPath(project_->keel_dir(), "gitignore.lock")));
  return result;
}

Result<std::string> DataService::ResolvePointer(const std::string& cwd, const std::string& arg) {
  KEEL_ASSIGN_OR_RETURN(std::string rel, project_->ToProjectPath(cwd, arg));
  if (!EndsWith(rel, kPointerSuffix)) rel += kPointerSuffix;
  Result<FileInfo> info = project_->env()->Stat(project_->Abs(rel));
  if (!info.ok() || info->type != FileType::kRegular) {
    return NotFoundError(arg + ": no pointer file " + rel + " (track data with `keel data add`)");
  }
  return rel;
}

Result<std::vector<std::string>> DataService::ResolvePointers(const std::string& cwd,
                                                              const std::vector<std::string>& args) {
  if (args.empty()) return FindPointers();
  std::vector<std::string> out;
  for (const std::string& arg : args) {
    KEEL_ASSIGN_OR_RETURN(std::string rel, ResolvePointer(cwd, arg));
    out.push_back(std::move(rel));
  }
  return out;
}

Result<Pointer> DataService::LoadPointer(const std::string& pointer_path) {
  KEEL_ASSIGN_OR_RETURN(std::string text,
                        ReadFileToString(project_->env(), project_->Abs(pointer_path)));
  return Pointer::Parse(text, pointer_path);
}

Result<std::vector<std::pair<DataVersion, bool>>> DataService::Log(const std::string& cwd,
                                                                   const std::string& path) {
  std::string rel;
  if (!path.empty()) {
    KEEL_ASSIGN_OR_RETURN(rel, project_->ToProjectPath(cwd, path));
    if (EndsWith(rel, kPointerSuffix)) rel.resize(rel.size() - kPointerSuffix.size());
  }
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  KEEL_ASSIGN_OR_RETURN(std::vector<DataVersion> versions, project_->metadata().ListDataVersions(rel));
  if (!path.empty() && versions.empty()) {
    return NotFoundError(path + ": no recorded versions (track it with `keel data add`)");
  }
  std::vector<std::pair<DataVersion, bool>> out;
  for (DataVersion& v : versions) {
    bool stored = project_->objects().Has(v.digest);
    out.emplace_back(std::move(v), stored);
  }
  return out;
}

Result<std::vector<std::string>> DataService::FindPointers() {
  Env* env = project_->env();
  std::vector<std::string> found;
  std::vector<std::string> stack = {""};
  while (!stack.empty()) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, env->ListDir(project_->Abs(dir)));
    std::vector<std::string> tracked;
    for (const DirEntry& e : entries) {
      if (e.info.type == FileType::kRegular && EndsWith(e.name, kPointerSuffix) && !IsTempName(e.name)) {
        found.push_back(JoinPath(dir, e.name));
        tracked.push_back(e.name.substr(0, e.name.size() - kPointerSuffix.size()));
      }
    }
    for (const DirEntry& e : entries) {
      if (e.info.type != FileType::kDirectory) continue;
      if (dir.empty() && (e.name == kKeelDir || e.name == ".git")) continue;
      // A tracked folder is data, not part of the project's tree of pointers.
      if (std::find(tracked.begin(), tracked.end(), e.name) != tracked.end()) continue;
      stack.push_back(JoinPath(dir, e.name));
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

Result<std::vector<DataStatus>> DataService::StatusOf(const std::string& cwd,
                                                    const std::vector<std::string>& pointers) {
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> pointer_paths, ResolvePointers(cwd, pointers));
  // Shared with adds and checkouts; excludes gc, which may rewrite packs.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  std::vector<DataStatus> out;
  for (const std::string& p : pointer_paths) {
    KEEL_ASSIGN_OR_RETURN(DataStatus status, StatusOne(p));
    out.push_back(std::move(status));
  }
  KEEL_RETURN_IF_ERROR(project_->state().Flush());
  return out;
}

Result<DataStatus> DataService::StatusOne(const std::string& pointer_path) {
  Env* env = project_->env();
  DataStatus status;
  status.pointer_path = pointer_path;
  KEEL_ASSIGN_OR_RETURN(status.pointer, LoadPointer(pointer_path));
  status.path = DataPathOf(pointer_path, status.pointer);
  std::string abs = project_->Abs(status.path);
  Result<FileInfo> info = env->Stat(abs);
  if (!info.ok()) {
    if (info.status().code() != StatusCode::kNotFound) return info.status();
    status.state = project_->objects().Has(status.pointer.digest) ? DataState::kNotCheckedOut
                                                                   : DataState::kMissing;
    return status;
  }
  TreeScanner scanner(env, &project_->state(), progress_);
  const Pointer& p = status.pointer;
  if (p.kind == DataKind::kFile) {
    if (info->type != FileType::kRegular) {
      status.state = DataState::kModified;
      return status;
    }
    KEEL_ASSIGN_OR_RETURN(Digest digest, scanner.HashFile(abs, status.path, *info));
    bool same = digest == p.digest && ((info->mode & 0100) != 0) == p.executable;
    status.state = same ? DataState::kUnchanged : DataState::kModified;
    return status;
  }
  if (info->type != FileType::kDirectory) {
    status.state = DataState::kModified;
    return status;
  }
  KEEL_ASSIGN_OR_RETURN(ScannedTree tree, scanner.ScanFolder(abs, status.path));
  if (HashBytes(tree.manifest.Serialize()) == p.digest) return status;
  status.state = DataState::kModified;
  Result<std::string> stored = project_->objects().ReadVerified(p.digest);
  if (stored.ok()) {
    KEEL_ASSIGN_OR_RETURN(Manifest manifest, Manifest::Parse(*stored, p.digest.ToString()));
    status.changes = DiffManifests(manifest, tree.manifest);
  }
  return status;
}

Result<VerifyReport> DataService::Verify() {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  ObjectStore& objects = project_->objects();
  VerifyReport report;
  std::vector<std::pair<Digest, uint64_t>> all;
  uint64_t total = 0;
  KEEL_RETURN_IF_ERROR(objects.ForEach([&](const Digest& d, const FileInfo& info) {
    all.emplace_back(d, info.size);
    total += info.size;
    return Status::Ok();
  }));
  progress_->Begin("verifying", total);
  for (const auto& [d, size] : all) {
    Status s = objects.Verify(d);
    if (s.code() == StatusCode::kCorrupt) report.problems.push_back("corrupt: " + s.message());
    else KEEL_RETURN_IF_ERROR(s);
    report.bytes += size;
    progress_->Advance(size);
    ++report.objects;
  }
  progress_->End();
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> pointers, FindPointers());
  for (const std::string& p : pointers) {
    Result<Pointer> pointer = LoadPointer(p);
    if (!pointer.ok()) {
      report.problems.push_back("bad pointer: " + pointer.status().message());
      continue;
    }
    if (!objects.Has(pointer->digest)) {
      report.problems.push_back("missing: " + p + " names " + pointer->digest.ToString() +
                                ", which is not in the store");
      continue;
    }
    if (pointer->kind != DataKind::kDir) continue;
    Result<std::string> text = objects.ReadVerified(pointer->digest);
    if (!text.ok()) {
      if (text.status().code() != StatusCode::kCorrupt) {  // corrupt ones are reported above
        report.problems.push_back("unreadable: " + p + ": " + text.status().message());
      }
      continue;
    }
    Result<Manifest> manifest = Manifest::Parse(*text, pointer->digest.ToString());
    if (!manifest.ok()) {
      report.problems.push_back("corrupt: " + manifest.status().message());
      continue;
    }
    for (const ManifestEntry& e : manifest->entries()) {
      if (e.mode != EntryMode::kEmptyDir && !objects.Has(e.digest)) {
        report.problems.push_back("missing: " + JoinPath(DataPathOf(p, *pointer), e.path) + " (" +
                                  e.digest.ToString() + ") of " + p + " is not in the store");
      }
    }
  }
  return report;
}

}  // namespace keel
