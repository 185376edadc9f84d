#include "pipeline/lock_file.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <optional>
#include <set>

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

// keel.lock is written by hand rather than through yaml-cpp's emitter:
// the layout is fixed (docs/format/pipeline.md), and the emitter costs
// about 100 ms per MiB, paid after every stage of a run.
bool IsPlain(std::string_view s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos) return false;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) return false;
  // Plain words YAML reads as null would not come back as the same text.
  if (s == "~" || s == "null" || s == "Null" || s == "NULL") return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

void AppendScalar(std::string* out, std::string_view s) {
  if (IsPlain(s)) {
    out->append(s);
    return;
  }
  static const char kHex[] = "0123456789abcdef";
  *out += '"';
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += c;
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '\t') {
      *out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      *out += "\\x";
      *out += kHex[u >> 4];
      *out += kHex[u & 15];
    } else {
      *out += c;
    }
  }
  *out += '"';
}

void Entry(std::string* out, int indent, std::string_view key, std::string_view value) {
  out->append(indent, ' ');
  AppendScalar(out, key);
  *out += ": ";
  AppendScalar(out, value);
  *out += '\n';
}

void Open(std::string* out, int indent, std::string_view key) {
  out->append(indent, ' ');
  AppendScalar(out, key);
  *out += ":\n";
}

void EmitPaths(std::string* out, const char* key, const std::vector<LockedPath>& paths, bool is_out) {
  if (paths.empty()) return;
  Open(out, 4, key);
  for (const LockedPath& p : paths) {
    *out += "      - ";
    Entry(out, 0, "path", p.path);
    if (is_out) Entry(out, 8, "kind", DataKindName(p.kind));
    Entry(out, 8, "hash", p.digest.ToString());
    Entry(out, 8, "size", std::to_string(p.size));
    Entry(out, 8, "files", std::to_string(p.files));
    if (p.executable) Entry(out, 8, "executable", "true");
    if (!p.cache) Entry(out, 8, "cache", "false");
  }
}

// One stage's body, its keys at indent 4.
void EmitStage(std::string* out, const LockedStage& s) {
  if (s.cmd_is_list) {
    Open(out, 4, "cmd");
    for (const std::string& c : s.cmd) {
      *out += "      - ";
      AppendScalar(out, c);
      *out += '\n';
    }
  } else {
    Entry(out, 4, "cmd", s.cmd.empty() ? std::string_view() : std::string_view(s.cmd.front()));
  }
  if (!s.wdir.empty()) Entry(out, 4, "wdir", s.wdir);
  if (!s.env.empty()) {
    Open(out, 4, "env");
    for (const auto& [k, v] : s.env) Entry(out, 6, k, v);
  }
  EmitPaths(out, "deps", s.deps, false);
  if (!s.params.empty()) {
    Open(out, 4, "params");
    for (const auto& [file, values] : s.params) {
      if (values.empty()) continue;
      Open(out, 6, file);
      for (const auto& [k, v] : values) Entry(out, 8, k, v);
    }
  }
  EmitPaths(out, "outs", s.outs, true);
}

// The fast path for reading keel.lock: exactly the layout EmitStage writes,
// line by line. Anything else (a hand edit, a merge) returns nullopt and is
// read by yaml-cpp instead, which is ~50 times slower but takes any YAML.
class CanonicalLockReader {
 public:
  explicit CanonicalLockReader(std::string_view text) : text_(text) {}

  std::optional<LockFile> Read() {
    LockFile lock;
    while (Next() && (line_.empty() || line_.front() == '#')) {
    }
    if (line_ != "schema: " + std::to_string(kSchema) || !Next()) return std::nullopt;
    if (line_ == "stages: {}") return Next() ? std::nullopt : std::optional<LockFile>(lock);
    if (line_ != "stages:") return std::nullopt;
    bool more = Next();
    std::set<std::string> names;
    while (more) {
      std::string name;
      if (indent_ != 2 || !KeyOnly(&name) || !names.insert(name).second) return std::nullopt;
      LockedStage stage;
      stage.name = std::move(name);
      more = Next();
      std::set<std::string> keys;
      while (more && indent_ == 4) {
        if (!StageKey(&stage, &keys, &more)) return std::nullopt;
      }
      if (stage.cmd.empty() && !stage.cmd_is_list) return std::nullopt;  // no cmd: let the full parser say so
      lock.stages.push_back(std::move(stage));
    }
    return done_ ? std::optional<LockFile>(std::move(lock)) : std::nullopt;
  }

 private:
  // Advances to the next line; false at the end (then done_ is set).
  bool Next() {
    if (pos_ >= text_.size()) {
      done_ = true;
      return false;
    }
    size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    std::string_view raw = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    indent_ = raw.find_first_not_of(' ');
    if (indent_ == std::string_view::npos) indent_ = raw.size();
    line_ = raw.substr(indent_);
    return true;
  }

  // A scalar at the start of `in`: plain up to `stop` (": " for keys, end
  // of line for values) or double-quoted. Sets *rest to what follows.
  static bool Scalar(std::string_view in, bool is_key, std::string* out, std::string_view* rest) {
    out->clear();
    if (!in.empty() && in.front() == '"') {
      size_t i = 1;
      for (; i < in.size() && in[i] != '"'; ++i) {
        if (in[i] != '\\') {
          *out += in[i];
          continue;
        }
        if (++i >= in.size()) return false;
        switch (in[i]) {
          case '"': case '\\': *out += in[i]; break;
          case 'n': *out += '\n'; break;
          case 't': *out += '\t'; break;
          case 'x': {
            if (i + 2 >= in.size()) return false;
            unsigned v = 0;
            auto [p, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
            if (ec != std::errc() || p != in.data() + i + 3) return false;
            *out += static_cast<char>(v);
            i += 2;
            break;
          }
          default: return false;
        }
      }
      if (i >= in.size()) return false;
      *rest = in.substr(i + 1);
      return true;
    }
    size_t end = is_key ? in.find(':') : in.size();
    if (end == std::string_view::npos) return false;
    std::string_view plain = in.substr(0, end);
    if (!IsPlain(plain)) return false;
    out->assign(plain);
    *rest = in.substr(end);
    return true;
  }

  static bool KeyValue(std::string_view line, std::string* key, std::string* value) {
    std::string_view rest;
    if (!Scalar(line, true, key, &rest) || rest.substr(0, 2) != ": ") return false;
    return Scalar(rest.substr(2), false, value, &rest) && rest.empty();
  }

  bool KeyOnly(std::string* key) const {
    std::string_view rest;
    return Scalar(line_, true, key, &rest) && rest == ":";
  }

  // Anything the full parser would read differently — a repeated key, a
  // key with nothing under it — is left to it (returns false).
  bool StageKey(LockedStage* stage, std::set<std::string>* keys, bool* more) {
    std::string key, value;
    if (KeyValue(line_, &key, &value)) {
      if (!keys->insert(key).second) return false;
      if (key == "cmd") stage->cmd = {value};
      else if (key == "wdir") stage->wdir = value;
      else return false;
      *more = Next();
      return true;
    }
    if (!KeyOnly(&key) || !keys->insert(key).second) return false;
    *more = Next();
    if (key == "cmd") {
      stage->cmd_is_list = true;
      for (; *more && indent_ == 6 && line_.substr(0, 2) == "- "; *more = Next()) {
        std::string_view rest;
        if (!Scalar(line_.substr(2), false, &value, &rest) || !rest.empty()) return false;
        stage->cmd.push_back(value);
      }
      return !stage->cmd.empty();
    }
    if (key == "env") return Map(6, &stage->env, more);
    if (key == "params") {
      std::string file;
      while (*more && indent_ == 6 && KeyOnly(&file)) {
        if (stage->params.count(file)) return false;
        *more = Next();
        if (!Map(8, &stage->params[file], more)) return false;
      }
      return !stage->params.empty();
    }
    if (key == "deps") return Paths(&stage->deps, more);
    if (key == "outs") return Paths(&stage->outs, more);
    return false;
  }

  bool Map(size_t indent, std::map<std::string, std::string>* out, bool* more) {
    std::string key, value;
    size_t read = 0;
    for (; *more && indent_ == indent; *more = Next(), ++read) {
      if (!KeyValue(line_, &key, &value) || !out->emplace(key, value).second) return false;
    }
    return read > 0;
  }

  bool Paths(std::vector<LockedPath>* out, bool* more) {
    std::string key, value;
    while (*more && indent_ == 6 && line_.substr(0, 2) == "- ") {
      std::map<std::string, std::string> fields;
      if (!KeyValue(line_.substr(2), &key, &value)) return false;
      fields[key] = value;
      *more = Next();
      // A path entry has more than its first key; Map refuses none.
      if (!Map(8, &fields, more)) return false;
      std::optional<LockedPath> p = ToPath(fields);
      if (!p) return false;
      out->push_back(std::move(*p));
    }
    return !out->empty();
  }

  static std::optional<LockedPath> ToPath(const std::map<std::string, std::string>& f) {
    static const std::set<std::string> kKnown = {"path", "kind", "hash", "size", "files", "executable", "cache"};
    for (const auto& [k, v] : f) {
      if (!kKnown.count(k)) return std::nullopt;
    }
    auto get = [&](const char* k) { auto it = f.find(k); return it == f.end() ? std::string() : it->second; };
    LockedPath p;
    p.path = get("path");
    std::string kind = get("kind");
    if (kind == "dir") p.kind = DataKind::kDir;
    else if (!kind.empty() && kind != "file") return std::nullopt;
    Result<Digest> d = Digest::Parse(get("hash"), "hash");
    if (!d.ok()) return std::nullopt;
    p.digest = *d;
    for (auto [key, field] : {std::pair{"size", &p.size}, std::pair{"files", &p.files}}) {
      std::string v = get(key);
      auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), *field);
      if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
    }
    p.executable = get("executable") == "true";
    p.cache = get("cache") != "false";
    return p;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t indent_ = 0;
  std::string_view line_;
  bool done_ = false;
};

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
    Result<Digest> digest = Digest::Parse(hash, YamlWhere(file_, node["hash"].Mark()) + ": 'hash'");
    if (!digest.ok()) return CorruptError(digest.status().message());
    p.digest = *digest;
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
  std::string out = kHeader;
  out += "schema: " + std::to_string(kSchema) + "\n";
  if (lock.stages.empty()) return out + "stages: {}\n";
  out += "stages:\n";
  for (const LockedStage& s : lock.stages) {
    Open(&out, 2, s.name);
    EmitStage(&out, s);
  }
  return out;
}

Result<LockFile> ParseLockFile(std::string_view text, std::string_view file) {
  if (std::optional<LockFile> fast = CanonicalLockReader(text).Read()) return std::move(*fast);
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
      if (lock.Find(item.first.Scalar()) != nullptr) {
        return parser.Error(item.first, "stage '" + item.first.Scalar() + "' appears twice");
      }
      KEEL_ASSIGN_OR_RETURN(LockedStage s, parser.Stage(item.first.Scalar(), item.second));
      lock.stages.push_back(std::move(s));
    }
    return lock;
  } catch (const YAML::Exception& e) {
    return CorruptError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

std::string SerializeLockedStage(const LockedStage& stage) {
  std::string out = "schema: " + std::to_string(kSchema) + "\n";
  Entry(&out, 0, "stage", stage.name);
  out += "run:\n";
  // The body is indented as in keel.lock: deeper than needed, still YAML.
  EmitStage(&out, stage);
  return out;
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
