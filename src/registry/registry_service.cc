// RegistryService: resolving model IDs, listing, aliases, deletion,
// materialising a version's files and what gc keeps. Registering is in
// registry_register.cc.
#include "registry/registry_service.h"

#include <algorithm>
#include <functional>
#include <set>

#include "core/paths.h"
#include "core/yaml.h"

namespace keel {
namespace {

// "1-4", "1-2, 4, 6-7"; "none" when empty. REQUIRES: sorted.
std::string FormatRanges(const std::vector<int64_t>& numbers) {
  if (numbers.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < numbers.size();) {
    size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(numbers[i]);
    if (j > i) out += "-" + std::to_string(numbers[j]);
    i = j + 1;
  }
  return out;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void AddRows(const std::string& section, const std::vector<std::map<std::string, std::string>>& per_version,
             std::vector<ComparisonRow>* out) {
  std::set<std::string> keys;
  for (const auto& values : per_version) {
    for (const auto& [k, v] : values) keys.insert(k);
  }
  for (const std::string& key : keys) {
    ComparisonRow row{section, key, {}, false};
    for (const auto& values : per_version) {
      auto it = values.find(key);
      row.values.push_back(it == values.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    for (const auto& v : row.values) row.differs = row.differs || v != row.values.front();
    out->push_back(std::move(row));
  }
}

}  // namespace

Result<std::unique_ptr<ModelStore>> OpenProjectModelStore(const Project& project) {
  return OpenModelStore(project.MetadataUri());
}

Result<ModelSummary> RegistryService::Model(const std::string& name) {
  KEEL_RETURN_IF_ERROR(ValidateModelName(name));
  Result<ModelSummary> model = store_->GetModel(name);
  if (model.ok() || model.status().code() != StatusCode::kNotFound) return model;
  KEEL_ASSIGN_OR_RETURN(std::vector<ModelSummary> all, store_->ListModels());
  std::vector<std::string> names;
  for (const ModelSummary& m : all) names.push_back(m.name);
  if (names.empty()) {
    return NotFoundError("unknown model '" + name + "' (no model is registered yet: `keel model register`)");
  }
  return NotFoundError("unknown model '" + name + "'" + DidYouMean(name, names));
}

Result<ModelVersion> RegistryService::Resolve(std::string_view id) {
  KEEL_ASSIGN_OR_RETURN(ModelId parsed, ParseModelId(id));
  return Resolve(parsed);
}

Result<ModelVersion> RegistryService::Resolve(const ModelId& id) {
  switch (id.kind) {
    case ModelId::Kind::kDigest: return ResolveDigest(id);
    case ModelId::Kind::kVersion: return ResolveVersion(id.name, id.version);
    case ModelId::Kind::kAlias: return ResolveAlias(id);
  }
  return InternalError("unknown model ID kind");
}

Result<ModelVersion> RegistryService::ResolveVersion(const std::string& name, int64_t version) {
  KEEL_ASSIGN_OR_RETURN(ModelSummary model, Model(name));
  Result<ModelVersion> found = store_->GetVersion(name, version);
  if (found.ok() || found.status().code() != StatusCode::kNotFound) return found;
  KEEL_ASSIGN_OR_RETURN(auto numbers, store_->VersionNumbers(name));
  std::vector<int64_t> live;
  bool deleted = false;
  for (const auto& [n, is_deleted] : numbers) {
    if (!is_deleted) live.push_back(n);
    if (n == version && is_deleted) deleted = true;
  }
  return NotFoundError("model '" + name + "' has no version " + std::to_string(version) + " (" +
                       (deleted ? "it was deleted; " : "") + "versions: " + FormatRanges(live) + ")");
}

Result<ModelVersion> RegistryService::ResolveAlias(const ModelId& id) {
  KEEL_ASSIGN_OR_RETURN(ModelSummary model, Model(id.name));
  if (id.alias == kLatestAlias) {
    if (model.latest == 0) {
      return NotFoundError("model '" + id.name + "' has no versions left (all were deleted)");
    }
    return store_->GetVersion(id.name, model.latest);
  }
  auto it = model.aliases.find(id.alias);
  if (it != model.aliases.end()) return store_->GetVersion(id.name, it->second);
  std::vector<std::string> aliases;
  for (const auto& [alias, version] : model.aliases) aliases.push_back(alias);
  return NotFoundError("model '" + id.name + "' has no alias '" + id.alias + "'" + DidYouMean(id.alias, aliases) +
                       (aliases.empty() ? " (it has no aliases)" : " (aliases: " + JoinNames(aliases) + ")"));
}

Result<ModelVersion> RegistryService::ResolveDigest(const ModelId& id) {
  KEEL_ASSIGN_OR_RETURN(std::vector<VersionRef> found, store_->FindByDigest(id.digest_prefix));
  if (found.empty()) return NotFoundError("no model version matches " + id.ToString());
  // Versions registered from identical content share a digest: within one
  // model, the digest names that content, and the newest version has it.
  bool one_content = std::all_of(found.begin(), found.end(), [&](const VersionRef& r) {
    return r.model == found[0].model && r.digest == found[0].digest;
  });
  if (!one_content) {
    std::vector<std::string> candidates;
    for (const VersionRef& r : found) candidates.push_back(VersionId(r.model, r.version));
    return InvalidArgumentError(id.ToString() + " is ambiguous: " + JoinNames(candidates) +
                                (found[0].digest == found.back().digest ? " (the same content in several models)"
                                                                        : " (give more digits)"));
  }
  return store_->GetVersion(found.back().model, found.back().version);
}

Result<std::vector<ModelSummary>> RegistryService::ListModels() {
  KEEL_ASSIGN_OR_RETURN(std::vector<ModelSummary> all, store_->ListModels());
  std::vector<ModelSummary> out;
  for (ModelSummary& m : all) {
    if (m.versions > 0) out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<ModelVersion>> RegistryService::ListVersions(const std::string& name) {
  KEEL_RETURN_IF_ERROR(Model(name).status());
  return store_->ListVersions(name);
}

Result<Manifest> RegistryService::Files(const ModelVersion& version) {
  KEEL_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(version.digest, VersionId(version.model, version.version)));
  Result<std::string> text = project_->objects().ReadVerified(digest);
  if (!text.ok()) {
    return text.status().WithPrefix(VersionId(version.model, version.version) + ": its manifest");
  }
  return Manifest::Parse(*text, version.digest);
}

Result<std::string> RegistryService::ReadFile(const ModelVersion& version, std::string_view path) {
  KEEL_ASSIGN_OR_RETURN(Manifest files, Files(version));
  for (const ManifestEntry& e : files.entries()) {
    if (e.path == path && e.mode != EntryMode::kSymlink && e.mode != EntryMode::kEmptyDir) {
      Result<std::string> text = project_->objects().ReadVerified(e.digest);
      if (!text.ok()) return text.status().WithPrefix(VersionId(version.model, version.version) + ": " + e.path);
      return text;
    }
  }
  return NotFoundError(VersionId(version.model, version.version) + " has no file '" + std::string(path) + "'");
}

Result<AliasChange> RegistryService::SetAlias(std::string_view id, const std::string& alias) {
  KEEL_RETURN_IF_ERROR(ValidateAliasName(alias));
  KEEL_ASSIGN_OR_RETURN(ModelVersion target, Resolve(id));
  int64_t now_ms = project_->env()->NowNanos() / 1000000;
  AliasChange change{target.model, alias, target.version, std::nullopt};
  KEEL_ASSIGN_OR_RETURN(change.previous, store_->SetAlias(target.model, alias, target.version, now_ms));
  return change;
}

Result<AliasChange> RegistryService::RemoveAlias(const std::string& name, const std::string& alias) {
  KEEL_ASSIGN_OR_RETURN(ModelSummary model, Model(name));
  if (alias == kLatestAlias) {
    return InvalidArgumentError("alias 'latest' is built in (the highest version not deleted) and cannot be removed");
  }
  if (model.aliases.count(alias) == 0) {
    return ResolveAlias(ModelId{ModelId::Kind::kAlias, name, 0, alias, ""}).status();
  }
  int64_t now_ms = project_->env()->NowNanos() / 1000000;
  KEEL_ASSIGN_OR_RETURN(int64_t version, store_->RemoveAlias(name, alias, now_ms));
  return AliasChange{name, alias, version, version};
}

Status RegistryService::CheckDeletable(const ModelVersion& version, const VersionUsers& users) {
  std::vector<std::string> uses;
  for (const std::string& alias : version.aliases) uses.push_back("alias '" + alias + "'");
  if (users) {
    KEEL_ASSIGN_OR_RETURN(std::vector<std::string> others, users(version));
    uses.insert(uses.end(), others.begin(), others.end());
  }
  if (uses.empty()) return Status::Ok();
  std::string how;
  if (!version.aliases.empty()) {
    how = "move aliases with `keel model alias set`, or `keel model alias rm " + version.model + " " +
          version.aliases.front() + "`";
  }
  if (uses.size() > version.aliases.size()) {
    how += std::string(how.empty() ? "" : "; ") + "point deployments at another version";
  }
  return FailedPreconditionError(VersionId(version.model, version.version) + " is in use and cannot be deleted: " +
                                 JoinNames(uses) + " point" + (uses.size() == 1 ? "s" : "") + " at it (" + how + ")");
}

Result<ModelVersion> RegistryService::Delete(std::string_view id, const VersionUsers& users) {
  KEEL_ASSIGN_OR_RETURN(ModelVersion version, Resolve(id));
  KEEL_RETURN_IF_ERROR(CheckDeletable(version, users));
  int64_t now_ms = project_->env()->NowNanos() / 1000000;
  KEEL_RETURN_IF_ERROR(store_->DeleteVersion(version.model, version.version, now_ms));
  return version;
}

namespace {

enum class Presence { kAbsent, kSame, kDifferent };

// Whether `target` already holds what `e` describes. `object` reads an
// object's bytes (a link's target).
Result<Presence> Compare(Env* env, const std::string& target, const ManifestEntry& e,
                         const std::function<Result<std::string>(const Digest&)>& object) {
  Result<FileInfo> info = env->Stat(target);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) return Presence::kAbsent;
    return info.status();
  }
  bool same = false;
  switch (e.mode) {
    case EntryMode::kEmptyDir: same = info->type == FileType::kDirectory; break;
    case EntryMode::kSymlink: {
      if (info->type != FileType::kSymlink) break;
      KEEL_ASSIGN_OR_RETURN(std::string want, object(e.digest));
      KEEL_ASSIGN_OR_RETURN(std::string have, env->ReadSymlink(target));
      same = want == have;
      break;
    }
    case EntryMode::kFile:
    case EntryMode::kExecutable: {
      bool executable = (info->mode & 0100) != 0;
      if (info->type != FileType::kRegular || info->size != e.size ||
          executable != (e.mode == EntryMode::kExecutable)) {
        break;
      }
      KEEL_ASSIGN_OR_RETURN(HashedFile hashed, HashFile(env, target));
      same = hashed.digest == e.digest;
      break;
    }
  }
  return same ? Presence::kSame : Presence::kDifferent;
}

}  // namespace

Status RegistryService::WriteEntry(const ManifestEntry& e, const std::string& target) {
  Env* env = project_->env();
  Result<FileInfo> existing = env->Stat(target);
  // A folder in a file's place (or the reverse) cannot be renamed over.
  bool dir_in_the_way = existing.ok() && (existing->type == FileType::kDirectory) != (e.mode == EntryMode::kEmptyDir);
  if (dir_in_the_way) KEEL_RETURN_IF_ERROR(RemoveTree(env, target));
  if (e.mode == EntryMode::kEmptyDir) return CreateDirs(env, target);
  KEEL_RETURN_IF_ERROR(CreateDirs(env, DirName(target)));
  std::string temp = TempNameBeside(target);
  if (e.mode == EntryMode::kSymlink) {
    KEEL_ASSIGN_OR_RETURN(std::string link, project_->objects().ReadVerified(e.digest));
    KEEL_RETURN_IF_ERROR(env->CreateSymlink(link, temp));
  } else {
    Result<CloneMethod> written =
        project_->objects().Materialize(e.digest, temp, e.mode == EntryMode::kExecutable);
    if (!written.ok()) return written.status().WithPrefix(target);
  }
  Status renamed = env->Rename(temp, target);
  if (!renamed.ok()) (void)env->RemoveFile(temp);
  return renamed;
}

Result<MaterializeResult> RegistryService::Materialize(std::string_view id, const std::string& cwd,
                                                       const std::string& dir, OverwriteMode mode) {
  if (dir.empty()) return InvalidArgumentError("no folder to write the model to (--to DIR)");
  // gc must not free the objects while they are read.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, project_->Lock(LockMode::kShared));
  MaterializeResult result;
  KEEL_ASSIGN_OR_RETURN(result.version, Resolve(id));
  KEEL_ASSIGN_OR_RETURN(Manifest files, Files(result.version));
  result.dir = NormalizePath(JoinPath(cwd, dir));
  Env* env = project_->env();
  auto object = [this](const Digest& d) { return project_->objects().ReadVerified(d); };
  // Decide first, change nothing: a refusal leaves the folder as it was.
  std::vector<std::pair<const ManifestEntry*, std::string>> to_write;
  std::vector<std::string> conflicts;
  for (const ManifestEntry& e : files.entries()) {
    std::string target = JoinPath(result.dir, e.path);
    KEEL_ASSIGN_OR_RETURN(Presence presence, Compare(env, target, e, object));
    if (presence == Presence::kSame) {
      ++result.unchanged;
      continue;
    }
    if (presence == Presence::kDifferent) conflicts.push_back(JoinPath(dir, e.path));
    to_write.emplace_back(&e, std::move(target));
  }
  if (!conflicts.empty() && mode == OverwriteMode::kRefuse) {
    std::string more = conflicts.size() > 1 ? " and " + std::to_string(conflicts.size() - 1) + " more" : "";
    return FailedPreconditionError(conflicts[0] + more + ": exist" + (conflicts.size() == 1 ? "s" : "") +
                                   " with other content than " + VersionId(result.version.model,
                                                                             result.version.version) +
                                   "'s; nothing was written (--force overwrites)");
  }
  KEEL_RETURN_IF_ERROR(CreateDirs(env, result.dir));
  for (const auto& [entry, target] : to_write) {
    KEEL_RETURN_IF_ERROR(WriteEntry(*entry, target));
    ++result.written;
  }
  return result;
}

Result<std::vector<Digest>> RegistryService::ReferencedObjects() {
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> digests, store_->LiveDigests());
  std::vector<Digest> out;
  for (const std::string& text : digests) {
    KEEL_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(text, project_->MetadataUri() + ": a model version's digest"));
    out.push_back(digest);
    Result<std::string> manifest = project_->objects().ReadVerified(digest);
    // A manifest that is gone keeps nothing; a damaged one might name
    // anything, so gc stops rather than guess.
    if (!manifest.ok() && manifest.status().code() == StatusCode::kNotFound) continue;
    if (!manifest.ok()) return manifest.status().WithPrefix("gc stopped: a model version's files");
    Result<Manifest> parsed = Manifest::Parse(*manifest, text);
    if (!parsed.ok()) return parsed.status().WithPrefix("gc stopped: a model version's files");
    for (const ManifestEntry& e : parsed->entries()) {
      if (e.mode != EntryMode::kEmptyDir) out.push_back(e.digest);
    }
  }
  return out;
}

std::vector<ComparisonRow> CompareVersions(const std::vector<ModelVersion>& versions) {
  std::vector<ComparisonRow> rows;
  std::vector<std::map<std::string, std::string>> attributes, params, metrics, inputs;
  for (const ModelVersion& v : versions) {
    std::map<std::string, std::string> a = {{"flavor", v.flavor},
                                            {"digest", v.digest},
                                            {"run", v.run_id == 0 ? "-" : std::to_string(v.run_id)},
                                            {"git_commit", v.git_commit.empty() ? "-" : v.git_commit},
                                            {"dirty", v.git_dirty ? "true" : "false"}};
    if (!v.model_file.empty()) a["model_file"] = v.model_file + " " + v.model_hash;
    attributes.push_back(std::move(a));
    params.push_back(v.params);
    std::map<std::string, std::string> m;
    for (const auto& [k, value] : v.metrics) m[k] = FormatMetric(value);
    metrics.push_back(std::move(m));
    std::map<std::string, std::string> in;
    for (const ModelInput& i : v.inputs) {
      in[i.path] = i.hash + (i.data_version == 0 ? "" : " (data version " + std::to_string(i.data_version) + ")");
    }
    inputs.push_back(std::move(in));
  }
  AddRows("attributes", attributes, &rows);
  AddRows("params", params, &rows);
  AddRows("metrics", metrics, &rows);
  AddRows("data", inputs, &rows);
  return rows;
}

}  // namespace keel
