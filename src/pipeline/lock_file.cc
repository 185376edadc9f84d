#include "pipeline/lock_file.h"

#include <yaml-cpp/yaml.h>

#include <charconv>

#include "core/yaml.h"

namespace keel {

const LockedStage* LockFile::Find(std::string_view name) const {
  for (const LockedStage& s : stages) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void LockFile::Put(LockedStage stage) {
  for (LockedStage& s : stages) {
    if (s.name == stage.name) {
      s = std::move(stage);
      return;
    }
  }
  stages.push_back(std::move(stage));
}

LockedPath LockedPathOf(const std::string& path, const Pointer& p, bool cache) {
  return {path, p.kind, p.digest, p.size, p.files, p.executable, cache};
}

Pointer PointerOf(const LockedPath& p) {
  Pointer out;
  out.path = p.path.substr(p.path.rfind('/') + 1);
  out.kind = p.kind;
  out.digest = p.digest;
  out.size = p.size;
  out.files = p.files;
  out.executable = p.executable;
  return out;
}

namespace {

constexpr char kHeader[] = "# keel.lock: what produced every out (written by keel run; see docs/format/pipeline.md)\n";
constexpr int kSchema = 1;

// Length-prefixed fields, so that no two different stages hash alike.
void Field(Sha256* h, std::string_view tag, std::string_view value) {
  std::string head = std::string(tag) + ":" + std::to_string(value.size()) + ":";
  h->Update(head);
  h->Update(value);
}

void EmitPaths(YAML::Emitter& out, const char* key, const std::vector<LockedPath>& paths, bool is_out) {
  if (paths.empty()) return;
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const LockedPath& p : paths) {
    out << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << p.path;
    if (is_out) out << YAML::Key << "kind" << YAML::Value << std::string(DataKindName(p.kind));
    out << YAML::Key << "hash" << YAML::Value << p.digest.ToString();
    out << YAML::Key << "size" << YAML::Value << p.size;
    out << YAML::Key << "files" << YAML::Value << p.files;
    if (p.executable) out << YAML::Key << "executable" << YAML::Value << true;
    if (!p.cache) out << YAML::Key << "cache" << YAML::Value << false;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void EmitStage(YAML::Emitter& out, const LockedStage& s) {
  out << YAML::BeginMap;
  out << YAML::Key << "cmd" << YAML::Value;
  if (s.cmd_is_list) {
    out << YAML::BeginSeq;
    for (const std::string& c : s.cmd) out << c;
    out << YAML::EndSeq;
  } else {
    out << (s.cmd.empty() ? std::string() : s.cmd.front());
  }
  if (!s.wdir.empty()) out << YAML::Key << "wdir" << YAML::Value << s.wdir;
  if (!s.env.empty()) {
    out << YAML::Key << "env" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : s.env) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
  }
  EmitPaths(out, "deps", s.deps, false);
  if (!s.params.empty()) {
    out << YAML::Key << "params" << YAML::Value << YAML::BeginMap;
    for (const auto& [file, values] : s.params) {
      out << YAML::Key << file << YAML::Value << YAML::BeginMap;
      for (const auto& [k, v] : values) out << YAML::Key << k << YAML::Value << v;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  EmitPaths(out, "outs", s.outs, true);
  out << YAML::EndMap;
}

class LockParser {
 public:
  explicit LockParser(std::string_view file) : file_(file) {}

  Status Error(const YAML::Node& node, const std::string& message) const {
    return CorruptError(YamlWhere(file_, node.Mark()) + ": " + message);
  }

  Result<std::string> Scalar(const YAML::Node& map, const char* key, bool required) const {
    const YAML::Node n = map[key];
    if (!n) {
      if (required) return Error(map, std::string("missing key '") + key + "'");
      return std::string();
    }
    if (!n.IsScalar()) return Error(n, std::string("'") + key + "' must be a string");
    return n.Scalar();
  }

  Result<uint64_t> Count(const YAML::Node& map, const char* key) const {
    KEEL_ASSIGN_OR_RETURN(std::string text, Scalar(map, key, true));
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return Error(map[key], std::string("'") + key + "': '" + text + "' is not a non-negative integer");
    }
    return value;
  }

  Result<LockedPath> Path(const YAML::Node& node) const {
    if (!node.IsMap()) return Error(node, "expected a mapping with path, hash, size, files");
    LockedPath p;
    KEEL_ASSIGN_OR_RETURN(p.path, Scalar(node, "path", true));
    KEEL_ASSIGN_OR_RETURN(std::string kind, Scalar(node, "kind", false));
    if (kind == "dir") p.kind = DataKind::kDir;
    else if (!kind.empty() && kind != "file") return Error(node["kind"], "'kind': '" + kind + "' is not file or dir");
    KEEL_ASSIGN_OR_RETURN(std::string hash, Scalar(node, "hash", true));
    KEEL_ASSIGN_OR_RETURN(p.digest, Digest::Parse(hash, YamlWhere(file_, node["hash"].Mark()) + ": 'hash'"));
    KEEL_ASSIGN_OR_RETURN(p.size, Count(node, "size"));
    KEEL_ASSIGN_OR_RETURN(p.files, Count(node, "files"));
    KEEL_ASSIGN_OR_RETURN(std::string exec, Scalar(node, "executable", false));
    p.executable = exec == "true";
    KEEL_ASSIGN_OR_RETURN(std::string cache, Scalar(node, "cache", false));
    p.cache = cache != "false";
    return p;
  }

  Status Paths(const YAML::Node& list, std::vector<LockedPath>* out) const {
    if (!list) return Status::Ok();
    if (!list.IsSequence()) return Error(list, "expected a list");
    for (const YAML::Node& item : list) {
      KEEL_ASSIGN_OR_RETURN(LockedPath p, Path(item));
      out->push_back(std::move(p));
    }
    return Status::Ok();
  }

  Status StringMap(const YAML::Node& node, std::map<std::string, std::string>* out) const {
    if (!node) return Status::Ok();
    if (!node.IsMap()) return Error(node, "expected a mapping");
    for (const auto& item : node) {
      if (!item.second.IsScalar() && !item.second.IsNull()) return Error(item.second, "expected a value");
      (*out)[item.first.Scalar()] = item.second.IsNull() ? "null" : item.second.Scalar();
    }
    return Status::Ok();
  }

  Result<LockedStage> Stage(const std::string& name, const YAML::Node& node) const {
    LockedStage s;
    s.name = name;
    if (!node.IsMap()) return Error(node, "stage '" + name + "': expected a mapping");
    const YAML::Node cmd = node["cmd"];
    if (!cmd) return Error(node, "stage '" + name + "': missing key 'cmd'");
    if (cmd.IsSequence()) {
      s.cmd_is_list = true;
      for (const YAML::Node& c : cmd) s.cmd.push_back(c.Scalar());
    } else {
      s.cmd.push_back(cmd.Scalar());
    }
    KEEL_ASSIGN_OR_RETURN(s.wdir, Scalar(node, "wdir", false));
    KEEL_RETURN_IF_ERROR(StringMap(node["env"], &s.env));
    KEEL_RETURN_IF_ERROR(Paths(node["deps"], &s.deps));
    if (const YAML::Node params = node["params"]) {
      if (!params.IsMap()) return Error(params, "stage '" + name + "': 'params' must be a mapping of files");
      for (const auto& file : params) KEEL_RETURN_IF_ERROR(StringMap(file.second, &s.params[file.first.Scalar()]));
    }
    KEEL_RETURN_IF_ERROR(Paths(node["outs"], &s.outs));
    return s;
  }

 private:
  std::string file_;
};

}  // namespace

Digest LockedStage::Signature() const {
  Sha256 h;
  for (const std::string& c : cmd) Field(&h, "cmd", c);
  Field(&h, "wdir", wdir);
  for (const auto& [k, v] : env) {
    Field(&h, "env", k);
    Field(&h, "=", v);
  }
  for (const LockedPath& d : deps) {
    Field(&h, "dep", d.path);
    Field(&h, "hash", d.digest.Hex());
  }
  for (const auto& [file, values] : params) {
    Field(&h, "params", file);
    for (const auto& [k, v] : values) {
      Field(&h, "key", k);
      Field(&h, "=", v);
    }
  }
  for (const LockedPath& o : outs) {
    Field(&h, "out", o.path);
    Field(&h, "cache", o.cache ? "1" : "0");
  }
  return h.Finish();
}

std::string SerializeLockFile(const LockFile& lock) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "schema" << YAML::Value << kSchema;
  out << YAML::Key << "stages" << YAML::Value << YAML::BeginMap;
  for (const LockedStage& s : lock.stages) {
    out << YAML::Key << s.name << YAML::Value;
    EmitStage(out, s);
  }
  out << YAML::EndMap << YAML::EndMap;
  return kHeader + std::string(out.c_str()) + "\n";
}

Result<LockFile> ParseLockFile(std::string_view text, std::string_view file) {
  LockParser parser(file);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    LockFile lock;
    if (root.IsNull()) return lock;
    if (!root.IsMap()) return parser.Error(root, "expected a mapping with 'schema' and 'stages'");
    const YAML::Node schema = root["schema"];
    if (!schema || schema.Scalar() != std::to_string(kSchema)) {
      return parser.Error(schema ? schema : root, "unsupported schema (this keel reads schema " +
                                                      std::to_string(kSchema) + ")");
    }
    const YAML::Node stages = root["stages"];
    if (!stages || stages.IsNull()) return lock;
    if (!stages.IsMap()) return parser.Error(stages, "'stages' must be a mapping");
    for (const auto& item : stages) {
      KEEL_ASSIGN_OR_RETURN(LockedStage s, parser.Stage(item.first.Scalar(), item.second));
      lock.stages.push_back(std::move(s));
    }
    return lock;
  } catch (const YAML::Exception& e) {
    return CorruptError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

std::string SerializeLockedStage(const LockedStage& stage) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "schema" << YAML::Value << kSchema;
  out << YAML::Key << "stage" << YAML::Value << stage.name;
  out << YAML::Key << "run" << YAML::Value;
  EmitStage(out, stage);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<LockedStage> ParseLockedStage(std::string_view text, std::string_view file) {
  LockParser parser(file);
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap() || !root["stage"] || !root["run"]) {
      return parser.Error(root, "expected a run-cache entry with 'schema', 'stage' and 'run'");
    }
    if (root["schema"].Scalar() != std::to_string(kSchema)) return parser.Error(root, "unsupported schema");
    return parser.Stage(root["stage"].Scalar(), root["run"]);
  } catch (const YAML::Exception& e) {
    return CorruptError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

}  // namespace keel
