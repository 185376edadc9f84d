#include "store/sqlite.h"

namespace keel {
namespace {
constexpr int kBusyTimeoutMs = 30000;
constexpr int kWalRetryMs = 5;
}

SqliteStatement& SqliteStatement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::BindDouble(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

SqliteStatement& SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string message = sqlite3_errmsg(db_);
  std::string db_path = sqlite3_db_filename(db_, "main");
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_FULL) {
    return UnavailableError(db_path + ": " + message);
  }
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return CorruptError(db_path + ": " + message);
  return InternalError(db_path + ": " + message);
}

Status SqliteStatement::Run() {
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  Reset();
  return Status::Ok();
}

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string SqliteStatement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text), n);
}

std::string_view SqliteStatement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int n = sqlite3_column_bytes(stmt_, column);
  return data == nullptr ? std::string_view() : std::string_view(static_cast<const char*>(data), n);
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return UnavailableError(path + ": cannot open database: " + message);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::unique_ptr<SqliteDb> out(new SqliteDb(db, path));
  // Switching a new database to WAL takes an exclusive lock, and SQLite
  // reports a clash with another connection opening it at the same moment
  // as busy at once, without the busy handler: wait here instead.
  for (int waited_ms = 0;; waited_ms += kWalRetryMs) {
    Status wal = out->Exec("PRAGMA journal_mode=WAL");
    if (wal.ok()) break;
    if (wal.code() != StatusCode::kUnavailable || waited_ms >= kBusyTimeoutMs) return wal;
    sqlite3_sleep(kWalRetryMs);
  }
  KEEL_RETURN_IF_ERROR(out->Exec("PRAGMA synchronous=NORMAL"));
  KEEL_RETURN_IF_ERROR(out->Exec("PRAGMA foreign_keys=ON"));
  return out;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

Status SqliteDb::Error(int rc) const {
  std::string message = path_ + ": " + sqlite3_errmsg(db_);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_FULL) {
    return UnavailableError(message);
  }
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return CorruptError(message);
  return InternalError(message);
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc);
  return Status::Ok();
}

Result<std::unique_ptr<SqliteStatement>> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc);
  return std::make_unique<SqliteStatement>(db_, stmt);
}

}  // namespace keel
