// `keel gc`: deleting objects that nothing reaches.
#include <algorithm>
#include <unordered_set>

#include "cas/manifest.h"

#include "core/paths.h"
#include "data/data_service.h"

namespace keel {
namespace {

constexpr std::string_view kManifestMagic = "keel-manifest 1\n";
constexpr std::string_view kSha256Prefix = "sha256:";

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Every "sha256:<64 hex>" in a text file such as keel.lock.
std::vector<Digest> DigestsIn(std::string_view text) {
  std::vector<Digest> out;
  for (size_t at = text.find(kSha256Prefix); at != std::string_view::npos;
       at = text.find(kSha256Prefix, at + 1)) {
    std::string_view hex = text.substr(at + kSha256Prefix.size(), 64);
    if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), IsHex)) continue;
    Result<Digest> d = Digest::Parse(hex, "keel.lock");
    if (d.ok()) out.push_back(*d);
  }
  return out;
}

// Manifests are always stored loose (Placement::kLoose), so a packed object
// is never one.
bool LooksLikeManifest(Env* env, const std::string& path) {
  Result<std::unique_ptr<ReadableFile>> file = env->OpenForRead(path);
  if (!file.ok()) return false;
  char buf[kManifestMagic.size()];
  Result<size_t> n = (*file)->Read(buf, sizeof buf);
  return n.ok() && *n == sizeof buf && std::string_view(buf, sizeof buf) == kManifestMagic;
}

}  // namespace

Status DataService::CollectRoots(GcScope scope, std::vector<Digest>* roots) {
  Env* env = project_->env();
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> pointers, FindPointers());
  for (const std::string& p : pointers) {
    Result<Pointer> pointer = LoadPointer(p);
    // A pointer keel cannot read might name anything: deleting would be a guess.
    if (!pointer.ok()) return pointer.status().WithPrefix("gc stopped");
    roots->push_back(pointer->digest);
  }
  Result<std::string> lock = ReadFileToString(env, project_->Abs("keel.lock"));
  if (lock.ok()) {
    for (const Digest& d : DigestsIn(*lock)) roots->push_back(d);
  } else if (lock.status().code() != StatusCode::kNotFound) {
    return lock.status();
  }
  if (scope == GcScope::kAllVersions) {
    KEEL_RETURN_IF_ERROR(project_->metadata().ForEachReferencedObject([&](const Digest& d) {
      roots->push_back(d);
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

Result<GcReport> DataService::Gc(GcMode mode, GcScope scope) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kExclusive));
  Env* env = project_->env();
  ObjectStore& objects = project_->objects();
  std::vector<Digest> roots;
  KEEL_RETURN_IF_ERROR(CollectRoots(scope, &roots));
  std::unordered_set<Digest, DigestHash> reachable;
  for (const Digest& root : roots) {
    if (!reachable.insert(root).second) continue;
    std::string path = objects.PathOf(root);
    if (!LooksLikeManifest(env, path)) continue;
    Result<std::string> text = objects.ReadVerified(root);
    if (!text.ok()) return text.status().WithPrefix("gc stopped (run `keel data verify`)");
    KEEL_ASSIGN_OR_RETURN(Manifest manifest, Manifest::Parse(*text, root.ToString()));
    for (const ManifestEntry& e : manifest.entries()) {
      if (e.mode != EntryMode::kEmptyDir) reachable.insert(e.digest);
    }
  }
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
