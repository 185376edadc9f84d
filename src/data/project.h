// A keel project: the folder holding .keel/, with its object store,
// metadata store, file-state cache and configuration.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cas/object_store.h"
#include "core/env.h"
#include "core/git.h"
#include "store/metadata_store.h"
#include "store/state_cache.h"

namespace keel {

inline constexpr char kKeelDir[] = ".keel";

struct ProjectConfig {
  // cache.type as configured; empty when the config leaves it out.
  std::vector<CloneMethod> clone_order;
};

// The link order when cache.type is not set: reflink, then hardlink, then
// copy — but no hardlink when `env` overrides file permissions (root). A
// hardlinked workspace file shares its inode with the stored object and is
// protected only by being read-only; root writes through that, so an
// in-place edit (`echo >> data.csv`) would silently change the stored
// version. Set cache.type explicitly to choose hardlinks anyway.
std::vector<CloneMethod> DefaultCloneOrder(Env* env);

// Parses .keel/config (YAML); `file` names it in errors, with line and
// column of a bad key or value.
Result<ProjectConfig> ParseProjectConfig(std::string_view text, std::string_view file);

class Project {
 public:
  // Finds the project holding `cwd` (the nearest folder upwards with a
  // .keel/ folder) and opens its stores. Not found if there is none.
  static Result<std::unique_ptr<Project>> Open(Env* env, const std::string& cwd);

  struct InitResult {
    std::string root;
    bool created = false;  // false: .keel/ existed and was left as it was
    bool in_git = false;
  };
  // Creates .keel/ with its config in `dir` and git-ignores it. Idempotent.
  static Result<InitResult> Init(Env* env, const std::string& dir);

  Env* env() const { return env_; }
  const std::string& root() const { return root_; }
  std::string keel_dir() const { return root_ + "/" + kKeelDir; }
  // The metadata database every store of this project opens.
  std::string MetadataUri() const { return "sqlite://" + keel_dir() + "/keel.db"; }
  ObjectStore& objects() { return *objects_; }
  MetadataStore& metadata() { return *metadata_; }
  StateCache& state() { return *state_; }
  // The git repository holding the project, discovered on first use
  // (starting libgit2 costs ~10 ms, which most commands never need).
  Result<GitInfo> git();

  // Serialises keel processes on this project: shared for work that only
  // adds objects, exclusive for gc.
  Result<std::unique_ptr<FileLock>> Lock(LockMode mode);

  // Resolves a user-given path (relative to `cwd`) to a normalised path
  // relative to the root. Fails, naming the path, if it lies outside the
  // project or inside .keel/ or .git/.
  Result<std::string> ToProjectPath(const std::string& cwd, const std::string& path) const;
  std::string Abs(const std::string& project_path) const;

 private:
  Project(Env* env, std::string root) : env_(env), root_(std::move(root)) {}

  Env* env_;
  std::string root_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<MetadataStore> metadata_;
  std::unique_ptr<StateCache> state_;
  std::optional<GitInfo> git_;
};

// The .gitignore line that matches exactly `name` in its folder: "/name",
// with git's special characters escaped.
std::string GitIgnorePattern(const std::string& name);
// Adds GitIgnorePattern(name) to the .gitignore in `dir` unless an equal
// line is there, holding an exclusive lock on `lock_path` meanwhile.
Status AddGitIgnoreEntry(Env* env, const std::string& dir, const std::string& name,
                         const std::string& lock_path);

}  // namespace keel
