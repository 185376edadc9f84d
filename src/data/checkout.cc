// `keel data checkout`: making the workspace hold exactly what a pointer
// names. Nothing in the workspace is written in place: every file is built
// beside its target and renamed over it, so a hardlinked file (which shares
// its inode with a stored object) is never modified.
#include <algorithm>
#include <set>

#include "core/parallel.h"
#include "core/paths.h"
#include "data/data_service.h"
#include "data/tree.h"

namespace keel {
namespace {

constexpr size_t kMaxListed = 5;

Status RefuseUnstored(const std::string& path, const std::vector<std::string>& unstored) {
  std::string list;
  for (size_t i = 0; i < unstored.size() && i < kMaxListed; ++i) {
    list += (i ? ", " : "") + unstored[i];
  }
  if (unstored.size() > kMaxListed) list += " and " + std::to_string(unstored.size() - kMaxListed) + " more";
  return FailedPreconditionError(path + ": checkout would overwrite or remove changes that are not in the store (" +
                                 list + "); `keel data add " + path + "` first, or use --force");
}

}  // namespace

class Checkouter {
 public:
  Checkouter(Project* project, ProgressSink* progress, CheckoutMode mode)
      : project_(project), env_(project->env()), progress_(progress), mode_(mode) {}

  Result<CheckoutResult> File(const std::string& path, const Pointer& p) {
    CheckoutResult result{path};
    std::string abs = project_->Abs(path);
    KEEL_RETURN_IF_ERROR(RequireObject(path, p.digest));
    Result<FileInfo> info = env_->Stat(abs);
    if (info.ok()) {
      if (info->type == FileType::kRegular) {
        TreeScanner scanner(env_, &project_->state(), progress_);
        KEEL_ASSIGN_OR_RETURN(Digest now, scanner.HashFile(abs, path, *info));
        if (now == p.digest && ((info->mode & 0100) != 0) == p.executable) return result;
        if (mode_ == CheckoutMode::kSafe && !project_->objects().Has(now)) {
          return RefuseUnstored(path, {path});
        }
      } else if (info->type == FileType::kDirectory) {
        KEEL_RETURN_IF_ERROR(CheckFolderStored(path, abs));
        KEEL_RETURN_IF_ERROR(RemoveTree(env_, abs));
      }
    } else if (info.status().code() != StatusCode::kNotFound) {
      return info.status();
    } else {
      KEEL_RETURN_IF_ERROR(CreateDirs(env_, DirName(abs)));
    }
    KEEL_RETURN_IF_ERROR(WriteFile(abs, p.digest, p.executable));
    result.changed = true;
    result.written = 1;
    return result;
  }

  Result<CheckoutResult> Folder(const std::string& path, const Pointer& p) {
    CheckoutResult result{path};
    std::string abs = project_->Abs(path);
    KEEL_RETURN_IF_ERROR(RequireObject(path, p.digest));
    KEEL_ASSIGN_OR_RETURN(std::string text, project_->objects().ReadVerified(p.digest));
    KEEL_ASSIGN_OR_RETURN(Manifest manifest, Manifest::Parse(text, p.digest.ToString()));
    for (const ManifestEntry& e : manifest.entries()) {
      if (e.mode != EntryMode::kEmptyDir) KEEL_RETURN_IF_ERROR(RequireObject(JoinPath(path, e.path), e.digest));
    }
    KEEL_ASSIGN_OR_RETURN(ScannedTree now, ScanWorkspace(path, abs));
    // Plan first, so that a refusal changes nothing.
    Plan plan = MakePlan(path, manifest, now);
    if (mode_ == CheckoutMode::kSafe && !plan.unstored.empty()) return RefuseUnstored(path, plan.unstored);
    KEEL_RETURN_IF_ERROR(CreateDirs(env_, abs));
    KEEL_RETURN_IF_ERROR(Remove(abs, manifest, plan.removals));
    KEEL_RETURN_IF_ERROR(Write(path, abs, plan.writes));
    result.removed = plan.removals.size();
    result.written = plan.writes.size();
    result.changed = result.written > 0 || result.removed > 0;
    return result;
  }

 private:
  struct Plan {
    std::vector<const ManifestEntry*> writes;
    std::vector<const ScannedEntry*> removals;
    std::vector<std::string> unstored;  // workspace files whose content is not stored
  };

  // The folder as it is now (empty if absent). A file where the folder goes
  // is removed, unless it holds unstored content in safe mode.
  Result<ScannedTree> ScanWorkspace(const std::string& path, const std::string& abs) {
    ScannedTree now;
    Result<FileInfo> info = env_->Stat(abs);
    if (info.ok() && info->type == FileType::kDirectory) {
      TreeScanner scanner(env_, &project_->state(), progress_);
      KEEL_ASSIGN_OR_RETURN(now, scanner.ScanFolder(abs, path));
      for (const std::string& leftover : scanner.leftovers()) KEEL_RETURN_IF_ERROR(env_->RemoveFile(leftover));
    } else if (info.ok()) {
      if (mode_ == CheckoutMode::kSafe && info->type == FileType::kRegular) {
        TreeScanner scanner(env_, &project_->state(), progress_);
        KEEL_ASSIGN_OR_RETURN(Digest d, scanner.HashFile(abs, path, *info));
        if (!project_->objects().Has(d)) return RefuseUnstored(path, {path});
      }
      KEEL_RETURN_IF_ERROR(env_->RemoveFile(abs));
    } else if (info.status().code() != StatusCode::kNotFound) {
      return info.status();
    }
    return now;
  }

  Plan MakePlan(const std::string& path, const Manifest& manifest, const ScannedTree& now) {
    Plan plan;
    for (const ManifestEntry& e : manifest.entries()) {
      const ScannedEntry* it = FindScanned(now, e.path);
      if (it != nullptr && it->entry == e) continue;
      plan.writes.push_back(&e);
      if (it == nullptr) continue;
      if (!IsStored(*it)) plan.unstored.push_back(JoinPath(path, e.path));
      // An empty folder where a file goes, or a file where an empty folder
      // goes, must be cleared first; a file over a file is just replaced.
      if ((it->entry.mode == EntryMode::kEmptyDir) != (e.mode == EntryMode::kEmptyDir)) {
        plan.removals.push_back(it);
      }
    }
    for (const ScannedEntry& s : now.entries) {
      if (manifest.Find(s.entry.path) != nullptr) continue;
      plan.removals.push_back(&s);
      if (!IsStored(s)) plan.unstored.push_back(JoinPath(path, s.entry.path));
    }
    return plan;
  }

  // Removes the entries, then the folders they leave empty that the
  // version does not have, deepest first.
  Status Remove(const std::string& abs, const Manifest& manifest,
                const std::vector<const ScannedEntry*>& removals) {
    std::set<std::string, std::greater<>> emptied;
    for (const ScannedEntry* s : removals) {
      KEEL_RETURN_IF_ERROR(s->entry.mode == EntryMode::kEmptyDir ? env_->RemoveDir(s->abs)
                                                                 : env_->RemoveFile(s->abs));
      for (std::string d = DirName(s->entry.path); !d.empty(); d = DirName(d)) emptied.insert(d);
    }
    for (const std::string& d : emptied) {
      if (NeededDir(manifest, d)) continue;
      Status s = env_->RemoveDir(JoinPath(abs, d));
      if (!s.ok() && s.code() != StatusCode::kNotFound && s.code() != StatusCode::kFailedPrecondition) return s;
    }
    return Status::Ok();
  }

  // Folders first (sorted, so parents before children), then the files,
  // a run of one folder per task so that threads do not contend for a folder.
  Status Write(const std::string& path, const std::string& abs,
               const std::vector<const ManifestEntry*>& writes) {
    std::set<std::string> dirs;
    std::vector<std::vector<const ManifestEntry*>> by_dir;
    std::string last_dir = "\n";
    for (const ManifestEntry* e : writes) {
      if (e->mode == EntryMode::kEmptyDir) {
        dirs.insert(e->path);
        continue;
      }
      std::string dir = DirName(e->path);
      if (dir != last_dir) by_dir.emplace_back();
      by_dir.back().push_back(e);
      dirs.insert(dir);
      last_dir = std::move(dir);
    }
    for (const std::string& dir : dirs) KEEL_RETURN_IF_ERROR(CreateDirs(env_, JoinPath(abs, dir)));
    progress_->Begin("checking out " + path, writes.size());
    Status written = ParallelFor(by_dir.size(), WorkerThreads(), [&](size_t i) -> Status {
      for (const ManifestEntry* e : by_dir[i]) {
        KEEL_RETURN_IF_ERROR(WriteEntry(JoinPath(abs, e->path), *e));
        progress_->Advance(1);
      }
      return Status::Ok();
    });
    progress_->End();
    return written;
  }


  Status RequireObject(const std::string& path, const Digest& digest) {
    if (project_->objects().Has(digest)) return Status::Ok();
    return NotFoundError(path + ": " + digest.ToString() + " is not in the store; it cannot be checked out");
  }

  bool IsStored(const ScannedEntry& s) {
    // Links and empty folders carry no data worth refusing over.
    return s.entry.mode != EntryMode::kFile && s.entry.mode != EntryMode::kExecutable
               ? true
               : project_->objects().Has(s.entry.digest);
  }

  static const ScannedEntry* FindScanned(const ScannedTree& tree, const std::string& path) {
    auto it = std::lower_bound(tree.entries.begin(), tree.entries.end(), path,
                               [](const ScannedEntry& e, const std::string& p) { return e.entry.path < p; });
    return it != tree.entries.end() && it->entry.path == path ? &*it : nullptr;
  }

  static bool NeededDir(const Manifest& manifest, const std::string& dir) {
    std::string prefix = dir + "/";
    auto it = std::lower_bound(manifest.entries().begin(), manifest.entries().end(), prefix,
                               [](const ManifestEntry& e, const std::string& p) { return e.path < p; });
    if (it != manifest.entries().end() && it->path.compare(0, prefix.size(), prefix) == 0) return true;
    const ManifestEntry* e = manifest.Find(dir);
    return e != nullptr && e->mode == EntryMode::kEmptyDir;
  }

  Status CheckFolderStored(const std::string& path, const std::string& abs) {
    if (mode_ == CheckoutMode::kForce) return Status::Ok();
    TreeScanner scanner(env_, &project_->state(), progress_);
    KEEL_ASSIGN_OR_RETURN(ScannedTree tree, scanner.ScanFolder(abs, path));
    std::vector<std::string> unstored;
    for (const ScannedEntry& s : tree.entries) {
      if (!IsStored(s)) unstored.push_back(JoinPath(path, s.entry.path));
    }
    return unstored.empty() ? Status::Ok() : RefuseUnstored(path, unstored);
  }

  // REQUIRES: the entry's folder exists.
  Status WriteEntry(const std::string& abs, const ManifestEntry& e) {
    if (e.mode == EntryMode::kSymlink) {
      KEEL_ASSIGN_OR_RETURN(std::string target, project_->objects().ReadVerified(e.digest));
      std::string temp = TempNameBeside(abs);
      KEEL_RETURN_IF_ERROR(env_->CreateSymlink(target, temp));
      return RenameOrDrop(temp, abs);
    }
    return WriteFile(abs, e.digest, e.mode == EntryMode::kExecutable);
  }

  Status WriteFile(const std::string& abs, const Digest& digest, bool executable) {
    std::string temp = TempNameBeside(abs);
    KEEL_RETURN_IF_ERROR(project_->objects().Materialize(digest, temp, executable).status());
    return RenameOrDrop(temp, abs);
  }

  Status RenameOrDrop(const std::string& temp, const std::string& abs) {
    Status s = env_->Rename(temp, abs);
    if (!s.ok() && s.code() == StatusCode::kFailedPrecondition) {
      // A folder the old version had where this version has a file (a
      // non-empty one that the removals did not clear).
      Result<FileInfo> existing = env_->Stat(abs);
      if (existing.ok() && existing->type == FileType::kDirectory) {
        KEEL_RETURN_IF_ERROR(RemoveTree(env_, abs));
        s = env_->Rename(temp, abs);
      }
    }
    if (!s.ok()) (void)env_->RemoveFile(temp);
    return s;
  }

  Project* project_;
  Env* env_;
  ProgressSink* progress_;
  CheckoutMode mode_;
};

Result<std::vector<CheckoutResult>> DataService::Checkout(const std::string& cwd,
                                                          const std::vector<std::string>& pointers,
                                                          CheckoutMode mode) {
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> pointer_paths, ResolvePointers(cwd, pointers));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  std::vector<CheckoutResult> results;
  for (const std::string& p : pointer_paths) {
    Result<CheckoutResult> one = CheckoutOne(p, mode);
    Status flushed = project_->state().Flush();
    if (!one.ok()) return one.status();
    KEEL_RETURN_IF_ERROR(flushed);
    results.push_back(std::move(*one));
  }
  return results;
}

Result<CheckoutResult> DataService::RestorePath(const std::string& path, const Pointer& pointer,
                                                CheckoutMode mode) {
  KEEL_RETURN_IF_ERROR(CheckNoTrackedAncestor(path));
  Checkouter checkouter(project_, progress_, mode);
  return pointer.kind == DataKind::kFile ? checkouter.File(path, pointer) : checkouter.Folder(path, pointer);
}

Result<CheckoutResult> DataService::CheckoutOne(const std::string& pointer_path, CheckoutMode mode) {
  KEEL_ASSIGN_OR_RETURN(Pointer pointer, LoadPointer(pointer_path));
  std::string path = DataPathOf(pointer_path, pointer);
  KEEL_RETURN_IF_ERROR(CheckNoTrackedAncestor(path));
  Checkouter checkouter(project_, progress_, mode);
  return pointer.kind == DataKind::kFile ? checkouter.File(path, pointer)
                                         : checkouter.Folder(path, pointer);
}

}  // namespace keel
