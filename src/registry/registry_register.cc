// RegistryService: registering a version — storing the folder and
// collecting its lineage (docs/format/registry.md).
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "core/git.h"
#include "core/paths.h"
#include "data/data_service.h"
#include "pipeline/params.h"
#include "registry/registry_service.h"

namespace keel {
namespace {

constexpr char kModelFile[] = "model.json";
constexpr char kMetricsFile[] = "metrics.json";
constexpr char kSignatureFile[] = "signature.json";

bool IsFile(const ManifestEntry* e) {
  return e != nullptr && (e->mode == EntryMode::kFile || e->mode == EntryMode::kExecutable);
}

// The model file: model.json, else the folder's only file; null if neither.
const ManifestEntry* ModelFileOf(const Manifest& manifest) {
  const ManifestEntry* model = manifest.Find(kModelFile);
  if (IsFile(model)) return model;
  const ManifestEntry* only = nullptr;
  for (const ManifestEntry& e : manifest.entries()) {
    if (e.mode == EntryMode::kEmptyDir) continue;
    if (only != nullptr || !IsFile(&e)) return nullptr;
    only = &e;
  }
  return only;
}

Status CheckJson(const std::string& text, const std::string& file) {
  try {
    nlohmann::json parsed = nlohmann::json::parse(text);
    (void)parsed;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(file + ": not valid JSON: " + e.what());
  }
  return Status::Ok();
}

bool Overlap(const std::string& a, const std::string& b) { return IsWithin(a, b) || IsWithin(b, a); }

}  // namespace

struct RegistryService::Content {
  std::string path;  // project path of the folder
  Digest digest;     // of its manifest
  Manifest manifest;
};

std::string CurrentUserName() {
  const char* user = std::getenv("USER");
  if (user != nullptr && *user != '\0') return user;
  struct passwd pw;
  struct passwd* found = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr && found->pw_name != nullptr &&
      *found->pw_name != '\0') {
    return found->pw_name;
  }
  return "unknown";
}

std::vector<ModelInput> LineageInputs(const RunRecord& run, const std::vector<int64_t>& data_versions,
                                      const std::string& path) {
  std::vector<const RunInput*> outs;
  for (const RunInput& in : run.inputs) {
    if (in.role == "out") outs.push_back(&in);
  }
  std::set<std::string> chosen;
  std::vector<std::string> queue;
  for (const RunInput* out : outs) {
    if (Overlap(out->path, path) && chosen.insert(out->stage).second) queue.push_back(out->stage);
  }
  const bool all = chosen.empty();
  // Upstream: the stages whose outs the chosen stages' deps are.
  while (!queue.empty()) {
    std::string stage = std::move(queue.back());
    queue.pop_back();
    for (const RunInput& dep : run.inputs) {
      if (dep.stage != stage || dep.role != "dep") continue;
      for (const RunInput* out : outs) {
        if (Overlap(out->path, dep.path) && chosen.insert(out->stage).second) queue.push_back(out->stage);
      }
    }
  }
  std::vector<ModelInput> inputs;
  for (size_t k = 0; k < run.inputs.size(); ++k) {
    const RunInput& in = run.inputs[k];
    if (in.role != "dep" || (!all && chosen.count(in.stage) == 0)) continue;
    int64_t version = k < data_versions.size() ? data_versions[k] : 0;
    inputs.push_back({in.stage, in.path, in.hash, in.size, in.files, version});
  }
  return inputs;
}

Result<std::string> RegistryService::FolderToRegister(const std::string& cwd, const std::string& from) {
  if (from.empty()) return InvalidArgumentError("no folder to register (--from DIR)");
  KEEL_ASSIGN_OR_RETURN(std::string path, project_->ToProjectPath(cwd, from));
  Result<FileInfo> info = project_->env()->Stat(project_->Abs(path));
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return NotFoundError(from + ": no such folder");
    return info.status();
  }
  if (info->type != FileType::kDirectory) {
    return InvalidArgumentError(from + ": not a folder; register the folder that holds the model's files");
  }
  return path;
}

Result<RegistryService::Content> RegistryService::StoreFolder(const std::string& path) {
  NullProgress progress;
  DataService data(project_, &progress);
  Result<Pointer> stored = data.StorePath(path);
  // The file-state cache's entries stay useful even after a failure.
  Status flushed = project_->state().Flush();
  KEEL_RETURN_IF_ERROR(stored.status());
  KEEL_RETURN_IF_ERROR(flushed);
  Content content;
  content.path = path;
  content.digest = stored->digest;
  KEEL_ASSIGN_OR_RETURN(std::string text, project_->objects().ReadVerified(stored->digest));
  KEEL_ASSIGN_OR_RETURN(content.manifest, Manifest::Parse(text, stored->digest.ToString()));
  if (content.manifest.FileCount() == 0) return InvalidArgumentError(path + ": the folder has no files");
  return content;
}

Status RegistryService::ReadContentLineage(const Content& content, const std::string& flavor, ModelVersion* v,
                                           bool* has_metrics) {
  const Manifest& m = content.manifest;
  v->digest = content.digest.ToString();
  v->size = m.TotalSize();
  v->files = m.FileCount();
  if (const ManifestEntry* model = ModelFileOf(m)) {
    v->model_file = model->path;
    v->model_hash = model->digest.ToString();
  }
  v->flavor = !flavor.empty() ? flavor : IsFile(m.Find(kModelFile)) ? "xgboost" : "files";
  if (const ManifestEntry* metrics = m.Find(kMetricsFile); IsFile(metrics)) {
    KEEL_ASSIGN_OR_RETURN(std::string text, project_->objects().ReadVerified(metrics->digest));
    KEEL_ASSIGN_OR_RETURN(v->metrics, ParseMetricsFile(text, JoinPath(content.path, kMetricsFile)));
    *has_metrics = true;
  }
  if (const ManifestEntry* signature = m.Find(kSignatureFile); IsFile(signature)) {
    KEEL_ASSIGN_OR_RETURN(v->signature, project_->objects().ReadVerified(signature->digest));
    KEEL_RETURN_IF_ERROR(CheckJson(v->signature, JoinPath(content.path, kSignatureFile)));
  }
  return Status::Ok();
}

Status RegistryService::FillRunLineage(const RunRecord& run, const std::string& path, bool has_metrics,
                                       ModelVersion* v) {
  v->run_id = run.info.id;
  v->git_commit = run.info.git_commit;
  v->git_dirty = run.info.git_dirty;
  v->params = run.params;
  KEEL_ASSIGN_OR_RETURN(std::vector<int64_t> versions, tracking_->DataVersionsOf(run));
  v->inputs = LineageInputs(run, versions, path);
  if (!has_metrics) {
    for (const auto& [key, point] : run.metrics) v->metrics[key] = point.value;
  }
  return Status::Ok();
}

Status RegistryService::FillWorkspaceLineage(ModelVersion* v) {
  KEEL_ASSIGN_OR_RETURN(GitInfo git, project_->git());
  if (!git.in_repository) return Status::Ok();
  v->git_commit = git.head_commit;
  KEEL_ASSIGN_OR_RETURN(WorkTreeState tree, DescribeWorkTree(git.work_tree));
  v->git_dirty = tree.dirty;
  return Status::Ok();
}

Result<RegisterResult> RegistryService::Register(const RegisterRequest& request) {
  KEEL_RETURN_IF_ERROR(ValidateModelName(request.name));
  if (!request.flavor.empty() && !ValidateModelName(request.flavor).ok()) {
    return InvalidArgumentError("bad flavor '" + request.flavor +
                                "': use letters, digits, '.', '_' and '-', starting with a letter or digit");
  }
  // Held until the record names what was stored: gc waits for it.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  return RegisterLocked(request);
}

Result<RegisterResult> RegistryService::RegisterLocked(const RegisterRequest& request) {
  std::optional<RunRecord> run;
  if (!request.run.empty()) {
    Result<RunRecord> found = tracking_->GetRun(request.run);
    if (!found.ok()) return found.status().WithPrefix(request.run_source);
    run = std::move(*found);
  }
  KEEL_ASSIGN_OR_RETURN(std::string path, FolderToRegister(request.cwd, request.from));
  KEEL_ASSIGN_OR_RETURN(Content content, StoreFolder(path));
  KEEL_ASSIGN_OR_RETURN(std::vector<ModelVersion> live, store_->ListVersions(request.name));
  RegisterResult result;
  const std::string digest = content.digest.ToString();
  if (request.policy == RegisterPolicy::kIfChanged && !live.empty() && live.back().digest == digest) {
    result.version = std::move(live.back());
    return result;
  }
  for (const ModelVersion& earlier : live) {
    if (earlier.digest == digest) result.identical_to = earlier.version;
  }
  ModelVersion& v = result.version;
  v.model = request.name;
  v.description = request.description;
  v.source = path;
  v.created_by = request.created_by.empty() ? "unknown" : request.created_by;
  v.created_at_ms = project_->env()->NowNanos() / 1000000;
  bool has_metrics = false;
  KEEL_RETURN_IF_ERROR(ReadContentLineage(content, request.flavor, &v, &has_metrics));
  if (run) {
    KEEL_RETURN_IF_ERROR(FillRunLineage(*run, path, has_metrics, &v));
  } else {
    KEEL_RETURN_IF_ERROR(FillWorkspaceLineage(&v));
  }
  KEEL_ASSIGN_OR_RETURN(v.version, store_->CreateVersion(v));
  result.registered = true;
  return result;
}

Result<std::vector<ModelSpec>> ReadPipelineModels(const Project& project) {
  KEEL_ASSIGN_OR_RETURN(std::string text, ReadFileToString(project.env(), project.Abs(kPipelineFile)));
  // Parsing a big keel.yaml again costs more than the whole no-op run it
  // follows; a `model:` key cannot be written without these letters.
  if (text.find("model") == std::string::npos) return std::vector<ModelSpec>();
  KEEL_ASSIGN_OR_RETURN(PipelineSpec spec, ParsePipeline(text, kPipelineFile));
  return std::move(spec.models);
}

std::vector<PipelineModelResult> RegistryService::RegisterPipelineModels(const std::vector<ModelSpec>& models,
                                                                         int64_t run_id,
                                                                         const std::string& created_by) {
  std::vector<PipelineModelResult> out;
  for (const ModelSpec& m : models) {
    RegisterRequest request;
    request.name = m.name;
    request.cwd = project_->root();
    request.from = m.path;
    request.run = std::to_string(run_id);
    request.run_source = "run " + request.run;
    request.description = m.description;
    request.flavor = m.flavor;
    request.created_by = created_by;
    request.policy = RegisterPolicy::kIfChanged;
    Result<RegisterResult> registered = Register(request);
    PipelineModelResult r{m.name, registered.status(), {}};
    if (registered.ok()) r.result = std::move(*registered);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace keel
