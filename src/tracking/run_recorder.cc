#include "tracking/run_recorder.h"

#include <unistd.h>

#include "core/git.h"
#include "core/paths.h"
#include "tracking/environment.h"

namespace keel {

namespace {

constexpr size_t kMaxLogBytes = size_t{64} << 20;
constexpr int kMaxWarnings = 20;  // per stage

// A stage name as a file name.
std::string FileNameOf(const std::string& stage) {
  std::string out = stage;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  }
  return out;
}

void AddInputs(const std::string& stage, const char* role, const std::vector<LockedPath>& paths,
               std::vector<RunInput>* out) {
  for (const LockedPath& p : paths) out->push_back({stage, role, p.path, p.digest.ToString(), p.size, p.files});
}

}  // namespace

struct RunRecorder::StageState {
  std::string name;
  std::string wdir;  // absolute: where relative artifact paths start
  std::string events_path;
  std::unique_ptr<EventLogReader> reader;  // guarded by store_mu_
  std::string output;                      // guarded by mu_
  bool output_truncated = false;           // guarded by mu_
  std::vector<RunInput> inputs;            // guarded by mu_
  bool recorded = false;                   // StageDone seen; guarded by mu_
  int warnings = 0;                        // about bad event lines; guarded by store_mu_
};

std::string RunFilesPath(const Project& project, const RunInfo& run) {
  return JoinPath(project.keel_dir(), "runs/" + std::to_string(run.pid) + "-" + std::to_string(run.start_ns));
}

std::string RunLockPath(const Project& project, const RunInfo& run) { return RunFilesPath(project, run) + ".lock"; }

RunRecorder::RunRecorder(Project* project, RunStore* store, RunObserver* next, RecorderOptions options)
    : project_(project), store_(store), next_(next), options_(std::move(options)) {}

Result<std::unique_ptr<RunRecorder>> RunRecorder::Start(Project* project, RunStore* store, RunObserver* next,
                                                        RecorderOptions options) {
  std::unique_ptr<RunRecorder> recorder(new RunRecorder(project, store, next, std::move(options)));
  recorder->poller_ = std::thread([r = recorder.get()] { r->PollLoop(); });
  return recorder;
}

Status RunRecorder::Begin() {
  Env* env = project_->env();
  RunInfo info;
  info.experiment = options_.experiment.empty() ? BaseName(project_->root()) : options_.experiment;
  info.start_ns = env->NowNanos();
  info.host = HostName();
  info.pid = ::getpid();
  info.command = options_.command;
  KEEL_ASSIGN_OR_RETURN(GitInfo git, project_->git());
  if (git.in_repository) {
    info.git_commit = git.head_commit;
    KEEL_ASSIGN_OR_RETURN(WorkTreeState tree, DescribeWorkTree(git.work_tree));
    info.git_dirty = tree.dirty;
    info.diff_hash = tree.diff_hash;
  }
  // The lock comes first: a run in the store without it reads as killed.
  KEEL_RETURN_IF_ERROR(CreateDirs(env, JoinPath(project_->keel_dir(), "runs")));
  KEEL_ASSIGN_OR_RETURN(alive_, env->LockFile(RunLockPath(*project_, info), LockMode::kExclusive));
  lock_path_ = RunLockPath(*project_, info);
  run_dir_ = RunFilesPath(*project_, info);
  Status created = CreateDirs(env, run_dir_);
  Result<int64_t> id = created.ok() ? store_->CreateRun(info, CollectEnvironment(options_.keel_version))
                                    : Result<int64_t>(created);
  if (!id.ok()) {
    (void)RemoveTree(env, run_dir_);
    (void)env->RemoveFile(lock_path_);
    alive_.reset();
    return id.status();
  }
  run_id_.store(*id);
  return Status::Ok();
}

RunRecorder::~RunRecorder() {
  if (poller_.joinable()) (void)Finish(RunStatus::kFailed, nullptr);
}

RunRecorder::StageState* RunRecorder::FindStage(const std::string& name) {
  std::unique_ptr<StageState>& state = stages_[name];
  if (state == nullptr) {
    state = std::make_unique<StageState>();
    state->name = name;
    state->wdir = project_->root();
  }
  return state.get();
}

std::vector<std::pair<std::string, std::string>> RunRecorder::StageEnv(const StageSpec& spec) {
  if (run_id_ == 0) return {};
  std::string path = JoinPath(run_dir_, FileNameOf(spec.name) + ".jsonl");
  Status created = WriteFileAtomic(project_->env(), path, "");
  if (!created.ok()) Note(spec.name, created);
  {
    std::lock_guard<std::mutex> store_lock(store_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    StageState* state = FindStage(spec.name);
    state->wdir = project_->Abs(spec.wdir);
    state->events_path = path;
    state->reader = std::make_unique<EventLogReader>(project_->env(), path, spec.name + ": KEEL_METRICS_FILE");
  }
  wake_.notify_all();
  return {{"KEEL_RUN_ID", std::to_string(run_id_)}, {"KEEL_METRICS_FILE", path}};
}

void RunRecorder::EnsureBegun(const std::string& stage) {
  // The first stage to start (or to fail before it could) begins the run:
  // a pipeline that cannot start at all (an invalid keel.yaml) leaves no
  // run behind.
  Status failed;
  {
    std::lock_guard<std::mutex> store_lock(store_mu_);
    if (run_id_ == 0 && begin_error_.ok()) {
      begin_error_ = Begin();
      failed = begin_error_;
    }
  }
  if (!failed.ok()) Note(stage, failed);
}

void RunRecorder::StageStarting(const StageReport& report) {
  EnsureBegun(report.name);
  {
    std::lock_guard<std::mutex> lock(mu_);
    FindStage(report.name);
  }
  if (next_ != nullptr) next_->StageStarting(report);
}

void RunRecorder::StageOutput(const std::string& stage, std::string_view line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    StageState* state = FindStage(stage);
    if (state->output.size() + line.size() < kMaxLogBytes) {
      state->output.append(line).push_back('\n');
    } else if (!state->output_truncated) {
      state->output += "[keel: output over 64 MiB not recorded]\n";
      state->output_truncated = true;
    }
  }
  if (next_ != nullptr) next_->StageOutput(stage, line);
}

void RunRecorder::StageRecorded(const LockedStage& stage, const std::map<std::string, double>& metrics) {
  if (run_id_ == 0) return;
  std::map<std::string, std::string> params;
  for (const auto& [file, values] : stage.params) {
    for (const auto& [key, value] : values) params[file == kDefaultParamsFile ? key : file + ":" + key] = value;
  }
  int64_t now_ms = project_->env()->NowNanos() / 1000000;
  std::vector<MetricPoint> points;
  for (const auto& [key, value] : metrics) points.push_back({key, value, 0, now_ms});
  std::vector<RunInput> inputs;
  AddInputs(stage.name, "dep", stage.deps, &inputs);
  AddInputs(stage.name, "out", stage.outs, &inputs);
  Status status;
  {
    std::lock_guard<std::mutex> store_lock(store_mu_);
    status = store_->LogParams(run_id_, params);
    if (status.ok()) status = store_->LogMetrics(run_id_, points);
    std::lock_guard<std::mutex> lock(mu_);
    FindStage(stage.name)->inputs = std::move(inputs);
  }
  if (!status.ok()) Note(stage.name, status);
}

void RunRecorder::StageDone(const StageReport& report) {
  EnsureBegun(report.name);
  if (run_id_ == 0) {
    if (next_ != nullptr) next_->StageDone(report);
    return;
  }
  StageState* state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state = FindStage(report.name);
  }
  Status status = Ingest(state, /*final=*/true);
  if (status.ok()) status = StoreStage(state, report);
  if (!status.ok()) Note(report.name, status);
  if (next_ != nullptr) next_->StageDone(report);
}

Status RunRecorder::Ingest(StageState* stage, bool final) {
  std::lock_guard<std::mutex> store_lock(store_mu_);
  if (stage->reader == nullptr) return Status::Ok();
  int64_t now_ms = project_->env()->NowNanos() / 1000000;
  return stage->reader->ReadNew(final, now_ms, [&](LoggedEvents& events) { return Store(stage, events); });
}

// REQUIRES: store_mu_ held. Stores everything or, on an error, none of the
// metrics, params and tags (so that the reader may read them again).
Status RunRecorder::Store(StageState* stage, LoggedEvents& events) {
  for (const std::string& warning : events.warnings) {
    // A stage that writes junk there would drown its own output.
    if (++stage->warnings <= kMaxWarnings) StageOutput(stage->name, "keel: warning: " + warning);
    if (stage->warnings == kMaxWarnings + 1) {
      StageOutput(stage->name, "keel: warning: more bad lines in KEEL_METRICS_FILE are skipped without a word");
    }
  }
  for (const ArtifactEvent& a : events.artifacts) {
    Status stored = StoreArtifact(stage, a);
    if (!stored.ok()) StageOutput(stage->name, "keel: warning: artifact '" + a.name + "': " + stored.message());
  }
  return store_->LogBatch(run_id_, events.metrics, events.params, events.tags);
}

// REQUIRES: store_mu_ held.
Status RunRecorder::StoreArtifact(StageState* stage, const ArtifactEvent& a) {
  std::string path = !a.path.empty() && a.path[0] == '/' ? a.path : JoinPath(stage->wdir, a.path);
  KEEL_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(project_->env(), path));
  KEEL_ASSIGN_OR_RETURN(Digest digest, project_->objects().PutBytes(bytes));
  return store_->RecordArtifact(run_id_, {stage->name, a.name, digest.ToString(), bytes.size()});
}

Status RunRecorder::StoreStage(StageState* stage, const StageReport& report) {
  RunStage record{report.name, std::string(StageActionName(report.action)), report.exit_code, report.error, "", 0};
  std::string output;
  std::vector<RunInput> inputs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    output = std::move(stage->output);
    inputs = std::move(stage->inputs);
    stage->recorded = true;
  }
  if (!output.empty()) {
    KEEL_ASSIGN_OR_RETURN(Digest digest, project_->objects().PutBytes(output));
    record.log_hash = digest.ToString();
    record.log_size = output.size();
  }
  std::lock_guard<std::mutex> store_lock(store_mu_);
  return store_->RecordStage(run_id_, record, inputs);
}

void RunRecorder::PollLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!finishing_) {
    wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms));
    if (finishing_) break;
    std::vector<StageState*> active;
    for (auto& [name, state] : stages_) {
      if (!state->recorded && !state->events_path.empty()) active.push_back(state.get());
    }
    lock.unlock();
    for (StageState* state : active) {
      Status status = Ingest(state, /*final=*/false);
      if (!status.ok()) Note(state->name, status);
    }
    lock.lock();
  }
}

void RunRecorder::Note(const std::string& stage, const Status& status) {
  {
    // Only the first is kept and shown: the rest usually follow from it,
    // and the poller would repeat it every round.
    std::lock_guard<std::mutex> lock(mu_);
    if (!first_error_.ok()) return;
    first_error_ = status.WithPrefix("run " + std::to_string(run_id_));
  }
  if (next_ != nullptr) next_->StageOutput(stage, "keel: warning: tracking: " + status.message());
}

Status RunRecorder::Finish(RunStatus status, const RunReport* report) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
  if (run_id_ == 0) {
    std::lock_guard<std::mutex> store_lock(store_mu_);
    return begin_error_;
  }
  // The objects stored below (output, artifacts) are not referenced until
  // their rows are written: gc must wait.
  Result<std::unique_ptr<FileLock>> project_lock = project_->Lock(LockMode::kShared);
  if (!project_lock.ok()) Note("", project_lock.status());
  if (report != nullptr && project_lock.ok()) RecordUnseenStages(*report);
  Status ended;
  {
    std::lock_guard<std::mutex> store_lock(store_mu_);
    ended = store_->EndRun(run_id_, status, project_->env()->NowNanos());
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Events not stored stay on disk, for a person to look at.
  if (first_error_.ok()) (void)RemoveTree(project_->env(), run_dir_);
  (void)project_->env()->RemoveFile(lock_path_);
  alive_.reset();
  if (first_error_.ok()) return ended;
  return Status(first_error_.code(), first_error_.message() + "; the stages' logged events are kept in " + run_dir_);
}

void RunRecorder::RecordUnseenStages(const RunReport& report) {
  for (const StageReport& r : report.stages) {
    StageState* state;
    {
      std::lock_guard<std::mutex> lock(mu_);
      state = FindStage(r.name);
      if (state->recorded) continue;
    }
    Status ingested = Ingest(state, /*final=*/true);
    if (!ingested.ok()) Note(r.name, ingested);
    Status stored = StoreStage(state, r);
    if (!stored.ok()) Note(r.name, stored);
  }
}

}  // namespace keel
