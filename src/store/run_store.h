// Tracked runs: what each `keel run` did and how it scored
// (docs/format/tracking.md). One interface, chosen by URI scheme like
// MetadataStore; "sqlite://PATH" is the embedded default and shares the
// database file (and its schema migrations) with it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"

namespace keel {

enum class RunStatus { kRunning, kFinished, kFailed, kKilled };
std::string_view RunStatusName(RunStatus status);  // "running", ...
Result<RunStatus> ParseRunStatus(std::string_view name);

struct RunInfo {
  int64_t id = 0;  // assigned by the store
  std::string experiment;
  RunStatus status = RunStatus::kRunning;
  int64_t start_ns = 0;  // Unix time
  int64_t end_ns = 0;    // 0 while running
  std::string git_commit;  // empty outside git or before the first commit
  bool git_dirty = false;
  std::string diff_hash;  // SHA-256 of the uncommitted difference; empty if clean
  std::string host;
  int64_t pid = 0;
  std::string command;  // the command line that started the run
  std::string note;
  bool deleted = false;
};

struct MetricPoint {
  std::string key;
  double value = 0;
  int64_t step = 0;
  int64_t timestamp_ms = 0;
};

// One value of a metric's series.
struct SeriesPoint {
  int64_t step = 0;
  int64_t timestamp_ms = 0;
  double value = 0;
};

// A dep or out of a stage, as keel.lock records it.
struct RunInput {
  std::string stage;
  std::string role;  // "dep" or "out"
  std::string path;
  std::string hash;  // "sha256:..."
  uint64_t size = 0;
  uint64_t files = 0;
};

struct RunStage {
  std::string name;
  std::string action;  // StageActionName: "ran", "skipped", ...
  int exit_code = 0;
  std::string error;
  std::string log_hash;  // the stage's combined output in the object store; empty if none
  uint64_t log_size = 0;
};

struct RunArtifact {
  std::string stage;
  std::string name;
  std::string hash;
  uint64_t size = 0;
};

// A run with its latest metric values; `full` adds inputs, stages,
// artifacts and the environment.
struct RunRecord {
  RunInfo info;
  std::map<std::string, std::string> params;
  std::map<std::string, MetricPoint> metrics;  // the latest value of each
  std::map<std::string, std::string> tags;
  std::vector<RunInput> inputs;
  std::vector<RunStage> stages;
  std::vector<RunArtifact> artifacts;
  std::map<std::string, std::string> environment;
};

// Filters (`keel runs list --where`), already checked by the caller.
enum class RunField { kAttribute, kParam, kMetric, kTag };
enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike };  // like: case-sensitive
using FilterValue = std::variant<double, std::string>;

struct RunCondition {
  RunField field = RunField::kAttribute;
  // The param, metric or tag name, or the attribute: "id", "experiment",
  // "status", "git_commit", "dirty", "host", "start_time", "end_time" (ms).
  std::string key;
  CompareOp op = CompareOp::kEq;
  FilterValue value;
};

struct RunSort {
  RunField field = RunField::kAttribute;
  std::string key = "id";
  bool descending = true;
};

struct RunQuery {
  std::vector<std::string> experiments;  // empty: every experiment
  std::vector<RunCondition> where;       // all must hold
  RunSort sort;                          // runs without the key come last
  size_t limit = 0;                      // 0: no limit
  bool include_deleted = false;
};

struct ExperimentSummary {
  std::string name;
  int64_t runs = 0;  // not deleted
  int64_t last_start_ns = 0;
};

class RunStore {
 public:
  virtual ~RunStore() = default;

  // Records a new running run (its experiment created if new) with its
  // environment; returns its id.
  virtual Result<int64_t> CreateRun(const RunInfo& info, const std::map<std::string, std::string>& environment) = 0;
  // Sets the final status and end time. Not found for an unknown id.
  virtual Status EndRun(int64_t run, RunStatus status, int64_t end_ns) = 0;

  // Each call is one transaction; an unknown run is not found, naming it.
  // A param or tag given again replaces its value; metric points are
  // appended. Not thread-safe: one thread at a time per store.
  virtual Status LogParams(int64_t run, const std::map<std::string, std::string>& params) = 0;
  virtual Status LogMetrics(int64_t run, std::span<const MetricPoint> points) = 0;
  virtual Status SetTags(int64_t run, const std::map<std::string, std::string>& tags) = 0;
  // Metrics, params and tags in one transaction: all stored, or none.
  virtual Status LogBatch(int64_t run, std::span<const MetricPoint> metrics,
                          const std::map<std::string, std::string>& params,
                          const std::map<std::string, std::string>& tags) = 0;
  virtual Status RemoveTag(int64_t run, const std::string& key) = 0;
  virtual Status SetNote(int64_t run, const std::string& note) = 0;
  virtual Status RecordStage(int64_t run, const RunStage& stage, std::span<const RunInput> inputs) = 0;
  virtual Status RecordArtifact(int64_t run, const RunArtifact& artifact) = 0;

  // One run; not found names the id. Deleted runs are found too.
  virtual Result<RunRecord> GetRun(int64_t run) = 0;
  // Runs matching `query` with params, latest metrics and tags.
  virtual Result<std::vector<RunRecord>> ListRuns(const RunQuery& query) = 0;
  // Every value of metric `key` of `run`, by step then timestamp.
  virtual Result<std::vector<SeriesPoint>> MetricHistory(int64_t run, const std::string& key) = 0;
  // The names used by any run, sorted: param, metric or tag names.
  virtual Result<std::vector<std::string>> Keys(RunField field) = 0;
  // Whether any run has a param, metric or tag named `key` (an index
  // lookup, where Keys reads them all).
  virtual Result<bool> HasKey(RunField field, const std::string& key) = 0;
  virtual Result<std::vector<ExperimentSummary>> ListExperiments() = 0;
  // Runs still marked running, on any host.
  virtual Result<std::vector<RunInfo>> RunningRuns() = 0;

  // Soft delete: hidden from lists until restored or purged.
  virtual Status DeleteRun(int64_t run) = 0;
  virtual Status RestoreRun(int64_t run) = 0;
  // Removes deleted runs for good; returns how many.
  virtual Result<int64_t> PurgeDeletedRuns() = 0;
  // Every object hash a run refers to (stage logs, artifacts), for gc.
  virtual Result<std::vector<std::string>> ReferencedObjects() = 0;
};

// "3.40.1": the SQLite keel runs with.
std::string SqliteLibraryVersion();

// Opens the store named by `uri` ("sqlite://PATH", created and migrated on
// first use). Unknown schemes are an invalid argument naming the URI.
Result<std::unique_ptr<RunStore>> OpenRunStore(std::string_view uri);

}  // namespace keel
