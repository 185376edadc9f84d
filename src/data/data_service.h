// Data versioning: `keel data add/status/checkout/verify` and `keel gc`
// over a Project's object store, metadata and pointer files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/progress.h"
#include "data/pointer.h"
#include "data/project.h"

namespace keel {

struct AddResult {
  std::string path;          // project path of the data
  std::string pointer_path;  // project path of PATH.keel
  Pointer pointer;
  uint64_t objects_stored = 0;  // new objects (0 when all were stored before)
  int64_t version_id = 0;
};

enum class DataState {
  kUnchanged,      // the workspace holds exactly what the pointer names
  kModified,       // it differs
  kNotCheckedOut,  // absent from the workspace, present in the store
  kMissing,        // absent from the workspace and from the store
};
std::string_view DataStateName(DataState state);

struct FileChange {
  enum class Kind { kAdded, kModified, kDeleted };
  Kind kind;
  std::string path;  // relative to the data's folder
};
std::string_view FileChangeKindName(FileChange::Kind kind);

struct DataStatus {
  std::string pointer_path;  // project path of the pointer file
  std::string path;          // project path of the data
  Pointer pointer;
  DataState state = DataState::kUnchanged;
  std::vector<FileChange> changes;  // folders only
};

struct CheckoutResult {
  std::string path;
  bool changed = false;
  uint64_t written = 0;  // files (re)created
  uint64_t removed = 0;  // files the version did not have
};

struct VerifyReport {
  uint64_t objects = 0;
  uint64_t bytes = 0;
  std::vector<std::string> problems;  // one line each: corrupt or missing objects
};

struct GcReport {
  std::vector<std::pair<Digest, uint64_t>> unreachable;  // removed, or listed on a dry run
  uint64_t bytes = 0;
  uint64_t temporaries = 0;
  uint64_t kept = 0;
};

enum class CheckoutMode { kSafe, kForce };
enum class GcMode { kDelete, kDryRun };
// Which metadata rows keep objects alive: all of them (every data version
// ever added stays restorable), or only the workspace's pointers.
enum class GcScope { kAllVersions, kWorkspace };

class DataService {
 public:
  // `project` and `progress` must outlive the service.
  DataService(Project* project, ProgressSink* progress) : project_(project), progress_(progress) {}

  // Stores each path (file or folder, relative to `cwd`) and writes its
  // PATH.keel pointer and .gitignore entry. Each path is stored completely
  // before its pointer is written, so a failure or kill leaves the old
  // pointer (or none) in place.
  Result<std::vector<AddResult>> Add(const std::string& cwd, const std::vector<std::string>& paths);

  // The state of each pointer given (PATH or PATH.keel, relative to cwd), or
  // of every pointer in the project when `pointers` is empty.
  Result<std::vector<DataStatus>> StatusOf(const std::string& cwd,
                                           const std::vector<std::string>& pointers);

  // Makes the workspace hold exactly what each pointer names: rewrites what
  // differs and removes files the version does not have. In safe mode,
  // refuses (before changing anything) to overwrite or remove workspace
  // files whose content is not in the store.
  Result<std::vector<CheckoutResult>> Checkout(const std::string& cwd,
                                               const std::vector<std::string>& pointers,
                                               CheckoutMode mode);

  // Rehashes every object; reports corrupt objects and objects that a
  // pointer or folder manifest names but the store lacks.
  Result<VerifyReport> Verify();

  // Objects other services refer to (runs' output and artifacts), asked
  // for once gc holds the project exclusively.
  using KeepFn = std::function<Result<std::vector<Digest>>()>;

  // Deletes objects no pointer file, keel.lock or metadata row reaches, nor
  // `keep` names, and leftovers of interrupted adds.
  Result<GcReport> Gc(GcMode mode, GcScope scope, const KeepFn& keep = nullptr);

  // The recorded versions of the data at `path` (relative to cwd; every
  // path when empty), newest first, with whether each is still stored.
  Result<std::vector<std::pair<DataVersion, bool>>> Log(const std::string& cwd, const std::string& path);

  // Project paths of every pointer file in the workspace, sorted.
  Result<std::vector<std::string>> FindPointers();

  // For callers that track paths without pointer files (pipeline outs and
  // deps). Each takes a project path and expects the caller to hold
  // project->Lock(kShared) and to Flush the state cache afterwards.
  //
  // What a pointer to the file or folder at `path` would hold now (its
  // `path` field is the base name); stores nothing. Not found if absent;
  // invalid argument for a link or special file.
  Result<Pointer> HashPath(const std::string& path);
  // The same, for a caller that has just stat-ed the path (`info`: lstat).
  Result<Pointer> HashPath(const std::string& path, const FileInfo& info);
  // Stores the file or folder at `path` (as `keel data add` would) and
  // returns what its pointer would hold; writes no pointer and no record.
  Result<Pointer> StorePath(const std::string& path);
  // Makes the workspace hold `pointer`'s data at `path`, as Checkout does.
  Result<CheckoutResult> RestorePath(const std::string& path, const Pointer& pointer, CheckoutMode mode);

 private:
  Result<AddResult> AddOne(const std::string& path);
  // The path's lstat if it can be added (exists, a file or folder, UTF-8
  // name, not a pointer, not inside tracked data or behind a link).
  Result<FileInfo> CheckAddable(const std::string& path);
  // Checks that `path` can be added, stores it and fills result->pointer
  // and objects_stored: the part of an add that StorePath shares.
  Status Store(const std::string& path, AddResult* result);
  // Store the data and fill result->pointer and objects_stored.
  Status StoreFile(const std::string& path, const FileInfo& info, AddResult* result);
  Status StoreFolder(const std::string& path, AddResult* result);
  Result<std::string> ResolvePointer(const std::string& cwd, const std::string& arg);
  // The pointers named by `args` (PATH or PATH.keel), or all when empty.
  Result<std::vector<std::string>> ResolvePointers(const std::string& cwd,
                                                   const std::vector<std::string>& args);
  Result<Pointer> LoadPointer(const std::string& pointer_path);
  Result<DataStatus> StatusOne(const std::string& pointer_path);
  Result<CheckoutResult> CheckoutOne(const std::string& pointer_path, CheckoutMode mode);
  Status CheckNoTrackedAncestor(const std::string& path);
  // Every object reachable from pointers, keel.lock and (for kAllVersions)
  // metadata records, manifests expanded. Fails rather than guess when a
  // pointer or a folder's manifest cannot be read.
  Status CollectRoots(GcScope scope, const std::vector<Digest>& keep, std::vector<Digest>* reachable);

  Project* project_;
  ProgressSink* progress_;
};

// Where the data of a pointer lives: "data/a.csv.keel" → "data/a.csv".
std::string DataPathOf(const std::string& pointer_path, const Pointer& pointer);

}  // namespace keel
