#include "store/state_cache.h"

#include <cstring>

#include "core/paths.h"
#include "store/sqlite.h"

namespace keel {

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

Status StateCache::Preload(std::string_view prefix) {
  KEEL_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
      "SELECT path, size, mtime_ns, inode, hash FROM file_state"
      " WHERE path = ?1 OR (path > ?2 AND path < ?3)"));
  std::string under = std::string(prefix) + "/";
  std::string past = std::string(prefix) + "0";  // '0' follows '/' in byte order
  stmt->Bind(1, prefix).Bind(2, under).Bind(3, past);
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    std::string_view blob = stmt->Blob(4);
    if (blob.size() != 32) continue;
    Entry e{static_cast<uint64_t>(stmt->Int(1)), stmt->Int(2), static_cast<uint64_t>(stmt->Int(3)), {}};
    std::memcpy(e.digest.bytes.data(), blob.data(), 32);
    loaded_.insert_or_assign(stmt->Text(0), e);
  }
  preloaded_prefixes_.emplace_back(prefix);
  return Status::Ok();
}

std::optional<Digest> StateCache::Lookup(const std::string& path, const FileInfo& info) {
  auto it = loaded_.find(path);
  if (it != loaded_.end()) {
    if (Matches(it->second, info)) return it->second.digest;
    return std::nullopt;
  }
  for (const std::string& prefix : preloaded_prefixes_) {
    if (IsWithin(prefix, path)) return std::nullopt;  // loaded already: not there
  }
  lookup_->Bind(1, path);
  Result<bool> row = lookup_->Step();
  std::optional<Digest> found;
  if (row.ok() && *row && lookup_->Blob(3).size() == 32) {
    Entry e{static_cast<uint64_t>(lookup_->Int(0)), lookup_->Int(1),
            static_cast<uint64_t>(lookup_->Int(2)), {}};
    std::memcpy(e.digest.bytes.data(), lookup_->Blob(3).data(), 32);
    if (Matches(e, info)) found = e.digest;
  }
  lookup_->Reset();
  return found;
}

std::optional<Digest> StateCache::LookupLoaded(const std::string& path, const FileInfo& info) const {
  auto it = loaded_.find(path);
  if (it != loaded_.end() && Matches(it->second, info)) return it->second.digest;
  return std::nullopt;
}

void StateCache::Record(const std::string& path, const FileInfo& info, const Digest& digest) {
  Entry e{info.size, info.mtime_ns, info.inode, digest};
  loaded_.insert_or_assign(path, e);
  pending_.emplace_back(path, e);
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
