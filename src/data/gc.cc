// `keel gc`: deleting objects that nothing reaches.
#include <algorithm>
#include <unordered_set>

#include "cas/manifest.h"
#include "core/paths.h"
#include "data/data_service.h"

namespace keel {
namespace {

// What a root is known to be: a folder's manifest (from a pointer or a
// record of kind dir), a file, or unknown (a digest in keel.lock).
enum class RootKind { kFile, kDir, kUnknown };

struct Root {
  Digest digest;
  RootKind kind;
  std::string source;  // for errors: the pointer, "keel.lock" or "metadata"
};

constexpr std::string_view kSha256Prefix = "sha256:";

// Every "sha256:<64 hex>" in a text file such as keel.lock.
std::vector<Digest> DigestsIn(std::string_view text) {
  std::vector<Digest> out;
  for (size_t at = text.find(kSha256Prefix); at != std::string_view::npos;
       at = text.find(kSha256Prefix, at + 1)) {
    Result<Digest> d = Digest::Parse(text.substr(at + kSha256Prefix.size(), 64), "keel.lock");
    if (d.ok()) out.push_back(*d);
  }
  return out;
}

}  // namespace

Status DataService::CollectRoots(GcScope scope, const std::vector<Digest>& keep, std::vector<Digest>* reachable) {
  Env* env = project_->env();
  std::vector<Root> roots;
  for (const Digest& d : keep) roots.push_back({d, RootKind::kFile, "record"});
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> pointers, FindPointers());
  for (const std::string& p : pointers) {
    Result<Pointer> pointer = LoadPointer(p);
    // A pointer keel cannot read might name anything: deleting would be a guess.
    if (!pointer.ok()) return pointer.status().WithPrefix("gc stopped");
    roots.push_back({pointer->digest, pointer->kind == DataKind::kDir ? RootKind::kDir : RootKind::kFile, p});
  }
  Result<std::string> lock = ReadFileToString(env, project_->Abs("keel.lock"));
  if (lock.ok()) {
    for (const Digest& d : DigestsIn(*lock)) roots.push_back({d, RootKind::kUnknown, "keel.lock"});
  } else if (lock.status().code() != StatusCode::kNotFound) {
    return lock.status();
  }
  if (scope == GcScope::kAllVersions) {
    // Run-cache entries (docs/format/pipeline.md) keep the outs of earlier
    // pipeline runs restorable, as data versions keep earlier data.
    std::string runs = JoinPath(project_->keel_dir(), "cache/runs");
    Result<std::vector<DirEntry>> buckets = env->ListDir(runs);
    if (!buckets.ok() && buckets.status().code() != StatusCode::kNotFound) return buckets.status();
    for (const DirEntry& bucket : buckets.ok() ? *buckets : std::vector<DirEntry>()) {
      KEEL_ASSIGN_OR_RETURN(std::vector<DirEntry> entries, env->ListDir(JoinPath(runs, bucket.name)));
      for (const DirEntry& e : entries) {
        if (IsTempName(e.name)) continue;
        KEEL_ASSIGN_OR_RETURN(std::string text, ReadFileToString(env, JoinPath(JoinPath(runs, bucket.name), e.name)));
        for (const Digest& d : DigestsIn(text)) roots.push_back({d, RootKind::kUnknown, "run-cache"});
      }
    }
    KEEL_ASSIGN_OR_RETURN(std::vector<DataVersion> versions, project_->metadata().ListDataVersions(""));
    for (const DataVersion& v : versions) {
      roots.push_back({v.digest, v.kind == "dir" ? RootKind::kDir : RootKind::kFile,
                       "data version " + std::to_string(v.id) + " of " + v.path});
    }
  }
  std::unordered_set<Digest, DigestHash> seen;
  for (const Root& root : roots) {
    if (!seen.insert(root.digest).second) continue;
    reachable->push_back(root.digest);
    if (root.kind == RootKind::kFile) continue;
    if (root.kind == RootKind::kUnknown && !project_->objects().StartsWith(root.digest, kManifestHeader)) continue;
    Result<std::string> text = project_->objects().ReadVerified(root.digest);
    if (!text.ok()) {
      // A folder whose manifest is gone or damaged: its files cannot be
      // told apart from garbage, so keep everything.
      if (root.kind == RootKind::kDir && text.status().code() != StatusCode::kNotFound) {
        return text.status().WithPrefix("gc stopped: " + root.source + " (run `keel data verify`)");
      }
      continue;
    }
    Result<Manifest> manifest = Manifest::Parse(*text, root.digest.ToString());
    if (!manifest.ok()) {
      if (root.kind == RootKind::kDir) {
        return manifest.status().WithPrefix("gc stopped: " + root.source + " (run `keel data verify`)");
      }
      continue;  // a keel.lock digest of a file that merely starts like a manifest
    }
    for (const ManifestEntry& e : manifest->entries()) {
      if (e.mode != EntryMode::kEmptyDir && seen.insert(e.digest).second) reachable->push_back(e.digest);
    }
  }
  return Status::Ok();
}

Result<GcReport> DataService::Gc(GcMode mode, GcScope scope, const KeepFn& keep_fn) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kExclusive));
  std::vector<Digest> keep;
  if (keep_fn) {
    KEEL_ASSIGN_OR_RETURN(keep, keep_fn());
  }
  ObjectStore& objects = project_->objects();
  std::vector<Digest> roots;
  KEEL_RETURN_IF_ERROR(CollectRoots(scope, keep, &roots));
  std::unordered_set<Digest, DigestHash> reachable(roots.begin(), roots.end());
  GcReport report;
  KEEL_RETURN_IF_ERROR(objects.ForEach([&](const Digest& d, const FileInfo& info) {
    if (reachable.count(d)) {
      ++report.kept;
    } else {
      report.unreachable.emplace_back(d, info.size);
      report.bytes += info.size;
    }
    return Status::Ok();
  }));
  std::sort(report.unreachable.begin(), report.unreachable.end());
  if (mode == GcMode::kDryRun) return report;
  std::vector<Digest> doomed;
  for (const auto& [digest, size] : report.unreachable) doomed.push_back(digest);
  KEEL_RETURN_IF_ERROR(objects.RemoveObjects(doomed));
  KEEL_ASSIGN_OR_RETURN(report.temporaries, objects.RemoveTemporaries());
  return report;
}

}  // namespace keel
