// `keel model reproduce`: rebuilds a registered model version from its
// lineage alone (the recorded git commit, the data versions that commit's
// pointer files name, the pipeline) and says whether the result is
// bit-identical, or what differs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "registry/registry_service.h"

namespace keel {

// Runs keel with `args` in the project folder `dir` (a fresh process, so
// the rebuild shares nothing in memory with the caller); OK when it exits 0.
using KeelRunner = std::function<Status(const std::string& dir, const std::vector<std::string>& args)>;

struct ReproduceReport {
  ModelVersion original;
  ModelVersion rebuilt;  // its lineage, read as a registration would
  bool identical = false;  // every file of the folder is the same (equal digests)
  bool model_file_identical = false;  // the model file alone is the same
  std::vector<std::string> differing_files;  // added, removed or changed
  std::string work_dir;    // where it was rebuilt (removed unless kept)
  // Params, metrics and data inputs that differ (CompareVersions' rows).
  std::vector<ComparisonRow> differences;
  std::vector<std::string> warnings;  // e.g. registered from a dirty work tree
};

enum class KeepWorkDir { kNo, kYes };

// Exports the version's git commit into a temporary folder beside the
// project, shares the project's object store with it, restores the data
// the commit's pointer files name (`keel data checkout`), reruns the whole
// pipeline without any cache (`keel run --force --no-run-cache`), and
// compares the folder it wrote at the version's source path with the
// version. Errors: failed precondition when the version has no git commit
// or no source folder, or the rebuild fails (naming the step).
Result<ReproduceReport> Reproduce(Project* project, RegistryService* registry, std::string_view id,
                                  const KeelRunner& run_keel, KeepWorkDir keep);

}  // namespace keel
