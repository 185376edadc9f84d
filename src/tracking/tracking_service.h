// Experiment tracking over a project's runs: `keel runs ...`, `keel metrics
// history` and `keel exp list`. The CLI and the server call this; SQL stays
// in store/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"
#include "data/project.h"
#include "store/run_store.h"
#include "tracking/run_recorder.h"

namespace keel {

struct ListRunsRequest {
  std::string where;  // a filter expression; empty: every run
  std::string sort;   // a sort key ("-metrics.auc"); empty: newest first
  size_t limit = 0;   // 0: no limit
  std::vector<std::string> experiments;  // empty: every experiment
  bool include_deleted = false;
};

// One line of `keel runs compare`: a param, metric, input or attribute with
// its value in each run (nullopt where a run has none).
struct ComparisonRow {
  std::string section;  // "attributes", "params", "metrics", "inputs"
  std::string key;
  std::vector<std::optional<std::string>> values;
  bool differs = false;
};

class TrackingService {
 public:
  // `project` and `store` must outlive the service.
  TrackingService(Project* project, RunStore* store) : project_(project), store_(store) {}

  // Starts recording a `keel run` (see RunRecorder), after marking the
  // runs of killed keel processes as such. `next` may be null.
  Result<std::unique_ptr<RunRecorder>> StartRecording(RunObserver* next, RecorderOptions options);

  // Marks as killed every run of this host still marked running whose keel
  // process is gone (its lock file is free); returns their ids.
  Result<std::vector<int64_t>> ReapKilledRuns();

  // Runs as `request` says. A filter or sort naming a metric, param or tag
  // that no run has is an invalid argument with the closest name.
  Result<std::vector<RunRecord>> ListRuns(const ListRunsRequest& request);
  // One run, with inputs, stages, artifacts and environment. `id` is the
  // text the user typed; a bad or unknown id is an error naming it.
  Result<RunRecord> GetRun(std::string_view id);
  // For each of `run`'s inputs, the id of the `keel data` version with the
  // same path and hash (0 where there is none): the run's data lineage.
  Result<std::vector<int64_t>> DataVersionsOf(const RunRecord& run);
  // Every value of metric `name` of run `id`, by step. Not found names the
  // metrics the run has.
  Result<std::vector<SeriesPoint>> MetricHistory(std::string_view id, const std::string& name);
  // The stored output of a stage of a run.
  Result<std::string> StageLog(std::string_view id, const std::string& stage);

  Status SetTag(std::string_view id, const std::string& key, const std::string& value);
  Status RemoveTag(std::string_view id, const std::string& key);
  Status SetNote(std::string_view id, const std::string& note);
  Status Delete(std::string_view id);
  Status Restore(std::string_view id);
  Result<int64_t> PurgeDeleted();
  // Every object a run refers to (stages' output, artifacts): gc keeps them.
  Result<std::vector<Digest>> ReferencedObjects();
  Result<std::vector<ExperimentSummary>> Experiments();

 private:
  Result<int64_t> ParseId(std::string_view id);
  Status CheckKnown(RunField field, const std::string& key, std::string_view flag);

  Project* project_;
  RunStore* store_;
};

// The rows of `keel runs compare`: attributes (status, commit, dirty),
// then params, metrics and inputs (stage:role:path → hash), each sorted by
// key, with `differs` set where the values are not all equal.
std::vector<ComparisonRow> CompareRuns(const std::vector<RunRecord>& runs);

// The "params.KEY" and "metrics.KEY" columns whose values are not the same
// in all `runs` (all columns when there is only one run), params first.
std::vector<std::string> DifferingColumns(const std::vector<RunRecord>& runs);

// A metric value as `keel` prints it: shortest round-trip form, "NaN",
// "Infinity", "-Infinity".
std::string FormatMetric(double value);

// Opens the run store of `project`.
Result<std::unique_ptr<RunStore>> OpenProjectRunStore(const Project& project);

}  // namespace keel
