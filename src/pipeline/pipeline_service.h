// Pipelines: `keel run`, `keel status`, `keel dag`, `keel checkout` and
// `keel params diff` over a Project's keel.yaml, params files and keel.lock.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/progress.h"
#include "data/data_service.h"
#include "data/project.h"
#include "pipeline/dag.h"
#include "pipeline/lock_file.h"
#include "pipeline/params.h"
#include "pipeline/pipeline_file.h"
#include "pipeline/stage_executor.h"

namespace keel {

enum class StageAction {
  kRan,
  kRestored,     // outs restored from the run-cache; the commands did not run
  kSkipped,      // up to date
  kFailed,
  kNotRun,       // a stage it needs failed, or the run was interrupted first
  kInterrupted,  // ended by an interrupt while running
  kWouldRun,     // --dry-run
  kWouldRestore,
  kMayRun,  // --dry-run: runs if an upstream stage that would run changes its outs
};
std::string_view StageActionName(StageAction action);  // "ran", "would_run", ...

struct StageReport {
  std::string name;
  StageAction action = StageAction::kSkipped;
  std::vector<std::string> reasons;  // why it is not up to date
  int exit_code = 0;                 // kFailed by a command: its exit status
  std::string error;                 // kFailed: what went wrong
};

// Receives progress of a run as it happens, from several threads at once.
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void StageStarting(const StageReport& report) = 0;  // action and reasons decided
  virtual void StageOutput(const std::string& stage, std::string_view line) = 0;
  virtual void StageDone(const StageReport& report) = 0;
  // Just before StageDone of a stage that ran, was restored or skipped:
  // what it used and produced (as keel.lock records it), and the values of
  // its metrics files by key. For a stage whose commands failed: what it
  // used, without outs or metrics.
  virtual void StageRecorded(const LockedStage& stage, const std::map<std::string, double>& metrics) {
    (void)stage;
    (void)metrics;
  }
};

enum class Selection { kWithUpstream, kWithDownstream };

struct RunOptions {
  std::vector<std::string> targets;  // stage names; empty: every stage
  Selection selection = Selection::kWithUpstream;
  bool force = false;          // run every selected stage
  bool dry_run = false;        // decide, change nothing
  bool use_run_cache = true;
  size_t jobs = 1;
  // Variables added to the environment of a stage's commands, if set.
  std::function<std::vector<std::pair<std::string, std::string>>(const StageSpec& stage)> stage_env;
};

struct RunReport {
  std::vector<StageReport> stages;  // the selected stages in topological order
  bool interrupted = false;
};

struct StageStatus {
  std::string name;
  bool up_to_date = true;
  std::vector<std::string> reasons;
};

struct DagNode {
  std::string name;
  std::vector<std::string> upstream;  // sorted
};

struct PipelineCheckout {
  std::vector<CheckoutResult> outs;
  std::vector<CheckoutResult> data;
};

struct ParamChange {
  std::string file;
  std::string key;
  std::optional<std::string> old_value;  // absent at the revision
  std::optional<std::string> new_value;  // absent now
};

class PipelineService {
 public:
  // `project`, `progress` and `observer` (may be null) must outlive the service.
  PipelineService(Project* project, ProgressSink* progress, RunObserver* observer);
  ~PipelineService();

  // Runs the selected stages (see RunOptions) in dependency order. A stage
  // that failed is reported in the result, not as an error; an error means
  // keel itself could not go on (an invalid keel.yaml, a failed write).
  // keel.lock is rewritten after every stage that ran or was restored.
  Result<RunReport> Run(const RunOptions& options);

  // Ends the commands of a running Run with `signal` (SIGKILL after a
  // grace period) and starts no more stages; Run then returns with
  // `interrupted` set. Thread-safe; returns once the commands are gone.
  void Interrupt(int signal);

  // Which stages are stale and why, in topological order.
  Result<std::vector<StageStatus>> StageStatuses();

  // The graph, in topological order.
  Result<std::vector<DagNode>> Graph();

  // Restores every stored out that keel.lock names and every pointer's data.
  Result<PipelineCheckout> Checkout(CheckoutMode mode);

  // Params of every params file keel.yaml uses, now against git revision
  // `rev` (the file as committed there; absent files count as empty).
  Result<std::vector<ParamChange>> ParamsDiff(const std::string& rev);

 private:
  // keel.yaml with its graph, the params files it uses and keel.lock.
  struct Loaded {
    PipelineSpec spec;
    Dag dag;
    std::map<std::string, ParamsFile> params;  // by project path
    LockFile lock;
    // lstat of the deps no stage produces, taken while checking that they
    // exist (so hashing them needs no second stat).
    std::unordered_map<std::string, FileInfo> source_stats;
  };

  Result<std::unique_ptr<Loaded>> Load();
  // keel.yaml's spec, from .keel/cache/keel.yaml.parsed when the text is
  // the one parsed last time.
  Result<PipelineSpec> ParseCached(const std::string& text);
  // The stage as it is now: definition, params and hashed deps. Dep paths
  // absent from the workspace go to `missing`.
  Result<LockedStage> Current(const Loaded& loaded, size_t stage, std::vector<std::string>* missing);
  // Reads the file-state cache entries of every dep and out at once.
  Status PreloadStates(const Loaded& loaded);
  // Reasons from the definition and deps, then from the outs on disk.
  Result<std::vector<std::string>> Explain(const Loaded& loaded, const LockedStage& now,
                                           const std::vector<std::string>& missing);
  // The run-cache entry for `now`'s signature whose stored outs are all in
  // the store, if there is one.
  Result<std::optional<LockedStage>> FindRun(const LockedStage& now);
  Status RestoreOuts(const LockedStage& entry);

  // One stage of Run, in two steps. DecideStage (on the scheduler's
  // thread) skips or restores it, or fails it before it runs, returning
  // whether it succeeded; nullopt means its commands must run, which
  // ExecuteStage does on a thread of its own. `now` carries the stage
  // between them.
  std::optional<bool> DecideStage(Loaded* loaded, size_t stage, const RunOptions& options, LockedStage* now,
                                  StageReport* report);
  bool ExecuteStage(Loaded* loaded, size_t stage, const RunOptions& options, LockedStage* now,
                    StageReport* report);
  bool FailStage(const Status& status, StageReport* report);
  // Decides (under mu_) what happens to a stage: sets report->action; for
  // kRan, the outs are removed and their folders made ready.
  Status Prepare(Loaded* loaded, size_t stage, const RunOptions& options, LockedStage* now, StageReport* report);
  Status RunCommands(const Loaded& loaded, size_t stage, const RunOptions& options, StageReport* report);
  // The values of a stage's metrics files (JSON or YAML) by key; fails a
  // stage whose metrics files are not mappings of numbers, naming the file
  // and key. Files that are missing are left out.
  Result<std::map<std::string, double>> ReadMetrics(const StageSpec& stage);
  // Tells the observer what a finished stage recorded.
  void ReportRecorded(const Loaded& loaded, size_t stage, const LockedStage& now);
  // Stores the outs of a stage whose commands succeeded, then records it.
  Status Finish(Loaded* loaded, LockedStage* now);
  // Writes the run-cache entry and keel.lock. REQUIRES: mu_ held.
  Status RecordRun(Loaded* loaded, const LockedStage& done);
  // What a dry run or `keel status` sees, stage by stage, without running.
  Result<std::vector<StageReport>> Evaluate(const Loaded& loaded, const std::vector<bool>& selected,
                                            const RunOptions& options);

  Project* project_;
  ProgressSink* progress_;
  RunObserver* observer_;
  DataService data_;
  ChildGroup children_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> commands_started_{false};  // by this service, ever
  // Held while a stage reads or writes the workspace, the store, the state
  // cache or keel.lock; never while its commands run.
  std::mutex mu_;
};

}  // namespace keel
