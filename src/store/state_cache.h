// The file-state cache: (path, size, mtime, inode) → SHA-256, so that an
// unchanged file is never hashed twice. Local to one machine (inodes are),
// so it lives in its own SQLite file under .keel/cache/, never in the shared
// metadata store. Not thread-safe: one per thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/env.h"
#include "core/hash.h"
#include "core/status.h"

namespace keel {

class SqliteDb;
class SqliteStatement;

struct CachedState {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t inode = 0;
  Digest digest;

  // True if a file with `info` is still the file that was hashed.
  bool Matches(const FileInfo& info) const {
    return size == info.size && mtime_ns == info.mtime_ns && inode == info.inode;
  }
};

class StateCache {
 public:
  // Opens or creates the cache database at `path`.
  static Result<std::unique_ptr<StateCache>> Open(const std::string& path);
  ~StateCache();

  // The recorded digest if `path` still has `info`'s size, mtime and inode.
  std::optional<Digest> Lookup(const std::string& path, const FileInfo& info);
  // Calls `fn` for every flushed entry at or below `prefix`, in byte order
  // of path, with the path relative to `prefix` ("" for `prefix` itself):
  // one query for a whole folder, which a walk merges with its sorted list.
  Status ForEachUnder(std::string_view prefix,
                      const std::function<void(std::string_view rel, const CachedState&)>& fn);
  // Reads the entries of `paths` in one read transaction, so that the
  // Lookups that follow cost no query (thousands of single-file lookups
  // otherwise pay a lock round trip each).
  Status Preload(const std::vector<std::string>& paths);
  // Queues an entry (Lookup sees it at once); written by Flush().
  void Record(const std::string& path, const FileInfo& info, const Digest& digest);
  // Writes queued entries in one transaction.
  Status Flush();

 private:
  explicit StateCache(std::unique_ptr<SqliteDb> db);

  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStatement> lookup_;
  std::unordered_map<std::string, CachedState> pending_;
  // From Preload: the stored entry, or nullopt for a path with none.
  std::unordered_map<std::string, std::optional<CachedState>> preloaded_;
};

}  // namespace keel
