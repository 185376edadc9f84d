#include "data/pointer.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <algorithm>

#include "core/paths.h"
#include "core/yaml.h"

namespace keel {
namespace {

const std::vector<std::string> kKeys = {"path", "kind", "hash", "size", "files", "executable"};

Result<uint64_t> ParseCount(const YAML::Node& node, std::string_view file, std::string_view key) {
  std::string text = node.Scalar();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!node.IsScalar() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgumentError(YamlWhere(file, node.Mark()) + ": field '" + std::string(key) +
                                "': '" + text + "' is not a non-negative integer");
  }
  return value;
}

Result<Pointer> ParseNode(const YAML::Node& root, std::string_view file) {
  if (!root.IsMap()) {
    return InvalidArgumentError(YamlWhere(file, root.Mark()) + ": expected a mapping of path, kind, hash, size, files");
  }
  for (const auto& item : root) {
    std::string key = item.first.Scalar();
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      return InvalidArgumentError(YamlWhere(file, item.first.Mark()) + ": unknown key '" + key + "'" +
                                  DidYouMean(key, kKeys));
    }
  }
  for (const char* key : {"path", "hash", "size"}) {
    if (!root[key]) return InvalidArgumentError(std::string(file) + ": missing field '" + key + "'");
  }
  Pointer p;
  p.path = root["path"].Scalar();
  // One name beside the pointer: a pointer from someone else's commit must
  // not be able to make checkout write or delete anything else.
  if (p.path.empty() || p.path.find('/') != std::string::npos || p.path == "." || p.path == ".." ||
      p.path == ".keel" || p.path == ".git" || p.path.find('\0') != std::string::npos) {
    return InvalidArgumentError(YamlWhere(file, root["path"].Mark()) + ": field 'path': '" + p.path +
                                "' must be the name of a file or folder beside the pointer");
  }
  if (!IsValidUtf8(p.path)) {
    return InvalidArgumentError(YamlWhere(file, root["path"].Mark()) + ": field 'path' is not valid UTF-8");
  }
  std::string kind = root["kind"] ? root["kind"].Scalar() : "file";
  if (kind == "file") p.kind = DataKind::kFile;
  else if (kind == "dir") p.kind = DataKind::kDir;
  else {
    return InvalidArgumentError(YamlWhere(file, root["kind"].Mark()) + ": field 'kind': '" + kind +
                                "' is not 'file' or 'dir'");
  }
  Result<Digest> digest = Digest::Parse(root["hash"].Scalar(),
                                        YamlWhere(file, root["hash"].Mark()) + ": field 'hash'");
  if (!digest.ok()) return digest.status();
  p.digest = *digest;
  KEEL_ASSIGN_OR_RETURN(p.size, ParseCount(root["size"], file, "size"));
  p.files = p.kind == DataKind::kFile ? 1 : 0;
  if (root["files"]) {
    KEEL_ASSIGN_OR_RETURN(p.files, ParseCount(root["files"], file, "files"));
  }
  if (root["executable"]) {
    std::string exec = root["executable"].Scalar();
    if (exec != "true" && exec != "false") {
      return InvalidArgumentError(YamlWhere(file, root["executable"].Mark()) +
                                  ": field 'executable': '" + exec + "' is not true or false");
    }
    p.executable = exec == "true";
  }
  return p;
}

}  // namespace

std::string_view DataKindName(DataKind kind) { return kind == DataKind::kDir ? "dir" : "file"; }

std::string Pointer::Serialize() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "path" << YAML::Value << path;
  out << YAML::Key << "kind" << YAML::Value << std::string(DataKindName(kind));
  out << YAML::Key << "hash" << YAML::Value << digest.ToString();
  out << YAML::Key << "size" << YAML::Value << size;
  out << YAML::Key << "files" << YAML::Value << files;
  if (executable) out << YAML::Key << "executable" << YAML::Value << true;
  out << YAML::EndMap;
  return "# keel data pointer: `keel data checkout` restores the data it names\n" +
         std::string(out.c_str()) + "\n";
}

Result<Pointer> Pointer::Parse(std::string_view text, std::string_view file) {
  try {
    return ParseNode(YAML::Load(std::string(text)), file);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

}  // namespace keel
