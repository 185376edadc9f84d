#include "pipeline/pipeline_service.h"

#include <algorithm>
#include <set>

#include "core/git.h"
#include "core/paths.h"
#include "pipeline/stage_state.h"

namespace keel {

std::string_view StageActionName(StageAction action) {
  switch (action) {
    case StageAction::kRan: return "ran";
    case StageAction::kRestored: return "restored";
    case StageAction::kSkipped: return "skipped";
    case StageAction::kFailed: return "failed";
    case StageAction::kNotRun: return "not_run";
    case StageAction::kInterrupted: return "interrupted";
    case StageAction::kWouldRun: return "would_run";
    case StageAction::kWouldRestore: return "would_restore";
    case StageAction::kMayRun: return "may_run";
  }
  return "unknown";
}

PipelineService::PipelineService(Project* project, ProgressSink* progress, RunObserver* observer)
    : project_(project), progress_(progress), observer_(observer), data_(project, progress) {}

PipelineService::~PipelineService() = default;

Result<PipelineSpec> PipelineService::ParseCached(const std::string& text) {
  Env* env = project_->env();
  const std::string cache = JoinPath(project_->keel_dir(), "cache/keel.yaml.parsed");
  const Digest digest = HashBytes(text);
  const std::string_view key(reinterpret_cast<const char*>(digest.bytes.data()), digest.bytes.size());
  Result<std::string> cached = ReadFileToString(env, cache);
  if (cached.ok() && std::string_view(*cached).substr(0, key.size()) == key) {
    if (std::optional<PipelineSpec> spec = DecodeSpec(std::string_view(*cached).substr(key.size()))) {
      return std::move(*spec);
    }
  }
  KEEL_ASSIGN_OR_RETURN(PipelineSpec spec, ParsePipeline(text, kPipelineFile));
  // Only a cache: when it cannot be written, the next command parses again.
  if (CreateDirs(env, DirName(cache)).ok()) (void)WriteFileAtomic(env, cache, std::string(key) + EncodeSpec(spec));
  return spec;
}

Result<std::unique_ptr<PipelineService::Loaded>> PipelineService::Load() {
  Env* env = project_->env();
  Result<std::string> text = ReadFileToString(env, project_->Abs(kPipelineFile));
  if (!text.ok()) {
    if (text.status().code() != StatusCode::kNotFound) return text.status();
    return NotFoundError(std::string(kPipelineFile) + ": not found in " + project_->root() +
                         "; describe the pipeline's stages there (docs/format/pipeline.md)");
  }
  auto loaded = std::make_unique<Loaded>();
  loaded->source_stats.reserve(1024);
  KEEL_ASSIGN_OR_RETURN(loaded->spec, ParseCached(*text));
  auto exists = [&](const std::string& p) {
    Result<FileInfo> info = env->Stat(project_->Abs(p));
    if (info.ok()) loaded->source_stats.emplace(p, *info);
    return info.ok() || Exists(env, project_->Abs(p) + std::string(kPointerSuffix));
  };
  KEEL_ASSIGN_OR_RETURN(loaded->dag, Dag::Build(loaded->spec, exists));
  for (const StageSpec& stage : loaded->spec.stages) {
    for (const ParamSpec& p : stage.params) {
      auto it = loaded->params.find(p.file);
      if (it == loaded->params.end()) {
        Result<std::string> params_text = ReadFileToString(env, project_->Abs(p.file));
        if (!params_text.ok() && params_text.status().code() == StatusCode::kNotFound) {
          return InvalidArgumentError(p.where + ": stage '" + stage.name + "': params file " + p.file +
                                      " does not exist");
        }
        if (!params_text.ok()) return params_text.status();
        KEEL_ASSIGN_OR_RETURN(ParamsFile parsed, ParamsFile::Parse(*params_text, p.file));
        it = loaded->params.emplace(p.file, std::move(parsed)).first;
      }
      ParamValues ignored;
      if (!it->second.Select(p.key, &ignored)) {
        return InvalidArgumentError(p.where + ": stage '" + stage.name + "': param '" + p.key + "' is not in " +
                                    p.file);
      }
    }
  }
  Result<std::string> lock = ReadFileToString(env, project_->Abs(kLockFile));
  if (lock.ok()) {
    KEEL_ASSIGN_OR_RETURN(loaded->lock, ParseLockFile(*lock, kLockFile));
  } else if (lock.status().code() != StatusCode::kNotFound) {
    return lock.status();
  }
  return loaded;
}

Result<LockedStage> PipelineService::Current(const Loaded& loaded, size_t stage,
                                             std::vector<std::string>* missing) {
  const StageSpec& spec = loaded.spec.stages[stage];
  LockedStage now;
  now.name = spec.name;
  now.cmd = spec.cmd;
  now.cmd_is_list = spec.cmd_is_list;
  now.wdir = spec.wdir;
  now.env = spec.env;
  for (const ParamSpec& p : spec.params) {
    ParamValues values;
    loaded.params.at(p.file).Select(p.key, &values);
    now.params[p.file].insert(values.begin(), values.end());
  }
  std::set<std::string> deps;
  for (const DepSpec& d : spec.deps) deps.insert(d.path);
  for (const std::string& d : deps) {
    // The lstat from loading is as good as a new one until a command has
    // run: after that, anything may have changed.
    auto stat = commands_started_.load() ? loaded.source_stats.end() : loaded.source_stats.find(d);
    Result<Pointer> hashed = stat != loaded.source_stats.end() ? data_.HashPath(d, stat->second) : data_.HashPath(d);
    if (!hashed.ok() && hashed.status().code() == StatusCode::kNotFound) {
      missing->push_back(d);
      now.deps.push_back({d});
      continue;
    }
    if (!hashed.ok()) return hashed.status().WithPrefix("stage '" + spec.name + "': dep");
    now.deps.push_back(LockedPathOf(d, *hashed, true));
  }
  for (const OutSpec& o : spec.outs) now.outs.push_back({o.path, DataKind::kFile, {}, 0, 0, false, o.cache});
  std::sort(now.outs.begin(), now.outs.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return now;
}

Status PipelineService::PreloadStates(const Loaded& loaded) {
  std::vector<std::string> paths;
  for (const StageSpec& s : loaded.spec.stages) {
    for (const DepSpec& d : s.deps) paths.push_back(d.path);
    for (const OutSpec& o : s.outs) paths.push_back(o.path);
  }
  return project_->state().Preload(paths);
}

Result<std::vector<std::string>> PipelineService::Explain(const Loaded& loaded, const LockedStage& now,
                                                          const std::vector<std::string>& missing) {
  const LockedStage* locked = loaded.lock.Find(now.name);
  std::vector<std::string> reasons = ExplainChanges(now, locked, missing, loaded.spec.params_file);
  if (locked == nullptr) return reasons;
  for (const LockedPath& out : locked->outs) {
    Result<Pointer> hashed = data_.HashPath(out.path);
    if (!hashed.ok() && hashed.status().code() == StatusCode::kNotFound) {
      reasons.push_back("out " + out.path + " missing");
    } else if (!hashed.ok()) {
      return hashed.status().WithPrefix("stage '" + now.name + "': out");
    } else if (hashed->digest != out.digest || hashed->kind != out.kind) {
      reasons.push_back("out " + out.path + " changed");
    }
  }
  return reasons;
}

}  // namespace keel
