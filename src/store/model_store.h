// The model registry's records: models, their immutable versions with
// lineage, and aliases (docs/format/registry.md). One interface, chosen by
// URI scheme like RunStore; "sqlite://PATH" shares the project's database
// file and its schema migrations.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keel {

// A data input of a model version: a dep of a stage of the run that
// produced it, with the `keel data` version it is (0: none).
struct ModelInput {
  std::string stage;
  std::string path;
  std::string hash;  // "sha256:..."
  uint64_t size = 0;
  uint64_t files = 0;
  int64_t data_version = 0;

  friend bool operator==(const ModelInput&, const ModelInput&) = default;
};

// One version of a model, as registered. Never changes once created,
// except for being deleted.
struct ModelVersion {
  std::string model;
  int64_t version = 0;        // assigned by the store: 1, 2, ... never reused
  std::string digest;         // "sha256:..." of the folder's manifest object
  uint64_t size = 0;          // bytes of all files
  uint64_t files = 0;         // file count
  std::string model_file;     // the model file inside the folder ("model.json"); empty if none
  std::string model_hash;     // its "sha256:..."; empty if none
  std::string flavor;         // "xgboost", "files", ...
  std::string description;
  std::string source;         // the folder it was registered from, a project path
  int64_t run_id = 0;         // the run that produced it; 0: none
  std::string git_commit;     // empty outside git or before the first commit
  bool git_dirty = false;
  std::map<std::string, std::string> params;
  std::map<std::string, double> metrics;  // NaN is stored and read back as NaN
  std::vector<ModelInput> inputs;         // in the order given
  std::string signature;                  // JSON text; empty if none
  std::string created_by;
  int64_t created_at_ms = 0;  // Unix time
  // Filled when read: the aliases pointing at this version, sorted.
  std::vector<std::string> aliases;
};

struct ModelSummary {
  std::string name;
  int64_t versions = 0;        // live (not deleted) versions
  int64_t latest = 0;          // the highest live version; 0 if none
  std::map<std::string, int64_t> aliases;  // alias → version
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;   // the last version added, deleted or alias changed
};

// A version found by digest.
struct VersionRef {
  std::string model;
  int64_t version = 0;
  std::string digest;
};

class ModelStore {
 public:
  virtual ~ModelStore() = default;

  // Adds `v` as the next version of model `v.model` (created if new): one
  // more than the highest version it ever had, deleted ones included.
  // Returns that number. `v.version` and `v.aliases` are ignored.
  virtual Result<int64_t> CreateVersion(const ModelVersion& v) = 0;

  // Every model, by name, including models whose versions were all deleted.
  virtual Result<std::vector<ModelSummary>> ListModels() = 0;
  // One model; not found (naming it) if it was never registered.
  virtual Result<ModelSummary> GetModel(const std::string& name) = 0;
  // The live versions of `name`, lowest first, with lineage and aliases.
  // Empty for an unknown model.
  virtual Result<std::vector<ModelVersion>> ListVersions(const std::string& name) = 0;
  // One live version; not found (naming it) when it does not exist or was
  // deleted.
  virtual Result<ModelVersion> GetVersion(const std::string& name, int64_t version) = 0;
  // Every version number of `name` ever created, with whether it was
  // deleted, lowest first.
  virtual Result<std::vector<std::pair<int64_t, bool>>> VersionNumbers(const std::string& name) = 0;
  // Live versions whose digest starts with "sha256:" + `hex_prefix`
  // (lower-case hex), by model then version.
  virtual Result<std::vector<VersionRef>> FindByDigest(std::string_view hex_prefix) = 0;

  // Points `alias` of model `name` at `version` (which must be live: not
  // found otherwise). Returns the version it pointed at before, if any.
  virtual Result<std::optional<int64_t>> SetAlias(const std::string& name, const std::string& alias,
                                                   int64_t version, int64_t now_ms) = 0;
  // Removes an alias; returns the version it pointed at. Not found if absent.
  virtual Result<int64_t> RemoveAlias(const std::string& name, const std::string& alias, int64_t now_ms) = 0;

  // Marks a live version deleted: gone from lists and lookups, its number
  // never reused. Failed precondition if an alias points at it; not found
  // if it is not live.
  virtual Status DeleteVersion(const std::string& name, int64_t version, int64_t now_ms) = 0;

  // The digests of every live version: what gc must keep (with the
  // manifests' entries).
  virtual Result<std::vector<std::string>> LiveDigests() = 0;
};

// Opens the store named by `uri` ("sqlite://PATH", created and migrated on
// first use). Unknown schemes are an invalid argument naming the URI.
Result<std::unique_ptr<ModelStore>> OpenModelStore(std::string_view uri);

}  // namespace keel
