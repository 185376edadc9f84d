#include "registry/reproduce.h"

#include <stdlib.h>

#include "core/git.h"
#include "core/paths.h"
#include "store/model_store.h"
#include "store/run_store.h"
#include "tracking/tracking_service.h"

namespace keel {
namespace {

std::string VersionName(const ModelVersion& v) { return v.model + "@" + std::to_string(v.version); }

// A fresh folder beside the project (so the shared object store and the
// rebuilt outs stay on one filesystem).
Result<std::string> MakeWorkDir(const Project& project, const ModelVersion& v) {
  std::string pattern = JoinPath(project.keel_dir(), "reproduce-" + v.model + "-" + std::to_string(v.version) +
                                                         "-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return ErrnoError(pattern, errno);
  return std::string(buf.data());
}

// Makes `dir` a keel project whose object store is `project`'s.
Status ShareObjectStore(Env* env, Project* project, const std::string& dir) {
  KEEL_ASSIGN_OR_RETURN(Project::InitResult init, Project::Init(env, dir));
  (void)init;
  std::string objects = JoinPath(JoinPath(dir, kKeelDir), "objects");
  KEEL_RETURN_IF_ERROR(RemoveTree(env, objects));
  return env->CreateSymlink(project->objects().root(), objects);
}

// The rebuilt folder's lineage, read exactly as registering it would.
Result<ModelVersion> RebuiltVersion(Env* env, const std::string& dir, const ModelVersion& original) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Project> project, Project::Open(env, dir));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<RunStore> runs, OpenProjectRunStore(*project));
  TrackingService tracking(project.get(), runs.get());
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ModelStore> models, OpenProjectModelStore(*project));
  RegistryService registry(project.get(), models.get(), &tracking);
  RegisterRequest request;
  request.name = original.model;
  request.from = original.source;
  request.cwd = project->root();
  request.run = "1";  // the one run of the fresh project
  request.flavor = original.flavor;
  request.created_by = "keel model reproduce";
  KEEL_ASSIGN_OR_RETURN(RegisterResult result, registry.Register(request));
  return result.version;
}

}  // namespace

Result<ReproduceReport> Reproduce(Project* project, RegistryService* registry, std::string_view id,
                                  const KeelRunner& run_keel, KeepWorkDir keep) {
  Env* env = project->env();
  ReproduceReport report;
  KEEL_ASSIGN_OR_RETURN(report.original, registry->Resolve(id));
  const ModelVersion& v = report.original;
  if (v.git_commit.empty()) {
    return FailedPreconditionError(VersionName(v) + " has no git commit (registered outside git or before the "
                                   "first commit), so it cannot be rebuilt");
  }
  if (v.source.empty()) return FailedPreconditionError(VersionName(v) + " records no source folder");
  if (v.git_dirty) {
    report.warnings.push_back(VersionName(v) + " was registered from a work tree with uncommitted changes; "
                              "the rebuild uses commit " + v.git_commit.substr(0, 12) + " alone");
  }
  KEEL_ASSIGN_OR_RETURN(GitInfo git, DiscoverGit(project->root()));
  KEEL_ASSIGN_OR_RETURN(report.work_dir, MakeWorkDir(*project, v));
  Result<ModelVersion> rebuilt = [&]() -> Result<ModelVersion> {
    KEEL_RETURN_IF_ERROR(ExportRevision(git.work_tree, v.git_commit, report.work_dir));
    // The project may live below the repository's root.
    std::string rel = RelativePath(git.work_tree, project->root());
    std::string dir = rel.empty() || rel == "." ? report.work_dir : JoinPath(report.work_dir, rel);
    KEEL_RETURN_IF_ERROR(ShareObjectStore(env, project, dir));
    KEEL_RETURN_IF_ERROR(run_keel(dir, {"data", "checkout"}).WithPrefix("restoring the data of " +
                                                                        v.git_commit.substr(0, 12)));
    KEEL_RETURN_IF_ERROR(run_keel(dir, {"run", "--force", "--no-run-cache"}).WithPrefix("rerunning the pipeline"));
    return RebuiltVersion(env, dir, v);
  }();
  if (keep == KeepWorkDir::kNo) {
    Status removed = RemoveTree(env, report.work_dir);
    if (!removed.ok()) report.warnings.push_back("could not remove " + report.work_dir + ": " + removed.message());
  }
  if (!rebuilt.ok()) return rebuilt.status();
  report.rebuilt = std::move(*rebuilt);
  // Data version numbers belong to the project: the rebuild's fresh one
  // has none, so the same path with the same hash is the same version.
  for (ModelInput& in : report.rebuilt.inputs) {
    for (const ModelInput& was : v.inputs) {
      if (in.path == was.path && in.hash == was.hash) in.data_version = was.data_version;
    }
  }
  report.identical = v.digest == report.rebuilt.digest;
  report.model_file_identical = !v.model_hash.empty() && v.model_hash == report.rebuilt.model_hash;
  if (!report.identical) {
    KEEL_ASSIGN_OR_RETURN(Manifest before, registry->Files(v));
    KEEL_ASSIGN_OR_RETURN(Manifest after, registry->Files(report.rebuilt));
    for (const ManifestEntry& e : before.entries()) {
      const ManifestEntry* now = after.Find(e.path);
      if (now == nullptr || !(*now == e)) report.differing_files.push_back(e.path);
    }
    for (const ManifestEntry& e : after.entries()) {
      if (before.Find(e.path) == nullptr) report.differing_files.push_back(e.path);
    }
  }
  for (ComparisonRow& row : CompareVersions({v, report.rebuilt})) {
    if (row.differs && row.section != "attributes") report.differences.push_back(std::move(row));
  }
  return report;
}

}  // namespace keel
