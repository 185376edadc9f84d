// keel.lock: per stage, the command, deps, params and outs of its last
// successful run (docs/format/pipeline.md). The same structure, one stage at
// a time, is a run-cache entry.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"
#include "core/status.h"
#include "data/pointer.h"

namespace keel {

inline constexpr char kLockFile[] = "keel.lock";

struct LockedPath {
  std::string path;  // project path
  DataKind kind = DataKind::kFile;
  Digest digest;
  uint64_t size = 0;
  uint64_t files = 0;
  bool executable = false;
  bool cache = true;  // outs only: false for an out that is hashed, not stored

  bool operator==(const LockedPath&) const = default;
};

// Between the lock's record of a path and the pointer the data module uses.
LockedPath LockedPathOf(const std::string& path, const Pointer& pointer, bool cache);
Pointer PointerOf(const LockedPath& path);

struct LockedStage {
  std::string name;
  std::vector<std::string> cmd;
  bool cmd_is_list = false;
  std::string wdir;
  std::map<std::string, std::string> env;
  std::vector<LockedPath> deps;  // sorted by path
  std::map<std::string, std::map<std::string, std::string>> params;  // file → key → value
  std::vector<LockedPath> outs;  // sorted by path

  // The stage signature: SHA-256 over commands, wdir, env, dep paths and
  // hashes, params and out paths with their cache flags (not the outs'
  // hashes: those are what a run with this signature produces).
  Digest Signature() const;
};

struct LockFile {
  std::vector<LockedStage> stages;

  const LockedStage* Find(std::string_view name) const;
  // Replaces the stage of the same name, or appends it.
  void Put(LockedStage stage);
};

// Parses keel.lock's text; `file` names it in errors (with line and column).
Result<LockFile> ParseLockFile(std::string_view text, std::string_view file);
// The file's text: stages in the order given, then deterministic throughout.
std::string SerializeLockFile(const LockFile& lock);

// A run-cache entry: one stage, in the same format.
std::string SerializeLockedStage(const LockedStage& stage);
Result<LockedStage> ParseLockedStage(std::string_view text, std::string_view file);

}  // namespace keel
