// `keel model register|list|show|diff|alias|get|delete`: the model registry.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "cli/commands.h"
#include "cli/registry_open.h"
#include "deploy/deploy_users.h"
#include "registry/registry_service.h"

namespace keel::cli {
namespace {

std::string ShortDigest(const std::string& digest) { return digest.substr(0, 19); }

// Every "sha256:<64 hex>" in `text` cut to its first 12 hex digits.
std::string ShortenDigests(std::string text) {
  constexpr size_t kFull = 7 + 64, kShort = 19;
  for (size_t at = text.find("sha256:"); at != std::string::npos; at = text.find("sha256:", at + kShort)) {
    if (text.size() - at >= kFull) text.erase(at + kShort, kFull - kShort);
  }
  return text;
}

std::string Join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

nlohmann::json MetricJson(double v) {
  if (std::isfinite(v)) return v;
  return FormatMetric(v);
}

nlohmann::json SignatureJson(const std::string& text) {
  if (text.empty()) return nullptr;
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(text) : parsed;
}

nlohmann::json VersionJson(const ModelVersion& v) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [k, value] : v.metrics) metrics[k] = MetricJson(value);
  nlohmann::json data = nlohmann::json::array();
  for (const ModelInput& i : v.inputs) {
    data.push_back({{"stage", i.stage}, {"path", i.path}, {"hash", i.hash}, {"size", i.size}, {"files", i.files},
                    {"data_version", i.data_version == 0 ? nlohmann::json(nullptr) : nlohmann::json(i.data_version)}});
  }
  auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"id", VersionId(v.model, v.version)},
          {"model", v.model},
          {"version", v.version},
          {"aliases", v.aliases},
          {"digest", v.digest},
          {"size", v.size},
          {"files", v.files},
          {"model_file", or_null(v.model_file)},
          {"model_hash", or_null(v.model_hash)},
          {"flavor", v.flavor},
          {"description", v.description},
          {"source", v.source},
          {"run_id", v.run_id == 0 ? nlohmann::json(nullptr) : nlohmann::json(v.run_id)},
          {"git_commit", v.git_commit},
          {"git_dirty", v.git_dirty},
          {"params", v.params},
          {"metrics", metrics},
          {"data", data},
          {"signature", SignatureJson(v.signature)},
          {"created_by", v.created_by},
          {"created_at", v.created_at_ms}};
}

std::string EntryModeName(EntryMode mode) {
  switch (mode) {
    case EntryMode::kFile: return "file";
    case EntryMode::kExecutable: return "executable";
    case EntryMode::kSymlink: return "symlink";
    case EntryMode::kEmptyDir: return "dir";
  }
  return "file";
}

struct RegisterFlags {
  std::string name;
  std::string from;
  std::string run;
  std::string description;
  std::string flavor;
};

Status RegisterModel(Context& ctx, const RegisterFlags& flags) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  RegisterRequest request;
  request.name = flags.name;
  request.from = flags.from;
  request.cwd = ctx.cwd;
  request.run = flags.run;
  // A stage's command registering a model links it to the stage's run.
  const char* env_run = std::getenv("KEEL_RUN_ID");
  if (request.run.empty() && env_run != nullptr && *env_run != '\0') {
    request.run = env_run;
    request.run_source = "KEEL_RUN_ID";
  }
  request.description = flags.description;
  request.flavor = flags.flavor;
  request.created_by = CurrentUserName();
  KEEL_ASSIGN_OR_RETURN(RegisterResult result, r.service->Register(request));
  const ModelVersion& v = result.version;
  if (ctx.json) {
    nlohmann::json out = VersionJson(v);
    out["identical_to"] = result.identical_to == 0 ? nlohmann::json(nullptr) : nlohmann::json(result.identical_to);
    PrintJson(out);
    return Status::Ok();
  }
  std::cout << "registered " << VersionId(v.model, v.version) << " (" << ShortDigest(v.digest) << ", " << v.files
            << " file" << (v.files == 1 ? "" : "s") << ", " << FormatBytes(v.size) << ", flavor " << v.flavor
            << (v.run_id != 0 ? ", run " + std::to_string(v.run_id) : "") << ")\n";
  if (result.identical_to != 0) {
    std::cout << "note: its content is identical to " << VersionId(v.model, result.identical_to) << "\n";
  }
  return Status::Ok();
}

std::string AliasList(const std::map<std::string, int64_t>& aliases) {
  std::vector<std::string> parts;
  for (const auto& [alias, version] : aliases) parts.push_back(alias + ":" + std::to_string(version));
  return parts.empty() ? "-" : Join(parts);
}

Status ListAllModels(Context& ctx, RegistryService& service) {
  KEEL_ASSIGN_OR_RETURN(std::vector<ModelSummary> models, service.ListModels());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModelSummary& m : models) {
      out.push_back({{"name", m.name}, {"versions", m.versions}, {"latest", m.latest}, {"aliases", m.aliases},
                     {"created_at", m.created_at_ms}, {"updated_at", m.updated_at_ms}});
    }
    PrintJson({{"models", out}});
    return Status::Ok();
  }
  if (models.empty()) {
    std::cout << "No models yet: `keel model register NAME --from DIR` adds one.\n";
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows = {{"name", "versions", "latest", "aliases", "updated (UTC)"}};
  for (const ModelSummary& m : models) {
    rows.push_back({m.name, std::to_string(m.versions), VersionId(m.name, m.latest), AliasList(m.aliases),
                    FormatUtcTime(m.updated_at_ms / 1000)});
  }
  PrintTable(rows);
  return Status::Ok();
}

// The first few metrics of a version: "auc=0.91, loss=0.3, …".
std::string KeyMetrics(const ModelVersion& v) {
  constexpr size_t kShown = 3;
  std::vector<std::string> parts;
  for (const auto& [k, value] : v.metrics) {
    if (parts.size() == kShown) {
      parts.push_back("…");
      break;
    }
    parts.push_back(k + "=" + FormatMetric(value));
  }
  return parts.empty() ? "-" : Join(parts);
}

Status ListModelVersions(Context& ctx, RegistryService& service, const std::string& name) {
  KEEL_ASSIGN_OR_RETURN(std::vector<ModelVersion> versions, service.ListVersions(name));
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ModelVersion& v : versions) out.push_back(VersionJson(v));
    PrintJson({{"model", name}, {"versions", out}});
    return Status::Ok();
  }
  if (versions.empty()) {
    std::cout << "Model " << name << " has no versions left (all were deleted).\n";
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows = {
      {"version", "aliases", "created (UTC)", "by", "run", "flavor", "metrics", "digest"}};
  for (const ModelVersion& v : versions) {
    rows.push_back({std::to_string(v.version), v.aliases.empty() ? "-" : Join(v.aliases),
                    FormatUtcTime(v.created_at_ms / 1000), v.created_by, v.run_id == 0 ? "-" : std::to_string(v.run_id),
                    v.flavor, KeyMetrics(v), ShortDigest(v.digest)});
  }
  PrintTable(rows);
  return Status::Ok();
}

Status ListModels(Context& ctx, const std::string& name) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  if (name.empty()) return ListAllModels(ctx, *r.service);
  return ListModelVersions(ctx, *r.service, name);
}

void PrintSection(const std::string& title, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::cout << title << ":\n";
  PrintTable(rows);
}

// Pretty JSON indented by two spaces under a heading.
void PrintSignature(const std::string& text) {
  if (text.empty()) return;
  std::cout << "signature:\n";
  // In the order the trainer wrote it.
  nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::string pretty = parsed.is_discarded() ? text
                                             : parsed.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  size_t start = 0;
  while (start <= pretty.size()) {
    size_t end = pretty.find('\n', start);
    if (end == std::string::npos) end = pretty.size();
    std::cout << "  " << pretty.substr(start, end - start) << "\n";
    start = end + 1;
  }
}

void PrintVersion(const ModelVersion& v, const Manifest& files) {
  std::cout << VersionId(v.model, v.version) << (v.aliases.empty() ? "" : " (" + Join(v.aliases) + ")") << "\n";
  std::vector<std::vector<std::string>> head = {
      {"  digest", v.digest},
      {"  model file", v.model_file.empty() ? "-" : v.model_file + "  " + v.model_hash},
      {"  flavor", v.flavor},
      {"  size", FormatBytes(v.size) + " in " + std::to_string(v.files) + " file" + (v.files == 1 ? "" : "s")},
      {"  created", FormatUtcTime(v.created_at_ms / 1000) + " UTC by " + v.created_by},
      {"  source", v.source},
      {"  run", v.run_id == 0 ? "-" : std::to_string(v.run_id)},
      {"  git", v.git_commit.empty() ? "-" : v.git_commit},
      {"  tree", v.git_dirty ? "dirty" : "clean"}};
  if (!v.description.empty()) head.insert(head.begin() + 1, {"  description", v.description});
  PrintTable(head);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, value] : v.params) rows.push_back({"  " + k, value});
  PrintSection("params", rows);
  rows.clear();
  for (const auto& [k, value] : v.metrics) rows.push_back({"  " + k, FormatMetric(value)});
  PrintSection("metrics", rows);
  rows.clear();
  for (const ModelInput& i : v.inputs) {
    rows.push_back({"  " + i.stage, i.path, ShortDigest(i.hash), FormatBytes(i.size),
                    i.data_version == 0 ? "" : "data version " + std::to_string(i.data_version)});
  }
  PrintSection("data", rows);
  PrintSignature(v.signature);
  rows.clear();
  for (const ManifestEntry& e : files.entries()) {
    rows.push_back({"  " + e.path, e.mode == EntryMode::kEmptyDir ? "dir" : FormatBytes(e.size),
                    e.mode == EntryMode::kEmptyDir ? "" : ShortDigest(e.digest.ToString())});
  }
  PrintSection("files", rows);
}

Status ShowModel(Context& ctx, const std::string& id) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  KEEL_ASSIGN_OR_RETURN(ModelVersion v, r.service->Resolve(id));
  KEEL_ASSIGN_OR_RETURN(Manifest files, r.service->Files(v));
  if (ctx.json) {
    nlohmann::json out = VersionJson(v);
    nlohmann::json list = nlohmann::json::array();
    for (const ManifestEntry& e : files.entries()) {
      list.push_back({{"path", e.path}, {"mode", EntryModeName(e.mode)}, {"size", e.size},
                      {"hash", e.mode == EntryMode::kEmptyDir ? nlohmann::json(nullptr)
                                                              : nlohmann::json(e.digest.ToString())}});
    }
    out["file_list"] = list;
    PrintJson(out);
    return Status::Ok();
  }
  PrintVersion(v, files);
  return Status::Ok();
}

Status DiffModels(Context& ctx, const std::vector<std::string>& ids, bool only_differences) {
  if (ids.size() != 2) return InvalidArgumentError("diff needs two model IDs");
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  std::vector<ModelVersion> versions;
  for (const std::string& id : ids) {
    KEEL_ASSIGN_OR_RETURN(ModelVersion v, r.service->Resolve(id));
    versions.push_back(std::move(v));
  }
  std::vector<ComparisonRow> rows = CompareVersions(versions);
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ComparisonRow& row : rows) {
      if (only_differences && !row.differs) continue;
      nlohmann::json values = nlohmann::json::array();
      for (const auto& v : row.values) values.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
      out.push_back({{"section", row.section}, {"key", row.key}, {"values", values}, {"differs", row.differs}});
    }
    nlohmann::json names = nlohmann::json::array();
    for (const ModelVersion& v : versions) names.push_back(VersionId(v.model, v.version));
    PrintJson({{"versions", names}, {"rows", out}});
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> table = {{"", ""}};
  for (const ModelVersion& v : versions) table[0].push_back(VersionId(v.model, v.version));
  std::string section;
  for (const ComparisonRow& row : rows) {
    if (only_differences && !row.differs) continue;
    if (row.section != section) {
      section = row.section;
      table.push_back({"", section + ":"});
    }
    std::vector<std::string> line = {row.differs ? "*" : "", "  " + row.key};
    for (const auto& v : row.values) {
      std::string text = v ? *v : "-";
      text = ShortenDigests(text);
      line.push_back(text);
    }
    table.push_back(std::move(line));
  }
  PrintTable(table);
  size_t differing = std::count_if(rows.begin(), rows.end(), [](const ComparisonRow& r) { return r.differs; });
  std::cout << differing << " of " << rows.size() << " values differ (marked *)\n";
  return Status::Ok();
}

Status SetAlias(Context& ctx, const std::string& id, const std::string& alias) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  KEEL_ASSIGN_OR_RETURN(AliasChange change, r.service->SetAlias(id, alias));
  if (ctx.json) {
    PrintJson({{"model", change.model}, {"alias", change.alias}, {"version", change.version},
               {"previous", change.previous ? nlohmann::json(*change.previous) : nlohmann::json(nullptr)}});
    return Status::Ok();
  }
  std::cout << change.model << "@" << change.alias << " → " << change.version;
  if (change.previous && *change.previous == change.version) std::cout << " (unchanged)";
  else if (change.previous) std::cout << " (moved from " << *change.previous << ")";
  std::cout << "\n";
  return Status::Ok();
}

Status RemoveAlias(Context& ctx, const std::string& name, const std::string& alias) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  KEEL_ASSIGN_OR_RETURN(AliasChange change, r.service->RemoveAlias(name, alias));
  if (ctx.json) {
    PrintJson({{"model", change.model}, {"alias", change.alias}, {"removed", true}, {"previous", change.version}});
    return Status::Ok();
  }
  std::cout << "removed alias " << change.model << "@" << change.alias << " (it pointed at " << change.version
            << ")\n";
  return Status::Ok();
}

Status GetModel(Context& ctx, const std::string& id, const std::string& to, bool force) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  KEEL_ASSIGN_OR_RETURN(MaterializeResult result, r.service->Materialize(id, ctx.cwd, to, force
                                                                             ? OverwriteMode::kForce
                                                                             : OverwriteMode::kRefuse));
  std::string version = VersionId(result.version.model, result.version.version);
  if (ctx.json) {
    PrintJson({{"id", version}, {"digest", result.version.digest}, {"dir", result.dir}, {"written", result.written},
               {"unchanged", result.unchanged}});
    return Status::Ok();
  }
  std::cout << version << " → " << to << ": " << result.written << " written, " << result.unchanged
            << " already there\n";
  return Status::Ok();
}

Status DeleteModel(Context& ctx, const std::string& id) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  KEEL_ASSIGN_OR_RETURN(ModelVersion v, r.service->Delete(id, deploy::ProjectDeployUsers(*r.project, *r.service)));
  std::string version = VersionId(v.model, v.version);
  if (ctx.json) {
    PrintJson({{"id", version}, {"deleted", true}});
    return Status::Ok();
  }
  std::cout << "deleted " << version << "; `keel gc` frees its files unless another version shares them\n";
  return Status::Ok();
}

struct Args {
  std::string id;
  std::vector<std::string> ids;
  std::string name;
  std::string alias;
  std::string to;
  bool flag = false;
};

void RegisterRegister(CLI::App* model, Context& ctx) {
  auto flags = std::make_shared<RegisterFlags>();
  CLI::App* cmd = model->add_subcommand("register", "store a folder as the next version of a model, with its lineage");
  cmd->add_option("name", flags->name, "model name")->required();
  cmd->add_option("--from", flags->from, "the folder holding the model's files")->required();
  cmd->add_option("--run", flags->run, "the run that produced it (default: $KEEL_RUN_ID, if set)");
  cmd->add_option("--description", flags->description, "a description of this version");
  cmd->add_option("--flavor", flags->flavor,
                  "what kind of model (default: xgboost if model.json is there, else files)");
  cmd->callback([&ctx, flags] { ctx.action = [&ctx, flags] { return RegisterModel(ctx, *flags); }; });
}

void RegisterAlias(CLI::App* model, Context& ctx) {
  CLI::App* alias = model->add_subcommand("alias", "name versions: census@production");
  alias->require_subcommand(1);
  auto set = std::make_shared<Args>();
  CLI::App* cmd = alias->add_subcommand("set", "point an alias at a version (moving it if it is set)");
  cmd->add_option("id", set->id, "model ID: census@7, census@staging, sha256:1a2b")->required();
  cmd->add_option("alias", set->alias, "alias name")->required();
  cmd->callback([&ctx, set] { ctx.action = [&ctx, set] { return SetAlias(ctx, set->id, set->alias); }; });
  auto rm = std::make_shared<Args>();
  cmd = alias->add_subcommand("rm", "remove an alias");
  cmd->add_option("name", rm->name, "model name")->required();
  cmd->add_option("alias", rm->alias, "alias name")->required();
  cmd->callback([&ctx, rm] { ctx.action = [&ctx, rm] { return RemoveAlias(ctx, rm->name, rm->alias); }; });
}

}  // namespace

void RegisterModelCommands(CLI::App& app, Context& ctx) {
  CLI::App* model = app.add_subcommand("model", "the model registry: versions, lineage, aliases");
  model->require_subcommand(1);
  RegisterRegister(model, ctx);

  auto list = std::make_shared<Args>();
  CLI::App* cmd = model->add_subcommand("list", "models, or the versions of one");
  cmd->add_option("name", list->name, "a model: list its versions");
  cmd->callback([&ctx, list] { ctx.action = [&ctx, list] { return ListModels(ctx, list->name); }; });

  auto show = std::make_shared<Args>();
  cmd = model->add_subcommand("show", "a version with its lineage, metrics, signature and files");
  cmd->add_option("id", show->id, "model ID: census@7, census@production, census@latest, sha256:1a2b")->required();
  cmd->callback([&ctx, show] { ctx.action = [&ctx, show] { return ShowModel(ctx, show->id); }; });

  auto diff = std::make_shared<Args>();
  cmd = model->add_subcommand("diff", "params, metrics and data of two versions side by side; differences marked *");
  cmd->add_option("ids", diff->ids, "two model IDs")->required()->expected(2);
  cmd->add_flag("--only-differences,-d", diff->flag, "show only the values that differ");
  cmd->callback([&ctx, diff] { ctx.action = [&ctx, diff] { return DiffModels(ctx, diff->ids, diff->flag); }; });

  RegisterAlias(model, ctx);

  auto get = std::make_shared<Args>();
  cmd = model->add_subcommand("get", "write a version's files into a folder, checking every hash");
  cmd->add_option("id", get->id, "model ID")->required();
  cmd->add_option("--to", get->to, "the folder (created if missing)")->required();
  cmd->add_flag("--force,-f", get->flag, "overwrite files with other content");
  cmd->callback([&ctx, get] { ctx.action = [&ctx, get] { return GetModel(ctx, get->id, get->to, get->flag); }; });

  auto del = std::make_shared<Args>();
  cmd = model->add_subcommand("delete", "delete a version (refused while an alias points at it)");
  cmd->add_option("id", del->id, "model ID")->required();
  cmd->callback([&ctx, del] { ctx.action = [&ctx, del] { return DeleteModel(ctx, del->id); }; });

  RegisterModelReproduceCommand(model, ctx);
}

}  // namespace keel::cli
