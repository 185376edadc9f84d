// The SQLite implementation of MetadataStore.
#include "store/metadata_store.h"

#include "store/sqlite.h"

namespace keel {
namespace {

struct Migration {
  int64_t version;
  const char* sql;
};

// Append only: a released migration is never edited.
constexpr Migration kMigrations[] = {
    {1,
     "CREATE TABLE data_versions ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  path TEXT NOT NULL,"
     "  kind TEXT NOT NULL CHECK (kind IN ('file', 'dir')),"
     "  hash TEXT NOT NULL,"
     "  size INTEGER NOT NULL,"
     "  files INTEGER NOT NULL,"
     "  created_at_ns INTEGER NOT NULL,"
     "  git_commit TEXT NOT NULL DEFAULT '');"
     "CREATE INDEX data_versions_by_path ON data_versions (path, id);"},
};

class SqliteMetadataStore final : public MetadataStore {
 public:
  explicit SqliteMetadataStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status Migrate() {
    KEEL_RETURN_IF_ERROR(db_->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "  version INTEGER PRIMARY KEY, applied_at_ns INTEGER NOT NULL)"));
    KEEL_RETURN_IF_ERROR(db_->Begin());
    Status status = ApplyPending();
    if (!status.ok()) {
      db_->Rollback();
      return status.WithPrefix(db_->path() + ": schema migration");
    }
    return db_->Commit();
  }

  Result<int64_t> RecordDataVersion(const DataVersion& v) override {
    KEEL_RETURN_IF_ERROR(db_->Begin());
    Result<int64_t> id = InsertIfNew(v);
    if (!id.ok()) {
      db_->Rollback();
      return id;
    }
    KEEL_RETURN_IF_ERROR(db_->Commit());
    return id;
  }

  Result<std::vector<DataVersion>> ListDataVersions(std::string_view path) override {
    KEEL_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("SELECT id, path, kind, hash, size, files, created_at_ns, git_commit"
                                " FROM data_versions WHERE ?1 = '' OR path = ?1 ORDER BY id DESC"));
    stmt->Bind(1, path);
    std::vector<DataVersion> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, stmt->Step());
      if (!row) break;
      DataVersion v;
      v.id = stmt->Int(0);
      v.path = stmt->Text(1);
      v.kind = stmt->Text(2);
      KEEL_ASSIGN_OR_RETURN(v.digest, Digest::Parse(stmt->Text(3), db_->path() + ": data_versions.hash"));
      v.size = static_cast<uint64_t>(stmt->Int(4));
      v.files = static_cast<uint64_t>(stmt->Int(5));
      v.created_at_ns = stmt->Int(6);
      v.git_commit = stmt->Text(7);
      out.push_back(std::move(v));
    }
    return out;
  }

  Result<int64_t> SchemaVersion() override {
    KEEL_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
    KEEL_ASSIGN_OR_RETURN(bool row, stmt->Step());
    return row ? stmt->Int(0) : 0;
  }

 private:
  Status ApplyPending() {
    KEEL_ASSIGN_OR_RETURN(int64_t current, SchemaVersion());
    int64_t newest = kMigrations[std::size(kMigrations) - 1].version;
    if (current > newest) {
      return FailedPreconditionError("schema version " + std::to_string(current) +
                                     " is newer than this keel knows (" + std::to_string(newest) +
                                     "); upgrade keel");
    }
    KEEL_ASSIGN_OR_RETURN(auto record, db_->Prepare(
        "INSERT INTO schema_migrations (version, applied_at_ns) VALUES (?1, "
        "CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER))"));
    for (const Migration& m : kMigrations) {
      if (m.version <= current) continue;
      KEEL_RETURN_IF_ERROR(db_->Exec(m.sql));
      record->Bind(1, m.version);
      KEEL_RETURN_IF_ERROR(record->Run());
    }
    return Status::Ok();
  }

  Result<int64_t> InsertIfNew(const DataVersion& v) {
    std::string hash = v.digest.ToString();
    KEEL_ASSIGN_OR_RETURN(auto latest, db_->Prepare(
        "SELECT id, hash FROM data_versions WHERE path = ?1 ORDER BY id DESC LIMIT 1"));
    latest->Bind(1, v.path);
    KEEL_ASSIGN_OR_RETURN(bool row, latest->Step());
    if (row && latest->Text(1) == hash) return latest->Int(0);
    KEEL_ASSIGN_OR_RETURN(auto insert, db_->Prepare(
        "INSERT INTO data_versions (path, kind, hash, size, files, created_at_ns, git_commit)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    insert->Bind(1, v.path).Bind(2, v.kind).Bind(3, hash);
    insert->Bind(4, static_cast<int64_t>(v.size)).Bind(5, static_cast<int64_t>(v.files));
    insert->Bind(6, v.created_at_ns).Bind(7, v.git_commit);
    KEEL_RETURN_IF_ERROR(insert->Run());
    KEEL_ASSIGN_OR_RETURN(auto last, db_->Prepare("SELECT last_insert_rowid()"));
    KEEL_ASSIGN_OR_RETURN(bool got, last->Step());
    return got ? last->Int(0) : 0;
  }

  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

Result<std::unique_ptr<MetadataStore>> OpenMetadataStore(std::string_view uri) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (uri.substr(0, kSqlite.size()) != kSqlite) {
    return InvalidArgumentError("metadata store '" + std::string(uri) +
                                "': unsupported scheme (expected sqlite://PATH)");
  }
  std::string path(uri.substr(kSqlite.size()));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  auto store = std::make_unique<SqliteMetadataStore>(std::move(db));
  KEEL_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace keel
