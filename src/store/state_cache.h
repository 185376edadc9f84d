// The file-state cache: (path, size, mtime, inode) → SHA-256, so that an
// unchanged file is never hashed twice. Local to one machine (inodes are),
// so it lives in its own SQLite file under .keel/cache/, never in the shared
// metadata store.
#pragma once

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

class StateCache {
 public:
  // Opens or creates the cache database at `path`.
  static Result<std::unique_ptr<StateCache>> Open(const std::string& path);
  ~StateCache();

  // Reads every entry whose path is `prefix` or lies below it into memory,
  // so that a walk over a large folder costs one query, not one per file.
  Status Preload(std::string_view prefix);
  // The recorded digest if `path` still has `info`'s size, mtime and inode.
  std::optional<Digest> Lookup(const std::string& path, const FileInfo& info);
  // Like Lookup, but answers only from what Preload loaded (no query), so
  // it may be called from several threads at once while nothing calls
  // Preload, Lookup or Record.
  std::optional<Digest> LookupLoaded(const std::string& path, const FileInfo& info) const;
  // Queues an entry; written by Flush(). Not thread-safe.
  void Record(const std::string& path, const FileInfo& info, const Digest& digest);
  // Writes queued entries in one transaction.
  Status Flush();

 private:
  struct Entry {
    uint64_t size;
    int64_t mtime_ns;
    uint64_t inode;
    Digest digest;
  };
  explicit StateCache(std::unique_ptr<SqliteDb> db);
  static bool Matches(const Entry& e, const FileInfo& info) {
    return e.size == info.size && e.mtime_ns == info.mtime_ns && e.inode == info.inode;
  }

  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<SqliteStatement> lookup_;
  std::unordered_map<std::string, Entry> loaded_;
  std::vector<std::string> preloaded_prefixes_;
  std::vector<std::pair<std::string, Entry>> pending_;
};

}  // namespace keel
