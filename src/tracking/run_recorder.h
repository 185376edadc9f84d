// Records one `keel run` as a tracked run (docs/format/tracking.md): a
// RunObserver that passes every event on to the next observer (the CLI's
// printer) and writes the run to the RunStore as it goes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/env.h"
#include "data/project.h"
#include "pipeline/pipeline_service.h"
#include "store/run_store.h"
#include "tracking/event_log.h"

namespace keel {

struct RecorderOptions {
  std::string experiment;  // empty: the project folder's name
  std::string command;     // the command line, as recorded
  std::string keel_version;
  int poll_ms = 200;  // how often logged events are read while stages run
};

// The lock file a running `keel run` holds: its run is killed when the file
// is not locked while the run is still marked running. Beside it, a folder
// of the same name without ".lock" holds the stages' event files.
std::string RunLockPath(const Project& project, const RunInfo& run);
std::string RunFilesPath(const Project& project, const RunInfo& run);

class RunRecorder final : public RunObserver {
 public:
  // Prepares to record; the run itself (status running, with its git state
  // and environment) is created when the first stage starts, and holds its
  // lock file (RunLockPath) until Finish. `project`, `store` and `next` (may
  // be null) must outlive the recorder.
  static Result<std::unique_ptr<RunRecorder>> Start(Project* project, RunStore* store, RunObserver* next,
                                                    RecorderOptions options);
  ~RunRecorder() override;

  // 0 until the first stage started.
  int64_t run_id() const { return run_id_; }

  // For RunOptions::stage_env: KEEL_RUN_ID and KEEL_METRICS_FILE (created
  // empty). Thread-safe.
  std::vector<std::pair<std::string, std::string>> StageEnv(const StageSpec& stage);

  void StageStarting(const StageReport& report) override;
  void StageOutput(const std::string& stage, std::string_view line) override;
  void StageRecorded(const LockedStage& stage, const std::map<std::string, double>& metrics) override;
  void StageDone(const StageReport& report) override;

  // Ends the run with `status`, after reading what the stages logged last
  // and recording the stages of `report` it was not told about (those that
  // never started). Returns the first error met while recording, if any
  // (then the event files are kept, and the error names them): the run is
  // ended even then. Call once, after the pipeline returned.
  Status Finish(RunStatus status, const RunReport* report);

 private:
  struct StageState;

  RunRecorder(Project* project, RunStore* store, RunObserver* next, RecorderOptions options);

  Status Begin();
  // Begins the run unless it has begun (or failed to).
  void EnsureBegun(const std::string& stage);
  StageState* FindStage(const std::string& name);
  // Reads what `stage` logged since the last time and stores it.
  Status Ingest(StageState* stage, bool final);
  Status Store(StageState* stage, LoggedEvents& events);
  Status StoreArtifact(StageState* stage, const ArtifactEvent& artifact);
  Status StoreStage(StageState* stage, const StageReport& report);
  // Stages of `report` the observer calls never told about.
  void RecordUnseenStages(const RunReport& report);
  void PollLoop();
  // Keeps the first error for Finish and shows it as the stage's output.
  void Note(const std::string& stage, const Status& status);

  Project* project_;
  RunStore* store_;
  RunObserver* next_;
  RecorderOptions options_;
  std::atomic<int64_t> run_id_{0};  // set once, before any stage's commands start
  Status begin_error_;     // guarded by store_mu_
  std::string run_dir_;  // .keel/runs/PID-START/: the stages' event files
  std::string lock_path_;
  std::unique_ptr<FileLock> alive_;

  std::mutex mu_;  // guards the members below
  std::map<std::string, std::unique_ptr<StageState>> stages_;
  Status first_error_;
  bool finishing_ = false;
  std::condition_variable wake_;
  std::thread poller_;
  // Guards every use of store_ and of the stages' event readers; taken
  // before mu_ when both are needed.
  std::mutex store_mu_;
};

}  // namespace keel
