#include "data/project.h"

#include <yaml-cpp/yaml.h>

#include "core/paths.h"
#include "core/yaml.h"

namespace keel {
namespace {

constexpr char kConfigTemplate[] =
    "# keel project configuration (see docs/format/config.md)\n"
    "cache:\n"
    "  # How data enters the store and is checked out; the first that works wins:\n"
    "  # reflink (copy-on-write), hardlink (files become read-only), copy.\n"
    "  # Unset: reflink,hardlink,copy, or reflink,copy when running as root\n"
    "  # (root writes through read-only files into the stored version).\n"
    "  # type: reflink,hardlink,copy\n";

Result<ProjectConfig> ParseConfigNode(const YAML::Node& root, std::string_view file) {
  ProjectConfig config;
  if (root.IsNull()) return config;
  if (!root.IsMap()) return InvalidArgumentError(YamlWhere(file, root.Mark()) + ": expected a mapping");
  for (const auto& section : root) {
    std::string name = section.first.Scalar();
    if (name != "cache") {
      return InvalidArgumentError(YamlWhere(file, section.first.Mark()) + ": unknown section '" + name +
                                  "' (known: cache)");
    }
    if (section.second.IsNull()) continue;
    if (!section.second.IsMap()) {
      return InvalidArgumentError(YamlWhere(file, section.second.Mark()) + ": 'cache' must be a mapping");
    }
    for (const auto& item : section.second) {
      std::string key = item.first.Scalar();
      if (key != "type") {
        return InvalidArgumentError(YamlWhere(file, item.first.Mark()) + ": unknown key 'cache." + key +
                                    "' (known: cache.type)");
      }
      Result<std::vector<CloneMethod>> order = ParseCloneOrder(item.second.Scalar());
      if (!order.ok()) return order.status().WithPrefix(YamlWhere(file, item.second.Mark()));
      config.clone_order = std::move(*order);
    }
  }
  return config;
}

}  // namespace

Result<ProjectConfig> ParseProjectConfig(std::string_view text, std::string_view file) {
  try {
    return ParseConfigNode(YAML::Load(std::string(text)), file);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError(YamlWhere(file, e.mark) + ": " + e.msg);
  }
}

std::vector<CloneMethod> DefaultCloneOrder(Env* env) {
  if (env->OverridesFilePermissions()) return {CloneMethod::kReflink, CloneMethod::kCopy};
  return {CloneMethod::kReflink, CloneMethod::kHardlink, CloneMethod::kCopy};
}

std::string GitIgnorePattern(const std::string& name) {
  std::string out = "/";
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool special = c == '[' || c == ']' || c == '*' || c == '?' || c == '\\' || c == '!' || c == '#';
    // Trailing spaces are dropped by git unless escaped.
    bool trailing_space = c == ' ' && name.find_first_not_of(' ', i) == std::string::npos;
    if (special || trailing_space) out += '\\';
    out += c;
  }
  return out;
}

Status AddGitIgnoreEntry(Env* env, const std::string& dir, const std::string& name,
                         const std::string& lock_path) {
  // Concurrent adds in one folder each read, extend and rewrite the file.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, env->LockFile(lock_path, LockMode::kExclusive));
  std::string path = JoinPath(dir, ".gitignore");
  std::string entry = GitIgnorePattern(name);
  std::string text;
  Result<std::string> existing = ReadFileToString(env, path);
  if (existing.ok()) {
    text = std::move(*existing);
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (std::string_view(text).substr(start, end - start) == entry) return Status::Ok();
    start = end + 1;
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += entry + "\n";
  return WriteFileAtomic(env, path, text);
}

Result<Project::InitResult> Project::Init(Env* env, const std::string& dir) {
  InitResult result;
  result.root = NormalizePath(dir);
  std::string keel = JoinPath(result.root, kKeelDir);
  KEEL_ASSIGN_OR_RETURN(GitInfo git, DiscoverGit(result.root));
  result.in_git = git.in_repository;
  Result<FileInfo> info = env->Stat(keel);
  if (info.ok() && info->type != FileType::kDirectory) {
    return FailedPreconditionError(keel + ": exists and is not a folder");
  }
  result.created = !info.ok();
  KEEL_RETURN_IF_ERROR(env->CreateDir(keel));
  KEEL_RETURN_IF_ERROR(env->CreateDir(JoinPath(keel, "cache")));
  std::string config = JoinPath(keel, "config");
  if (!Exists(env, config)) KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, config, kConfigTemplate));
  KEEL_RETURN_IF_ERROR(AddGitIgnoreEntry(env, result.root, kKeelDir, JoinPath(keel, "gitignore.lock")));
  // Opening creates the object store and migrates the metadata store.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Project> project, Open(env, result.root));
  return result;
}

Result<std::unique_ptr<Project>> Project::Open(Env* env, const std::string& cwd) {
  std::string dir = NormalizePath(cwd);
  for (;;) {
    Result<FileInfo> info = env->Stat(JoinPath(dir, kKeelDir));
    if (info.ok() && info->type == FileType::kDirectory) break;
    if (dir == "/" || dir == "." || dir.empty()) {
      return NotFoundError(NormalizePath(cwd) + ": not in a keel project (no .keel/ folder here or above); run `keel init`");
    }
    dir = DirName(dir);
  }
  std::unique_ptr<Project> project(new Project(env, dir));
  std::string keel = project->keel_dir();
  std::string config_path = JoinPath(keel, "config");
  ProjectConfig config;
  Result<std::string> text = ReadFileToString(env, config_path);
  if (text.ok()) {
    KEEL_ASSIGN_OR_RETURN(config, ParseProjectConfig(*text, config_path));
  } else if (text.status().code() == StatusCode::kNotFound) {
    KEEL_ASSIGN_OR_RETURN(config, ParseProjectConfig("", config_path));
  } else {
    return text.status();
  }
  if (config.clone_order.empty()) config.clone_order = DefaultCloneOrder(env);
  project->objects_ = std::make_unique<ObjectStore>(env, JoinPath(keel, "objects"), config.clone_order);
  KEEL_RETURN_IF_ERROR(project->objects_->Init());
  KEEL_ASSIGN_OR_RETURN(project->metadata_, OpenMetadataStore(project->MetadataUri()));
  if (!Exists(env, JoinPath(keel, "cache"))) KEEL_RETURN_IF_ERROR(env->CreateDir(JoinPath(keel, "cache")));
  KEEL_ASSIGN_OR_RETURN(project->state_, StateCache::Open(JoinPath(keel, "cache/state.db")));
  return project;
}

Result<GitInfo> Project::git() {
  if (!git_) {
    KEEL_ASSIGN_OR_RETURN(GitInfo info, DiscoverGit(root_));
    git_ = std::move(info);
  }
  return *git_;
}

Result<std::unique_ptr<FileLock>> Project::Lock(LockMode mode) {
  return env_->LockFile(JoinPath(keel_dir(), "lock"), mode);
}

Result<std::string> Project::ToProjectPath(const std::string& cwd, const std::string& path) const {
  std::string abs = NormalizePath(JoinPath(cwd, path));
  if (!IsWithin(root_, abs)) {
    return InvalidArgumentError(path + ": outside the project at " + root_);
  }
  std::string rel = RelativePath(root_, abs);
  std::string first = rel.substr(0, rel.find('/'));
  if (first == kKeelDir || first == ".git") {
    return InvalidArgumentError(path + ": inside " + first + "/, which keel does not track");
  }
  if (rel.empty()) return InvalidArgumentError(path + ": is the project root itself");
  return rel;
}

std::string Project::Abs(const std::string& project_path) const {
  return JoinPath(root_, project_path);
}

}  // namespace keel
