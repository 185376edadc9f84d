// The model registry (keel's MLflow Model Registry): every model version,
// immutable, with its lineage — `keel model ...` and the `model:` section of
// keel.yaml (docs/format/registry.md). A version's files live in the
// project's object store as one folder manifest; its record in the
// ModelStore. The CLI and the server call this; SQL stays in store/.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cas/manifest.h"
#include "core/hash.h"
#include "data/project.h"
#include "pipeline/pipeline_file.h"
#include "registry/model_id.h"
#include "store/model_store.h"
#include "tracking/tracking_service.h"

namespace keel {

// Whether Register makes a new version when the folder's content is the
// latest version's: always (as MLflow does), or only if it changed (after
// `keel run`).
enum class RegisterPolicy { kAlways, kIfChanged };

struct RegisterRequest {
  std::string name;
  std::string from;  // the folder, relative to `cwd`; must lie in the project
  std::string cwd;
  // The run that produced the model, as typed; empty: none. `run_source`
  // names where it came from in errors ("--run", "KEEL_RUN_ID").
  std::string run;
  std::string run_source = "--run";
  std::string description;
  std::string flavor;  // empty: "xgboost" when the folder has model.json, else "files"
  std::string created_by;
  RegisterPolicy policy = RegisterPolicy::kAlways;
};

struct RegisterResult {
  ModelVersion version;      // the new version; for an unchanged one, the latest
  bool registered = false;   // false only under kIfChanged, when nothing changed
  int64_t identical_to = 0;  // a new version's content equals this earlier live version's (the highest); 0: none
};

// One entry of `model:` in keel.yaml after a `keel run`.
struct PipelineModelResult {
  std::string name;
  Status status;          // not OK: registering it failed
  RegisterResult result;  // when status is OK
};

struct AliasChange {
  std::string model;
  std::string alias;
  int64_t version = 0;
  std::optional<int64_t> previous;  // the version it pointed at before, if any
};

enum class OverwriteMode { kRefuse, kForce };

struct MaterializeResult {
  ModelVersion version;
  std::string dir;  // absolute
  uint64_t written = 0;
  uint64_t unchanged = 0;  // already there with the right content
};

class RegistryService {
 public:
  // `project`, `store` and `tracking` must outlive the service. Not
  // thread-safe: one thread at a time.
  RegistryService(Project* project, ModelStore* store, TrackingService* tracking)
      : project_(project), store_(store), tracking_(tracking) {}

  // Stores every file under the folder and records the next version of
  // the model with its lineage (docs/format/registry.md). Everything is
  // stored before the record names it, under the project's shared lock, so
  // gc never frees what a new version needs. Errors name the bad name,
  // folder, run or file (model/metrics.json: 'auc' is 'high', not a number).
  Result<RegisterResult> Register(const RegisterRequest& request);

  // Registers each of `models` (keel.yaml's `model:` section) with run
  // `run_id`, under kIfChanged. A model that cannot be registered has its
  // own status; the others are registered all the same.
  std::vector<PipelineModelResult> RegisterPipelineModels(const std::vector<ModelSpec>& models, int64_t run_id,
                                                          const std::string& created_by);

  // The live version a model ID names (model_id.h). Errors: invalid
  // argument for a malformed or ambiguous ID; not found naming the model
  // (with the closest name), the version (with the versions there are),
  // the alias (with the aliases there are) or the digest.
  Result<ModelVersion> Resolve(std::string_view id);
  Result<ModelVersion> Resolve(const ModelId& id);

  // Models with at least one live version, by name.
  Result<std::vector<ModelSummary>> ListModels();
  // The live versions of model `name`, lowest first. Not found for an
  // unknown model.
  Result<std::vector<ModelVersion>> ListVersions(const std::string& name);
  // The files of a version, from its manifest (verified against its digest).
  Result<Manifest> Files(const ModelVersion& version);

  // The content of the file at `path` in a version (e.g. "model.json"),
  // verified against its hash. Not found naming the version and the path.
  Result<std::string> ReadFile(const ModelVersion& version, std::string_view path);

  // Points `alias` at the version `id` names, moving it if it is set.
  Result<AliasChange> SetAlias(std::string_view id, const std::string& alias);
  // Removes an alias; returns what it pointed at.
  Result<AliasChange> RemoveAlias(const std::string& name, const std::string& alias);

  // What points at a version from outside the registry (deployments): one
  // description per use, e.g. "deploy.yaml environment 'production'".
  using VersionUsers = std::function<Result<std::vector<std::string>>(const ModelVersion&)>;

  // Deletes the version `id` names, if CheckDeletable allows: it vanishes
  // from lists and lookups, its number is never reused, and gc may free
  // its files. Returns it.
  Result<ModelVersion> Delete(std::string_view id, const VersionUsers& users = nullptr);
  // OK when nothing uses `version`: no alias, and nothing `users` (when
  // given) reports. Otherwise failed precondition naming every user; an
  // error of `users` is returned as it is, so nothing is deleted on doubt.
  Status CheckDeletable(const ModelVersion& version, const VersionUsers& users = nullptr);

  // Writes the files of the version `id` names into `dir` (relative to
  // `cwd`; created if missing), each checked against its hash. Files
  // already there with the right content are left; any other file in the
  // way is refused before anything is written (kRefuse) or replaced
  // (kForce). Files of `dir` the version does not have are left alone.
  Result<MaterializeResult> Materialize(std::string_view id, const std::string& cwd, const std::string& dir,
                                        OverwriteMode mode);

  // Every object a live version reaches (manifests and their files), for
  // gc. Fails rather than guess when a manifest is damaged.
  Result<std::vector<Digest>> ReferencedObjects();

 private:
  struct Content;

  // Unknown model: not found with the closest name.
  Result<ModelSummary> Model(const std::string& name);
  Result<ModelVersion> ResolveDigest(const ModelId& id);
  Result<ModelVersion> ResolveVersion(const std::string& name, int64_t version);
  Result<ModelVersion> ResolveAlias(const ModelId& id);
  // The project path of the folder to register; errors name `from`.
  Result<std::string> FolderToRegister(const std::string& cwd, const std::string& from);
  // Stores the folder and reads what its files say about the model.
  // REQUIRES: the project's shared lock held.
  Result<Content> StoreFolder(const std::string& path);
  Status ReadContentLineage(const Content& content, const std::string& flavor, ModelVersion* v,
                            bool* has_metrics);
  Status FillRunLineage(const RunRecord& run, const std::string& path, bool has_metrics, ModelVersion* v);
  Status FillWorkspaceLineage(ModelVersion* v);
  Result<RegisterResult> RegisterLocked(const RegisterRequest& request);
  // Puts one entry of a version at `target`, replacing what is there.
  Status WriteEntry(const ManifestEntry& e, const std::string& target);

  Project* project_;
  ModelStore* store_;
  TrackingService* tracking_;
};

// The rows of `keel model diff`: attributes (flavor, digest, model file,
// run, git commit, dirty), then params, metrics and data inputs (path →
// hash and data version), each sorted by key, `differs` set where the
// values are not all equal.
std::vector<ComparisonRow> CompareVersions(const std::vector<ModelVersion>& versions);

// The data inputs of a model produced by `run` from the folder `path`:
// the deps of the stages whose outs hold or lie in `path`, and of the
// stages upstream of them (whose outs those deps are); all deps of the
// run when no stage wrote `path`. `data_versions` is DataVersionsOf(run).
std::vector<ModelInput> LineageInputs(const RunRecord& run, const std::vector<int64_t>& data_versions,
                                      const std::string& path);

// The `model:` section of the project's keel.yaml (empty when it has
// none); errors are keel.yaml's parse errors.
Result<std::vector<ModelSpec>> ReadPipelineModels(const Project& project);

// Who registers: $USER, else the name of the process's uid, else "unknown".
std::string CurrentUserName();

// Opens the model store of `project`.
Result<std::unique_ptr<ModelStore>> OpenProjectModelStore(const Project& project);

}  // namespace keel
