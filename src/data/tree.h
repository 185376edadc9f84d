// Walking and hashing the data named by a pointer: a single file or a
// folder tree, with the file-state cache sparing unchanged files a rehash.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cas/manifest.h"
#include "core/env.h"
#include "core/progress.h"
#include "store/state_cache.h"

namespace keel {

struct ScannedEntry {
  std::string abs;          // absolute path in the workspace
  FileInfo info;            // lstat at scan time
  ManifestEntry entry;      // path relative to the scanned root
  std::string link_target;  // symbolic links only
  bool hashed = false;      // entry.digest is known
  bool stored = false;      // set by a ContentSink that stored the bytes
};

// Receives the bytes of each small file read for hashing (already checked
// against the file's size), so that an add can store them without reading
// the file twice. May be called from several threads at once.
using ContentSink = std::function<Status(ScannedEntry& entry, std::string_view data)>;

struct ScannedTree {
  Manifest manifest;
  std::vector<ScannedEntry> entries;  // files, links and empty folders, by path
};

// Walks skip files named by TempNameBeside (a checkout that was killed
// leaves them): they are never data, and checkout removes them.

class TreeScanner {
 public:
  // `env`, `cache` and `progress` must outlive the scanner.
  TreeScanner(Env* env, StateCache* cache, ProgressSink* progress)
      : env_(env), cache_(cache), progress_(progress) {}

  // Hashes one regular file. `key` is its project path (the cache key).
  Result<Digest> HashFile(const std::string& abs, const std::string& key, const FileInfo& info);

  // Walks the folder `abs` (never following symbolic links) and hashes every
  // file the cache does not know, both on all cores. `key` is the folder's
  // project path. Sockets, FIFOs and devices are an error naming the path.
  Result<ScannedTree> ScanFolder(const std::string& abs, const std::string& key);

  // ScanFolder in steps, for callers that decide something between them.
  // Walk lists the tree sorted by path, with digests filled in from the
  // cache where it knows the file; HashMissing hashes the rest, passing
  // files of up to `sink_max_size` bytes to `sink` when one is given;
  // Finish builds the manifest.
  Result<std::vector<ScannedEntry>> Walk(const std::string& abs, const std::string& key);
  Status HashMissing(const std::string& key, std::vector<ScannedEntry>* entries,
                     uint64_t sink_max_size = 0, const ContentSink& sink = {});
  static ScannedTree Finish(std::vector<ScannedEntry> entries);
  // Temporary files (IsTempName) that walks skipped, absolute paths.
  const std::vector<std::string>& leftovers() const { return leftovers_; }

 private:
  Result<std::vector<ScannedEntry>> List(const std::string& abs);
  // Merges the cache's rows under `key` (in path order) into `entries`
  // (sorted the same way).
  Status FillFromCache(const std::string& key, std::vector<ScannedEntry>* entries);
  // True when `info` is safe to cache: its mtime is older than the moment
  // hashing began by more than the filesystem's timestamp granularity, so a
  // write in the same tick cannot hide behind an unchanged mtime.
  bool Cacheable(const FileInfo& info, int64_t hash_start_ns) const;

  Env* env_;
  StateCache* cache_;
  ProgressSink* progress_;
  std::vector<std::string> leftovers_;  // absolute paths of temp files seen by walks
};

}  // namespace keel
