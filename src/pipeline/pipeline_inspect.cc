// `keel status`, `keel run --dry-run`, `keel dag`, `keel checkout` and
// `keel params diff`: looking at the pipeline without running it.
#include <algorithm>
#include <set>

#include "core/git.h"
#include "core/paths.h"
#include "pipeline/pipeline_service.h"

namespace keel {

Result<std::vector<StageReport>> PipelineService::Evaluate(const Loaded& loaded, const std::vector<bool>& selected,
                                                           const RunOptions& options) {
  std::vector<StageReport> reports(loaded.spec.stages.size());
  std::vector<bool> would_run(loaded.spec.stages.size(), false);
  std::vector<StageReport> out;
  KEEL_RETURN_IF_ERROR(PreloadStates(loaded));
  for (size_t s : loaded.dag.order()) {
    if (!selected[s]) continue;
    StageReport& r = reports[s];
    r.name = loaded.spec.stages[s].name;
    std::vector<std::string> missing;
    KEEL_ASSIGN_OR_RETURN(LockedStage now, Current(loaded, s, &missing));
    KEEL_ASSIGN_OR_RETURN(r.reasons, Explain(loaded, now, missing));
    if (options.force) r.reasons.insert(r.reasons.begin(), "forced");
    std::vector<std::string> upstream;
    for (size_t u : loaded.dag.upstream(s)) {
      if (selected[u] && would_run[u]) upstream.push_back("upstream " + loaded.spec.stages[u].name + " would run");
    }
    if (!r.reasons.empty()) {
      std::optional<LockedStage> entry;
      if (!options.force && options.use_run_cache && missing.empty() && upstream.empty()) {
        KEEL_ASSIGN_OR_RETURN(entry, FindRun(now));
      }
      r.action = entry ? StageAction::kWouldRestore : StageAction::kWouldRun;
    } else if (!upstream.empty()) {
      r.action = StageAction::kMayRun;
    } else {
      r.action = StageAction::kSkipped;
    }
    r.reasons.insert(r.reasons.end(), upstream.begin(), upstream.end());
    would_run[s] = r.action != StageAction::kSkipped;
    out.push_back(r);
  }
  KEEL_RETURN_IF_ERROR(project_->state().Flush());
  return out;
}

Result<std::vector<StageStatus>> PipelineService::StageStatuses() {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Loaded> loaded, Load());
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  RunOptions options;
  options.use_run_cache = false;  // status says what changed, not how a run would catch up
  KEEL_ASSIGN_OR_RETURN(std::vector<StageReport> reports,
                        Evaluate(*loaded, std::vector<bool>(loaded->spec.stages.size(), true), options));
  std::vector<StageStatus> out;
  for (StageReport& r : reports) {
    StageStatus s;
    s.name = r.name;
    s.up_to_date = r.action == StageAction::kSkipped;
    for (std::string& reason : r.reasons) {
      // "upstream X would run" reads as "upstream X is stale" here.
      if (reason.rfind("upstream ", 0) == 0 && EndsWith(reason, " would run")) {
        reason = reason.substr(0, reason.size() - std::string_view(" would run").size()) + " is stale";
      }
      s.reasons.push_back(std::move(reason));
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<DagNode>> PipelineService::Graph() {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Loaded> loaded, Load());
  std::vector<DagNode> nodes;
  for (size_t s : loaded->dag.order()) {
    DagNode node;
    node.name = loaded->spec.stages[s].name;
    for (size_t u : loaded->dag.upstream(s)) node.upstream.push_back(loaded->spec.stages[u].name);
    std::sort(node.upstream.begin(), node.upstream.end());
    nodes.push_back(std::move(node));
  }
  return nodes;
}

Result<PipelineCheckout> PipelineService::Checkout(CheckoutMode mode) {
  PipelineCheckout result;
  Result<std::string> text = ReadFileToString(project_->env(), project_->Abs(kLockFile));
  if (text.ok()) {
    KEEL_ASSIGN_OR_RETURN(LockFile lock, ParseLockFile(*text, kLockFile));
    KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> held, project_->Lock(LockMode::kShared));
    for (const LockedStage& stage : lock.stages) {
      for (const LockedPath& out : stage.outs) {
        if (!out.cache) continue;
        Result<CheckoutResult> restored = data_.RestorePath(out.path, PointerOf(out), mode);
        Status flushed = project_->state().Flush();
        if (!restored.ok()) return restored.status().WithPrefix("stage '" + stage.name + "': out " + out.path);
        KEEL_RETURN_IF_ERROR(flushed);
        result.outs.push_back(std::move(*restored));
      }
    }
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  KEEL_ASSIGN_OR_RETURN(result.data, data_.Checkout(project_->root(), {}, mode));
  return result;
}

namespace {

Result<ParamValues> ParseParams(const Result<std::string>& text, const std::string& name) {
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return ParamValues();
    return text.status();
  }
  KEEL_ASSIGN_OR_RETURN(ParamsFile file, ParamsFile::Parse(*text, name));
  return file.values();
}

}  // namespace

Result<std::vector<ParamChange>> PipelineService::ParamsDiff(const std::string& rev) {
  KEEL_ASSIGN_OR_RETURN(GitInfo git, project_->git());
  if (!git.in_repository) return FailedPreconditionError(project_->root() + ": not in a git repository");
  Result<std::string> text = ReadFileToString(project_->env(), project_->Abs(kPipelineFile));
  if (!text.ok()) return text.status();
  KEEL_ASSIGN_OR_RETURN(PipelineSpec spec, ParsePipeline(*text, kPipelineFile));
  std::set<std::string> files = {spec.params_file};
  for (const StageSpec& s : spec.stages) {
    for (const ParamSpec& p : s.params) files.insert(p.file);
  }
  std::vector<ParamChange> changes;
  for (const std::string& file : files) {
    std::string in_repo = RelativePath(git.work_tree, project_->Abs(file));
    KEEL_ASSIGN_OR_RETURN(ParamValues old_values,
                          ParseParams(ReadFileAtRevision(git.work_tree, rev, in_repo), file + "@" + rev));
    KEEL_ASSIGN_OR_RETURN(ParamValues new_values,
                          ParseParams(ReadFileToString(project_->env(), project_->Abs(file)), file));
    for (const auto& [key, value] : old_values) {
      auto it = new_values.find(key);
      if (it == new_values.end()) changes.push_back({file, key, value, std::nullopt});
      else if (it->second != value) changes.push_back({file, key, value, it->second});
    }
    for (const auto& [key, value] : new_values) {
      if (!old_values.count(key)) changes.push_back({file, key, std::nullopt, value});
    }
  }
  std::sort(changes.begin(), changes.end(),
            [](const ParamChange& a, const ParamChange& b) { return std::tie(a.file, a.key) < std::tie(b.file, b.key); });
  return changes;
}

}  // namespace keel
