// `keel run`: deciding, per stage, to skip, restore from the run-cache or
// run; running the commands; storing outs and recording keel.lock.
#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "core/paths.h"
#include "pipeline/pipeline_service.h"

namespace keel {
namespace {

// How long stage commands get to end after an interrupt before SIGKILL.
constexpr int kGraceMs = 10000;

std::string RunCachePath(const std::string& keel_dir, const Digest& signature) {
  std::string hex = signature.Hex();
  return keel_dir + "/cache/runs/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

// The targets' indices, or every stage when there are none.
Result<std::vector<bool>> Select(const PipelineSpec& spec, const Dag& dag, const RunOptions& options) {
  if (options.targets.empty()) return std::vector<bool>(spec.stages.size(), true);
  std::vector<size_t> targets;
  for (const std::string& name : options.targets) {
    auto it = std::find_if(spec.stages.begin(), spec.stages.end(), [&](const StageSpec& s) { return s.name == name; });
    if (it == spec.stages.end()) {
      std::string known;
      for (const StageSpec& s : spec.stages) known += (known.empty() ? "" : ", ") + s.name;
      return NotFoundError("no stage '" + name + "' in " + kPipelineFile + " (stages: " + known + ")");
    }
    targets.push_back(static_cast<size_t>(it - spec.stages.begin()));
  }
  return dag.Closure(targets, options.selection == Selection::kWithUpstream ? Direction::kUpstream
                                                                              : Direction::kDownstream);
}

}  // namespace

Result<std::optional<LockedStage>> PipelineService::FindRun(const LockedStage& now) {
  const Digest signature = now.Signature();
  const std::string path = RunCachePath(project_->keel_dir(), signature);
  Result<std::string> text = ReadFileToString(project_->env(), path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return std::optional<LockedStage>();
    return text.status();
  }
  // The run-cache is only a cache: an entry keel cannot use is passed over.
  Result<LockedStage> entry = ParseLockedStage(*text, path);
  if (!entry.ok() || entry->Signature() != signature) return std::optional<LockedStage>();
  for (const LockedPath& out : entry->outs) {
    if (!out.cache || !project_->objects().Has(out.digest)) return std::optional<LockedStage>();
  }
  entry->name = now.name;
  return std::optional<LockedStage>(std::move(*entry));
}

Status PipelineService::RestoreOuts(const LockedStage& entry) {
  for (const LockedPath& out : entry.outs) {
    Result<CheckoutResult> restored = data_.RestorePath(out.path, PointerOf(out), CheckoutMode::kForce);
    if (!restored.ok()) return restored.status().WithPrefix("restoring out " + out.path);
  }
  return Status::Ok();
}

Status PipelineService::RecordRun(Loaded* loaded, const LockedStage& done) {
  Env* env = project_->env();
  std::string entry = RunCachePath(project_->keel_dir(), done.Signature());
  KEEL_RETURN_IF_ERROR(CreateDirs(env, DirName(entry)));
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, entry, SerializeLockedStage(done)));
  // Stored outs live in the store, not in git (as DVC does it); the others
  // (metrics, usually) are meant to be committed.
  for (const LockedPath& out : done.outs) {
    if (!out.cache) continue;
    KEEL_RETURN_IF_ERROR(AddGitIgnoreEntry(env, project_->Abs(DirName(out.path)), BaseName(out.path),
                                           JoinPath(project_->keel_dir(), "gitignore.lock")));
  }
  loaded->lock.Put(done);
  // keel.yaml's order; stages no longer in keel.yaml are dropped.
  LockFile ordered;
  for (const StageSpec& s : loaded->spec.stages) {
    if (const LockedStage* l = loaded->lock.Find(s.name)) ordered.stages.push_back(*l);
  }
  return WriteFileAtomic(env, project_->Abs(kLockFile), SerializeLockFile(ordered));
}

Status PipelineService::Prepare(Loaded* loaded, size_t stage, const RunOptions& options, LockedStage* now,
                                StageReport* report) {
  std::vector<std::string> missing;
  KEEL_ASSIGN_OR_RETURN(*now, Current(*loaded, stage, &missing));
  if (!missing.empty()) {
    const std::string& dep = missing.front();
    bool tracked = Exists(project_->env(), project_->Abs(dep) + std::string(kPointerSuffix));
    return FailedPreconditionError("dep " + dep + (tracked ? " is not checked out (run `keel checkout`)" : " is missing"));
  }
  KEEL_ASSIGN_OR_RETURN(report->reasons, Explain(*loaded, *now, missing));
  if (options.force) report->reasons.insert(report->reasons.begin(), "forced");
  if (report->reasons.empty()) {
    report->action = StageAction::kSkipped;
    // Up to date means keel.lock's entry holds: it has the outs' hashes.
    if (const LockedStage* locked = loaded->lock.Find(now->name)) *now = *locked;
    return Status::Ok();
  }
  if (!options.force && options.use_run_cache) {
    KEEL_ASSIGN_OR_RETURN(std::optional<LockedStage> entry, FindRun(*now));
    // An entry whose objects cannot all be restored is passed over: the
    // stage runs, which starts by removing what was half restored.
    if (entry && RestoreOuts(*entry).ok()) {
      report->action = StageAction::kRestored;
      *now = std::move(*entry);
      return RecordRun(loaded, *now);
    }
  }
  report->action = StageAction::kRan;
  // Stale outs must never pass as fresh: a stage that fails to write one
  // leaves it missing.
  Env* env = project_->env();
  for (const LockedPath& out : now->outs) {
    KEEL_RETURN_IF_ERROR(RemoveTree(env, project_->Abs(out.path)));
    KEEL_RETURN_IF_ERROR(CreateDirs(env, DirName(project_->Abs(out.path))));
  }
  return CreateDirs(env, project_->Abs(now->wdir));
}

Status PipelineService::RunCommands(const Loaded& loaded, size_t stage, const RunOptions& run_options,
                                    StageReport* report) {
  const StageSpec& spec = loaded.spec.stages[stage];
  ProcessOptions options;
  options.cwd = project_->Abs(spec.wdir);
  for (const auto& [k, v] : spec.env) options.env.emplace_back(k, v);
  options.env.emplace_back("KEEL_STAGE", spec.name);
  if (run_options.stage_env) {
    for (auto& [k, v] : run_options.stage_env(spec)) options.env.emplace_back(std::move(k), std::move(v));
  }
  commands_started_.store(true);
  for (const std::string& cmd : spec.cmd) {
    Result<int> code = RunShellCommand(project_->env(), &children_, cmd, options, [&](std::string_view line) {
      if (observer_ != nullptr) observer_->StageOutput(spec.name, line);
    });
    if (!code.ok() && children_.stopped()) report->action = StageAction::kInterrupted;
    if (!code.ok()) return code.status();
    if (*code != 0 && stop_.load()) {
      report->action = StageAction::kInterrupted;
      return AbortedError("interrupted");
    }
    if (*code != 0) {
      report->exit_code = *code;
      return AbortedError("stage '" + spec.name + "' failed (exit status " + std::to_string(*code) + ")" +
                          (spec.cmd.size() > 1 ? " in `" + cmd + "`" : ""));
    }
  }
  return Status::Ok();
}

Status PipelineService::Finish(Loaded* loaded, LockedStage* now) {
  for (LockedPath& out : now->outs) {
    Result<Pointer> p = out.cache ? data_.StorePath(out.path) : data_.HashPath(out.path);
    if (!p.ok() && p.status().code() == StatusCode::kNotFound) {
      return AbortedError("stage '" + now->name + "' did not produce its out " + out.path);
    }
    if (!p.ok()) return p.status().WithPrefix("stage '" + now->name + "': storing out " + out.path);
    out = LockedPathOf(out.path, *p, out.cache);
  }
  KEEL_RETURN_IF_ERROR(RecordRun(loaded, *now));
  return project_->state().Flush();
}

bool PipelineService::FailStage(const Status& status, StageReport* report) {
  if (report->action != StageAction::kInterrupted) report->action = StageAction::kFailed;
  report->error = status.message();
  if (observer_ != nullptr) observer_->StageDone(*report);
  return false;
}

std::optional<bool> PipelineService::DecideStage(Loaded* loaded, size_t stage, const RunOptions& options,
                                                 LockedStage* now, StageReport* report) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Status prepared = Prepare(loaded, stage, options, now, report);
    if (!prepared.ok()) return FailStage(prepared.WithPrefix("stage '" + report->name + "'"), report);
  }
  if (observer_ != nullptr) observer_->StageStarting(*report);
  if (report->action == StageAction::kRan) return std::nullopt;
  ReportRecorded(*loaded, stage, *now);
  if (observer_ != nullptr) observer_->StageDone(*report);
  return true;
}

void PipelineService::ReportRecorded(const Loaded& loaded, size_t stage, const LockedStage& now) {
  if (observer_ == nullptr) return;
  // The files were checked when the stage produced them; one changed since
  // by hand is reported without its values.
  Result<std::map<std::string, double>> metrics = ReadMetrics(loaded.spec.stages[stage]);
  observer_->StageRecorded(now, metrics.ok() ? *metrics : std::map<std::string, double>{});
}

Result<std::map<std::string, double>> PipelineService::ReadMetrics(const StageSpec& stage) {
  std::map<std::string, double> values;
  for (const OutSpec& out : stage.outs) {
    if (out.kind != OutKind::kMetric) continue;
    Result<std::string> text = ReadFileToString(project_->env(), project_->Abs(out.path));
    if (!text.ok() && text.status().code() == StatusCode::kNotFound) continue;  // Finish names a missing out
    if (!text.ok()) return text.status();
    // JSON is YAML: one reader for both.
    Result<std::map<std::string, double>> metrics = ParseMetricsFile(*text, out.path);
    if (!metrics.ok()) {
      return AbortedError("stage '" + stage.name + "': metrics file " + metrics.status().message());
    }
    for (const auto& [key, value] : *metrics) values[key] = value;
  }
  return values;
}

bool PipelineService::ExecuteStage(Loaded* loaded, size_t stage, const RunOptions& options, LockedStage* now,
                                   StageReport* report) {
  // What a failed stage used is worth keeping; it produced nothing.
  auto fail = [&](const Status& status) {
    if (observer_ != nullptr) {
      LockedStage used = *now;
      used.outs.clear();
      observer_->StageRecorded(used, {});
    }
    return FailStage(status, report);
  };
  Status ran = RunCommands(*loaded, stage, options, report);
  if (!ran.ok()) return fail(ran);
  Result<std::map<std::string, double>> metrics = ReadMetrics(loaded->spec.stages[stage]);
  if (!metrics.ok()) return fail(metrics.status());
  Status finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished = Finish(loaded, now);
  }
  if (!finished.ok()) return fail(finished);
  if (observer_ != nullptr) observer_->StageRecorded(*now, *metrics);
  if (observer_ != nullptr) observer_->StageDone(*report);
  return true;
}

Result<RunReport> PipelineService::Run(const RunOptions& options) {
  // One run at a time per project, and keel.lock read only once it is
  // ours: a run that loaded it before waiting would write back stale
  // entries over the ones the other run recorded. gc waits for both.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> run_lock,
                        project_->env()->LockFile(JoinPath(project_->keel_dir(), "run.lock"), LockMode::kExclusive));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Loaded> loaded, Load());
  KEEL_ASSIGN_OR_RETURN(std::vector<bool> selected, Select(loaded->spec, loaded->dag, options));
  RunReport result;
  if (options.dry_run) {
    KEEL_ASSIGN_OR_RETURN(result.stages, Evaluate(*loaded, selected, options));
    return result;
  }
  KEEL_RETURN_IF_ERROR(PreloadStates(*loaded));
  std::vector<StageReport> reports(loaded->spec.stages.size());
  for (size_t i = 0; i < reports.size(); ++i) reports[i].name = loaded->spec.stages[i].name;
  std::vector<StageFate> fates;
  {
    std::vector<LockedStage> nows(reports.size());
    ThreadStageRunner runner(
        [&](size_t s) { return DecideStage(loaded.get(), s, options, &nows[s], &reports[s]); },
        [&](size_t s) { return ExecuteStage(loaded.get(), s, options, &nows[s], &reports[s]); });
    KEEL_ASSIGN_OR_RETURN(fates, Schedule(loaded->dag, selected, options.jobs, &runner, &stop_));
  }
  for (size_t s : loaded->dag.order()) {
    if (!selected[s]) continue;
    if (fates[s] == StageFate::kBlocked || fates[s] == StageFate::kNotStarted) {
      reports[s].action = StageAction::kNotRun;
    }
    result.stages.push_back(std::move(reports[s]));
  }
  result.interrupted = stop_.load();
  // Hashes of deps that skipped stages computed stay useful next time.
  KEEL_RETURN_IF_ERROR(project_->state().Flush());
  return result;
}

void PipelineService::Interrupt(int signal) {
  stop_.store(true);
  children_.Stop(signal, kGraceMs);
}

}  // namespace keel
