#include "pipeline/pipeline_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <set>

#include "core/paths.h"
#include "core/yaml.h"

namespace keel {

std::string_view OutKindName(OutKind kind) {
  switch (kind) {
    case OutKind::kOut: return "outs";
    case OutKind::kMetric: return "metrics";
    case OutKind::kPlot: return "plots";
  }
  return "outs";
}

const StageSpec* PipelineSpec::Find(std::string_view name) const {
  for (const StageSpec& s : stages) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

namespace {

const std::vector<std::string> kTopKeys = {"params", "stages", "model"};
const std::vector<std::string> kStageKeys = {"cmd",  "wdir",  "deps", "params",
                                             "outs", "metrics", "plots", "env"};
const std::vector<std::string> kOutOptions = {"cache"};
const std::vector<std::string> kModelKeys = {"name", "path", "flavor", "description"};

// The registry's rule for model names (registry/model_id.h, which this
// layer cannot include): [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
bool IsModelName(const std::string& name) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (name.empty() || name.size() > 128 || !alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  Result<PipelineSpec> Top(const YAML::Node& root) {
    PipelineSpec spec;
    spec.file = file_;
    spec.params_file = kDefaultParamsFile;
    if (root.IsNull()) return spec;
    if (!root.IsMap()) return Error(root, "expected a mapping with 'stages' (and optionally 'params' and 'model')");
    KEEL_RETURN_IF_ERROR(CheckKeys(root, kTopKeys, ""));
    if (const YAML::Node params = root["params"]) {
      KEEL_ASSIGN_OR_RETURN(std::string p, Path(params, "", "params"));
      spec.params_file = p;
    }
    const YAML::Node stages = root["stages"];
    if (stages && !stages.IsNull()) {
      if (!stages.IsMap()) return Error(stages, "'stages' must be a mapping of stage names to stages");
      std::set<std::string> names;
      for (const auto& item : stages) {
        if (!names.insert(item.first.Scalar()).second) {
          return Error(item.first, "stage '" + item.first.Scalar() + "' is defined twice");
        }
        KEEL_ASSIGN_OR_RETURN(StageSpec stage, Stage(item.first, item.second, spec.params_file));
        spec.stages.push_back(std::move(stage));
      }
    }
    if (const YAML::Node models = root["model"]) KEEL_RETURN_IF_ERROR(Models(models, &spec));
    return spec;
  }

 private:
  Status Error(const YAML::Node& node, const std::string& message) const {
    return InvalidArgumentError(YamlWhere(file_, node.Mark()) + ": " + message);
  }
  std::string Where(const YAML::Node& node) const { return YamlWhere(file_, node.Mark()); }

  // Each key known and given once. yaml-cpp keeps repeated keys, and a
  // stage whose second 'deps' silently won would be a trap.
  Status CheckKeys(const YAML::Node& map, const std::vector<std::string>& known, const std::string& context) {
    std::set<std::string> seen;
    for (const auto& item : map) {
      KEEL_RETURN_IF_ERROR(CheckKey(item.first, known, context));
      if (!seen.insert(item.first.Scalar()).second) {
        return Error(item.first, context + "key '" + item.first.Scalar() + "' is given twice");
      }
    }
    return Status::Ok();
  }

  // An empty value has no place of its own (yaml-cpp marks the next
  // token): errors about it point at its key.
  static YAML::Node KeyOf(const YAML::Node& map, const std::string& key) {
    for (const auto& item : map) {
      if (item.first.Scalar() == key) return item.first;
    }
    return map;
  }

  Status CheckKey(const YAML::Node& key, const std::vector<std::string>& known, const std::string& context) {
    std::string k = key.IsScalar() ? key.Scalar() : "";
    if (std::find(known.begin(), known.end(), k) != known.end()) return Status::Ok();
    std::string list;
    for (const std::string& s : known) list += (list.empty() ? "" : ", ") + s;
    return Error(key, context + "unknown key '" + k + "'" + DidYouMean(k, known) + " (known: " + list + ")");
  }

  // A path relative to `base`, normalised to a project path; refuses
  // absolute paths and paths that climb out of the project.
  Result<std::string> Path(const YAML::Node& node, const std::string& base, const std::string& what) {
    if (!node.IsScalar() || node.Scalar().empty()) return Error(node, what + ": expected a path");
    const std::string& raw = node.Scalar();
    if (raw.front() == '/') return Error(node, what + ": '" + raw + "' must be relative to the project");
    std::string path = NormalizePath(JoinPath(base, raw));
    if (path == ".." || path.rfind("../", 0) == 0) {
      return Error(node, what + ": '" + raw + "' lies outside the project");
    }
    if (path == "." ) path.clear();
    std::string first = path.substr(0, path.find('/'));
    if (first == ".keel" || first == ".git") {
      return Error(node, what + ": '" + raw + "' lies inside " + first + "/, which keel manages");
    }
    return path;
  }

  Result<StageSpec> Stage(const YAML::Node& key, const YAML::Node& node, const std::string& default_params) {
    StageSpec stage;
    stage.name = key.Scalar();
    stage.where = Where(key);
    KEEL_RETURN_IF_ERROR(CheckStageName(key));
    std::string ctx = "stage '" + stage.name + "': ";
    if (!node.IsMap()) return Error(node, ctx + "expected a mapping with at least 'cmd'");
    KEEL_RETURN_IF_ERROR(CheckKeys(node, kStageKeys, ctx));
    if (!node["cmd"]) return Error(key, ctx + "missing key 'cmd'");
    if (node["cmd"].IsNull()) return Error(KeyOf(node, "cmd"), ctx + "cmd: expected a command or a list of commands");
    KEEL_RETURN_IF_ERROR(Cmd(node["cmd"], ctx, &stage));
    if (const YAML::Node wdir = node["wdir"]) {
      KEEL_ASSIGN_OR_RETURN(stage.wdir, Path(wdir, "", ctx + "wdir"));
    }
    if (const YAML::Node deps = node["deps"]) {
      KEEL_RETURN_IF_ERROR(ForEachItem(deps, ctx + "deps", [&](const YAML::Node& d) -> Status {
        KEEL_ASSIGN_OR_RETURN(std::string path, Path(d, stage.wdir, ctx + "dep"));
        if (path.empty()) return Error(d, ctx + "dep: the whole project cannot be a dep");
        stage.deps.push_back({path, Where(d)});
        return Status::Ok();
      }));
    }
    if (const YAML::Node params = node["params"]) {
      KEEL_RETURN_IF_ERROR(Params(params, ctx, default_params, &stage));
    }
    for (OutKind kind : {OutKind::kOut, OutKind::kMetric, OutKind::kPlot}) {
      std::string name(OutKindName(kind));
      if (const YAML::Node outs = node[name]) {
        KEEL_RETURN_IF_ERROR(ForEachItem(outs, ctx + name, [&](const YAML::Node& o) {
          return Out(o, kind, ctx, &stage);
        }));
      }
    }
    if (const YAML::Node env = node["env"]) KEEL_RETURN_IF_ERROR(Env(env, ctx, &stage));
    return stage;
  }

  Status CheckStageName(const YAML::Node& key) {
    const std::string name = key.IsScalar() ? key.Scalar() : "";
    bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    if (!ok) return Error(key, "stage name '" + name + "': use letters, digits, '_', '-' and '.'");
    return Status::Ok();
  }

  Status Cmd(const YAML::Node& cmd, const std::string& ctx, StageSpec* stage) {
    if (cmd.IsScalar()) {
      stage->cmd.push_back(cmd.Scalar());
    } else if (cmd.IsSequence()) {
      stage->cmd_is_list = true;
      for (const YAML::Node& c : cmd) {
        if (!c.IsScalar()) return Error(c, ctx + "cmd: each command must be a string");
        stage->cmd.push_back(c.Scalar());
      }
    } else {
      return Error(cmd, ctx + "cmd: expected a command or a list of commands");
    }
    if (stage->cmd.empty()) return Error(cmd, ctx + "cmd: the list of commands is empty");
    for (const std::string& c : stage->cmd) {
      if (c.find_first_not_of(" \t\n") == std::string::npos) return Error(cmd, ctx + "cmd: empty command");
    }
    return Status::Ok();
  }

  Status ForEachItem(const YAML::Node& list, const std::string& what,
                     const std::function<Status(const YAML::Node&)>& fn) {
    if (list.IsNull()) return Status::Ok();
    if (!list.IsSequence()) return Error(list, what + ": expected a list");
    for (const YAML::Node& item : list) KEEL_RETURN_IF_ERROR(fn(item));
    return Status::Ok();
  }

  Status Params(const YAML::Node& params, const std::string& ctx, const std::string& default_file,
                StageSpec* stage) {
    return ForEachItem(params, ctx + "params", [&](const YAML::Node& p) -> Status {
      if (p.IsScalar()) {
        stage->params.push_back({default_file, p.Scalar(), Where(p)});
        return Status::Ok();
      }
      if (!p.IsMap()) return Error(p, ctx + "params: expected a key, a section or {FILE: [keys]}");
      for (const auto& entry : p) {
        KEEL_ASSIGN_OR_RETURN(std::string file, Path(entry.first, stage->wdir, ctx + "params file"));
        KEEL_RETURN_IF_ERROR(ForEachItem(entry.second, ctx + "params of " + file, [&](const YAML::Node& k) {
          if (!k.IsScalar() || k.Scalar().empty()) return Error(k, ctx + "params: expected a key");
          stage->params.push_back({file, k.Scalar(), Where(k)});
          return Status::Ok();
        }));
      }
      return Status::Ok();
    });
  }

  Status Out(const YAML::Node& o, OutKind kind, const std::string& ctx, StageSpec* stage) {
    std::string what = ctx + std::string(OutKindName(kind));
    OutSpec out;
    out.kind = kind;
    out.where = Where(o);
    YAML::Node path_node = o;
    if (o.IsMap()) {
      if (o.size() != 1) return Error(o, what + ": expected PATH or {PATH: {cache: false}}");
      auto entry = *o.begin();
      path_node = entry.first;
      const YAML::Node options = entry.second;
      if (!options.IsNull() && !options.IsMap()) return Error(options, what + ": options must be a mapping");
      for (const auto& opt : options) {
        KEEL_RETURN_IF_ERROR(CheckKey(opt.first, kOutOptions, what + ": "));
        const std::string v = opt.second.IsScalar() ? opt.second.Scalar() : "";
        if (v != "true" && v != "false") return Error(opt.second, what + ": cache: expected true or false");
        out.cache = v == "true";
      }
    }
    KEEL_ASSIGN_OR_RETURN(out.path, Path(path_node, stage->wdir, what));
    if (out.path.empty()) return Error(path_node, what + ": the whole project cannot be an out");
    stage->outs.push_back(std::move(out));
    return Status::Ok();
  }

  // `model:` is one {name, path, flavor, description} mapping or a list of
  // them. Needs the stages: each path must be written by one.
  Status Models(const YAML::Node& models, PipelineSpec* spec) {
    if (models.IsNull()) return Status::Ok();
    if (models.IsMap()) return Model(models, spec);
    if (!models.IsSequence()) {
      return Error(models, "model: expected {name: NAME, path: FOLDER} or a list of such mappings");
    }
    for (const YAML::Node& m : models) KEEL_RETURN_IF_ERROR(Model(m, spec));
    return Status::Ok();
  }

  Status Model(const YAML::Node& node, PipelineSpec* spec) {
    if (!node.IsMap()) return Error(node, "model: expected a mapping with 'name' and 'path'");
    KEEL_RETURN_IF_ERROR(CheckKeys(node, kModelKeys, "model: "));
    ModelSpec model;
    model.where = Where(node);
    const YAML::Node name = node["name"];
    if (!name) return Error(node, "model: missing key 'name'");
    if (!name.IsScalar() || !IsModelName(name.Scalar())) {
      return Error(name.IsNull() ? KeyOf(node, "name") : name,
                   "model: name '" + (name.IsScalar() ? name.Scalar() : "") +
                       "': use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 128)");
    }
    model.name = name.Scalar();
    for (const ModelSpec& other : spec->models) {
      if (other.name == model.name) return Error(name, "model '" + model.name + "' is listed twice");
    }
    std::string ctx = "model '" + model.name + "': ";
    const YAML::Node path = node["path"];
    if (!path) return Error(node, ctx + "missing key 'path' (the folder a stage writes)");
    KEEL_ASSIGN_OR_RETURN(model.path, Path(path, "", ctx + "path"));
    if (model.path.empty()) return Error(path, ctx + "path: the whole project cannot be a model");
    KEEL_RETURN_IF_ERROR(CheckIsOut(path, model.path, *spec, ctx));
    KEEL_RETURN_IF_ERROR(OptionalString(node, "flavor", ctx, &model.flavor));
    if (!model.flavor.empty() && !IsModelName(model.flavor)) {
      return Error(node["flavor"], ctx + "flavor '" + model.flavor + "': use letters, digits, '.', '_' and '-'");
    }
    KEEL_RETURN_IF_ERROR(OptionalString(node, "description", ctx, &model.description));
    spec->models.push_back(std::move(model));
    return Status::Ok();
  }

  Status OptionalString(const YAML::Node& map, const std::string& key, const std::string& ctx, std::string* out) {
    const YAML::Node value = map[key];
    if (!value) return Status::Ok();
    if (!value.IsScalar() || value.Scalar().empty()) {
      return Error(value.IsNull() ? KeyOf(map, key) : value, ctx + key + ": expected a string");
    }
    *out = value.Scalar();
    return Status::Ok();
  }

  // A model's folder must be what a stage writes: one of its outs, or a
  // folder inside one.
  Status CheckIsOut(const YAML::Node& node, const std::string& path, const PipelineSpec& spec,
                    const std::string& ctx) {
    std::vector<std::string> outs;
    for (const StageSpec& stage : spec.stages) {
      for (const OutSpec& out : stage.outs) {
        if (IsWithin(out.path, path)) return Status::Ok();
        outs.push_back(out.path);
      }
    }
    return Error(node, ctx + "path '" + path + "' is not an out of any stage" + DidYouMean(path, outs) +
                           " (a model is a folder a stage writes: list it in that stage's outs)");
  }

  Status Env(const YAML::Node& env, const std::string& ctx, StageSpec* stage) {
    if (env.IsNull()) return Status::Ok();
    if (!env.IsMap()) return Error(env, ctx + "env: expected a mapping of names to strings");
    for (const auto& item : env) {
      const std::string name = item.first.Scalar();
      if (name.empty() || name.find('=') != std::string::npos) {
        return Error(item.first, ctx + "env: '" + name + "' is not a variable name");
      }
      if (!item.second.IsScalar()) {
        return Error(item.second.IsNull() ? item.first : item.second, ctx + "env: " + name + ": expected a string");
      }
      stage->env[name] = item.second.Scalar();
    }
    return Status::Ok();
  }

  std::string file_;
};

}  // namespace

namespace {

class SpecWriter {
 public:
  void Count(size_t n) {
    uint32_t v = static_cast<uint32_t>(n);
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void Str(std::string_view s) {
    Count(s.size());
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class SpecReader {
 public:
  explicit SpecReader(std::string_view in) : in_(in) {}
  bool Count(size_t* n) {
    uint32_t v;
    if (in_.size() < sizeof v) return false;
    std::memcpy(&v, in_.data(), sizeof v);
    in_.remove_prefix(sizeof v);
    *n = v;
    return true;
  }
  bool Str(std::string* s) {
    size_t n;
    if (!Count(&n) || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  // A count of items that each take at least 4 bytes: bounded by the input.
  bool Items(size_t* n) { return Count(n) && *n <= in_.size() / 4; }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

constexpr std::string_view kSpecMagic = "keel-spec-2\n";

}  // namespace

std::string EncodeSpec(const PipelineSpec& spec) {
  SpecWriter w;
  w.Str(spec.file);
  w.Str(spec.params_file);
  w.Count(spec.stages.size());
  for (const StageSpec& s : spec.stages) {
    w.Str(s.name);
    w.Str(s.where);
    w.Count(s.cmd.size());
    for (const std::string& c : s.cmd) w.Str(c);
    w.Count(s.cmd_is_list ? 1 : 0);
    w.Str(s.wdir);
    w.Count(s.deps.size());
    for (const DepSpec& d : s.deps) {
      w.Str(d.path);
      w.Str(d.where);
    }
    w.Count(s.params.size());
    for (const ParamSpec& p : s.params) {
      w.Str(p.file);
      w.Str(p.key);
      w.Str(p.where);
    }
    w.Count(s.outs.size());
    for (const OutSpec& o : s.outs) {
      w.Str(o.path);
      w.Count(static_cast<size_t>(o.kind));
      w.Count(o.cache ? 1 : 0);
      w.Str(o.where);
    }
    w.Count(s.env.size());
    for (const auto& [k, v] : s.env) {
      w.Str(k);
      w.Str(v);
    }
  }
  w.Count(spec.models.size());
  for (const ModelSpec& m : spec.models) {
    w.Str(m.name);
    w.Str(m.path);
    w.Str(m.flavor);
    w.Str(m.description);
    w.Str(m.where);
  }
  return std::string(kSpecMagic) + w.Take();
}

std::optional<PipelineSpec> DecodeSpec(std::string_view data) {
  if (data.substr(0, kSpecMagic.size()) != kSpecMagic) return std::nullopt;
  SpecReader r(data.substr(kSpecMagic.size()));
  PipelineSpec spec;
  size_t stages = 0;
  if (!r.Str(&spec.file) || !r.Str(&spec.params_file) || !r.Items(&stages)) return std::nullopt;
  for (size_t i = 0; i < stages; ++i) {
    StageSpec s;
    size_t n = 0, flag = 0;
    if (!r.Str(&s.name) || !r.Str(&s.where) || !r.Items(&n)) return std::nullopt;
    s.cmd.resize(n);
    for (std::string& c : s.cmd) {
      if (!r.Str(&c)) return std::nullopt;
    }
    if (!r.Count(&flag) || flag > 1 || !r.Str(&s.wdir) || !r.Items(&n)) return std::nullopt;
    s.cmd_is_list = flag == 1;
    s.deps.resize(n);
    for (DepSpec& d : s.deps) {
      if (!r.Str(&d.path) || !r.Str(&d.where)) return std::nullopt;
    }
    if (!r.Items(&n)) return std::nullopt;
    s.params.resize(n);
    for (ParamSpec& p : s.params) {
      if (!r.Str(&p.file) || !r.Str(&p.key) || !r.Str(&p.where)) return std::nullopt;
    }
    if (!r.Items(&n)) return std::nullopt;
    s.outs.resize(n);
    for (OutSpec& o : s.outs) {
      size_t kind = 0;
      if (!r.Str(&o.path) || !r.Count(&kind) || kind > 2 || !r.Count(&flag) || flag > 1 || !r.Str(&o.where)) {
        return std::nullopt;
      }
      o.kind = static_cast<OutKind>(kind);
      o.cache = flag == 1;
    }
    if (!r.Items(&n)) return std::nullopt;
    for (size_t j = 0; j < n; ++j) {
      std::string k, v;
      if (!r.Str(&k) || !r.Str(&v)) return std::nullopt;
      s.env[k] = v;
    }
    spec.stages.push_back(std::move(s));
  }
  size_t models = 0;
  if (!r.Items(&models)) return std::nullopt;
  spec.models.resize(models);
  for (ModelSpec& m : spec.models) {
    if (!r.Str(&m.name) || !r.Str(&m.path) || !r.Str(&m.flavor) || !r.Str(&m.description) || !r.Str(&m.where)) {
      return std::nullopt;
    }
  }
  if (!r.done()) return std::nullopt;
  return spec;
}

Result<PipelineSpec> ParsePipeline(std::string_view text, std::string_view file) {
  try {
    return Parser(file).Top(YAML::Load(std::string(text)));
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

}  // namespace keel
