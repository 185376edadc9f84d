#include "store/state_cache.h"

#include <cstring>

#include "store/sqlite.h"

namespace keel {
namespace {

bool ReadRow(const SqliteStatement& stmt, int first, CachedState* out) {
  std::string_view blob = stmt.Blob(first + 3);
  if (blob.size() != 32) return false;
  out->size = static_cast<uint64_t>(stmt.Int(first));
  out->mtime_ns = stmt.Int(first + 1);
  out->inode = static_cast<uint64_t>(stmt.Int(first + 2));
  std::memcpy(out->digest.bytes.data(), blob.data(), 32);
  return true;
}

}  // namespace

StateCache::StateCache(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
StateCache::~StateCache() = default;

Result<std::unique_ptr<StateCache>> StateCache::Open(const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  KEEL_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS file_state ("
      "  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
      "  inode INTEGER NOT NULL, hash BLOB NOT NULL) WITHOUT ROWID"));
  std::unique_ptr<StateCache> cache(new StateCache(std::move(db)));
  KEEL_ASSIGN_OR_RETURN(cache->lookup_, cache->db_->Prepare(
      "SELECT size, mtime_ns, inode, hash FROM file_state WHERE path = ?1"));
  return cache;
}

std::optional<Digest> StateCache::Lookup(const std::string& path, const FileInfo& info) {
  auto it = pending_.find(path);
  if (it != pending_.end()) {
    return it->second.Matches(info) ? std::optional<Digest>(it->second.digest) : std::nullopt;
  }
  auto pre = preloaded_.find(path);
  if (pre != preloaded_.end()) {
    return pre->second && pre->second->Matches(info) ? std::optional<Digest>(pre->second->digest) : std::nullopt;
  }
  lookup_->Bind(1, path);
  Result<bool> row = lookup_->Step();
  std::optional<Digest> found;
  CachedState state;
  if (row.ok() && *row && ReadRow(*lookup_, 0, &state) && state.Matches(info)) found = state.digest;
  lookup_->Reset();
  return found;
}

Status StateCache::ForEachUnder(std::string_view prefix,
                                const std::function<void(std::string_view, const CachedState&)>& fn) {
  // The primary key orders rows by path (BINARY: byte order); the range
  // [prefix + "/", prefix + "0") holds exactly the paths below prefix.
  KEEL_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
      "SELECT path, size, mtime_ns, inode, hash FROM file_state"
      " WHERE path = ?1 OR (path > ?2 AND path < ?3) ORDER BY path"));
  std::string under = std::string(prefix) + "/";
  std::string past = std::string(prefix) + "0";  // '0' follows '/' in byte order
  stmt->Bind(1, prefix).Bind(2, under).Bind(3, past);
  CachedState state;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) return Status::Ok();
    if (!ReadRow(*stmt, 1, &state)) continue;
    std::string_view path = stmt->Blob(0);
    fn(path.size() > prefix.size() ? path.substr(prefix.size() + 1) : std::string_view(), state);
  }
}

Status StateCache::Preload(const std::vector<std::string>& paths) {
  KEEL_RETURN_IF_ERROR(db_->Exec("BEGIN DEFERRED"));
  Status status;
  for (const std::string& path : paths) {
    lookup_->Bind(1, path);
    Result<bool> row = lookup_->Step();
    if (!row.ok()) {
      status = row.status();
      lookup_->Reset();
      break;
    }
    CachedState state;
    bool found = *row && ReadRow(*lookup_, 0, &state);
    preloaded_.insert_or_assign(path, found ? std::optional<CachedState>(state) : std::nullopt);
    lookup_->Reset();
  }
  Status ended = db_->Exec(status.ok() ? "COMMIT" : "ROLLBACK");
  return status.ok() ? ended : status;
}

void StateCache::Record(const std::string& path, const FileInfo& info, const Digest& digest) {
  preloaded_.erase(path);
  pending_.insert_or_assign(path, CachedState{info.size, info.mtime_ns, info.inode, digest});
}

Status StateCache::Flush() {
  if (pending_.empty()) return Status::Ok();
  KEEL_RETURN_IF_ERROR(db_->Begin());
  Status status = [&]() -> Status {
    KEEL_ASSIGN_OR_RETURN(auto put, db_->Prepare(
        "INSERT OR REPLACE INTO file_state (path, size, mtime_ns, inode, hash) VALUES (?1, ?2, ?3, ?4, ?5)"));
    for (const auto& [path, e] : pending_) {
      put->Bind(1, path).Bind(2, static_cast<int64_t>(e.size)).Bind(3, e.mtime_ns);
      put->Bind(4, static_cast<int64_t>(e.inode));
      put->BindBlob(5, std::string_view(reinterpret_cast<const char*>(e.digest.bytes.data()), 32));
      KEEL_RETURN_IF_ERROR(put->Run());
    }
    return Status::Ok();
  }();
  if (!status.ok()) {
    db_->Rollback();
    return status;
  }
  pending_.clear();
  return db_->Commit();
}

}  // namespace keel
