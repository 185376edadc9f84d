#include "store/schema.h"

#include <iterator>
#include <string>

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
    // Tracked runs (docs/format/tracking.md). Metric names are interned.
    // SQLite stores NaN as NULL: a NULL latest value is NaN.
    {2,
     "CREATE TABLE experiments ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE,"
     "  created_at_ns INTEGER NOT NULL);"
     "CREATE TABLE runs ("
     "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
     "  experiment_id INTEGER NOT NULL REFERENCES experiments (id),"
     "  status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'killed')),"
     "  start_ns INTEGER NOT NULL,"
     "  end_ns INTEGER NOT NULL DEFAULT 0,"
     "  git_commit TEXT NOT NULL DEFAULT '',"
     "  git_dirty INTEGER NOT NULL DEFAULT 0,"
     "  diff_hash TEXT NOT NULL DEFAULT '',"
     "  host TEXT NOT NULL DEFAULT '',"
     "  pid INTEGER NOT NULL DEFAULT 0,"
     "  command TEXT NOT NULL DEFAULT '',"
     "  note TEXT NOT NULL DEFAULT '',"
     "  deleted INTEGER NOT NULL DEFAULT 0);"
     "CREATE INDEX runs_by_experiment ON runs (experiment_id, id);"
     "CREATE INDEX runs_by_status ON runs (status);"
     "CREATE TABLE run_environment ("
     "  run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
     "  PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
     "CREATE TABLE run_params ("
     "  run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, num REAL,"
     "  PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
     "CREATE INDEX run_params_by_key ON run_params (key, num);"
     "CREATE TABLE run_tags ("
     "  run_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
     "  PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
     "CREATE INDEX run_tags_by_key ON run_tags (key, value);"
     "CREATE TABLE metric_keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
     // A series is stored in chunks of up to 512 points, each a BLOB of
     // (step int64, timestamp_ms int64, value float64) records, little
     // endian, in the order logged: a million values are two thousand rows,
     // and a history is a short range scan.
     "CREATE TABLE run_metric_chunks ("
     "  run_id INTEGER NOT NULL, key_id INTEGER NOT NULL, chunk INTEGER NOT NULL,"
     "  points INTEGER NOT NULL, data BLOB NOT NULL);"
     "CREATE UNIQUE INDEX run_metric_chunks_by_key ON run_metric_chunks (run_id, key_id, chunk);"
     "CREATE TABLE run_latest_metrics ("
     "  run_id INTEGER NOT NULL, key_id INTEGER NOT NULL, value REAL,"
     "  step INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (run_id, key_id)) WITHOUT ROWID;"
     "CREATE INDEX run_latest_metrics_by_key ON run_latest_metrics (key_id, value);"
     "CREATE TABLE run_stages ("
     "  run_id INTEGER NOT NULL, seq INTEGER NOT NULL, name TEXT NOT NULL, action TEXT NOT NULL,"
     "  exit_code INTEGER NOT NULL, error TEXT NOT NULL, log_hash TEXT NOT NULL, log_size INTEGER NOT NULL,"
     "  PRIMARY KEY (run_id, name)) WITHOUT ROWID;"
     "CREATE TABLE run_inputs ("
     "  run_id INTEGER NOT NULL, stage TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('dep', 'out')),"
     "  path TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL, files INTEGER NOT NULL,"
     "  PRIMARY KEY (run_id, stage, role, path)) WITHOUT ROWID;"
     "CREATE INDEX run_inputs_by_hash ON run_inputs (hash);"
     "CREATE TABLE run_artifacts ("
     "  run_id INTEGER NOT NULL, stage TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL,"
     "  size INTEGER NOT NULL, PRIMARY KEY (run_id, stage, name)) WITHOUT ROWID;"},
    // The model registry (docs/format/registry.md). A version row is never
    // changed except to be marked deleted (deleted_at_ms != 0), so its
    // number is never handed out again. run_id has no foreign key: purging
    // a run must not rewrite a model's lineage. Metrics: NULL is NaN.
    {3,
     "CREATE TABLE models ("
     "  id INTEGER PRIMARY KEY,"
     "  name TEXT NOT NULL UNIQUE,"
     "  created_at_ms INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL);"
     "CREATE TABLE model_versions ("
     "  model_id INTEGER NOT NULL REFERENCES models (id),"
     "  version INTEGER NOT NULL CHECK (version > 0),"
     "  digest TEXT NOT NULL,"
     "  size INTEGER NOT NULL,"
     "  files INTEGER NOT NULL,"
     "  model_file TEXT NOT NULL DEFAULT '',"
     "  model_hash TEXT NOT NULL DEFAULT '',"
     "  flavor TEXT NOT NULL,"
     "  description TEXT NOT NULL DEFAULT '',"
     "  source TEXT NOT NULL DEFAULT '',"
     "  run_id INTEGER,"
     "  git_commit TEXT NOT NULL DEFAULT '',"
     "  git_dirty INTEGER NOT NULL DEFAULT 0,"
     "  signature TEXT,"
     "  created_by TEXT NOT NULL,"
     "  created_at_ms INTEGER NOT NULL,"
     "  deleted_at_ms INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (model_id, version));"
     "CREATE INDEX model_versions_by_digest ON model_versions (digest);"
     "CREATE INDEX model_versions_by_run ON model_versions (run_id);"
     "CREATE TABLE model_version_params ("
     "  model_id INTEGER NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
     "  PRIMARY KEY (model_id, version, key)) WITHOUT ROWID;"
     "CREATE TABLE model_version_metrics ("
     "  model_id INTEGER NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value REAL,"
     "  PRIMARY KEY (model_id, version, key)) WITHOUT ROWID;"
     "CREATE TABLE model_version_inputs ("
     "  model_id INTEGER NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL,"
     "  stage TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL, size INTEGER NOT NULL,"
     "  files INTEGER NOT NULL, data_version INTEGER NOT NULL DEFAULT 0,"
     "  PRIMARY KEY (model_id, version, seq)) WITHOUT ROWID;"
     "CREATE INDEX model_version_inputs_by_hash ON model_version_inputs (hash);"
     "CREATE TABLE model_aliases ("
     "  model_id INTEGER NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,"
     "  updated_at_ms INTEGER NOT NULL,"
     "  PRIMARY KEY (model_id, alias),"
     "  FOREIGN KEY (model_id, version) REFERENCES model_versions (model_id, version)) WITHOUT ROWID;"},
};

Status ApplyPending(SqliteDb* db) {
  KEEL_ASSIGN_OR_RETURN(int64_t current, SchemaVersionOf(db));
  int64_t newest = NewestSchemaVersion();
  if (current > newest) {
    return FailedPreconditionError("schema version " + std::to_string(current) +
                                   " is newer than this keel knows (" + std::to_string(newest) + "); upgrade keel");
  }
  if (current == newest) return Status::Ok();
  KEEL_ASSIGN_OR_RETURN(auto record, db->Prepare(
      "INSERT INTO schema_migrations (version, applied_at_ns) VALUES (?1, "
      "CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER))"));
  for (const Migration& m : kMigrations) {
    if (m.version <= current) continue;
    KEEL_RETURN_IF_ERROR(db->Exec(m.sql));
    record->Bind(1, m.version);
    KEEL_RETURN_IF_ERROR(record->Run());
  }
  return Status::Ok();
}

}  // namespace

int64_t NewestSchemaVersion() { return kMigrations[std::size(kMigrations) - 1].version; }

Result<int64_t> SchemaVersionOf(SqliteDb* db) {
  KEEL_ASSIGN_OR_RETURN(auto stmt, db->Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  KEEL_ASSIGN_OR_RETURN(bool row, stmt->Step());
  return row ? stmt->Int(0) : 0;
}

Status MigrateSchema(SqliteDb* db) {
  KEEL_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      "  version INTEGER PRIMARY KEY, applied_at_ns INTEGER NOT NULL)"));
  KEEL_RETURN_IF_ERROR(db->Begin());
  Status status = ApplyPending(db);
  if (!status.ok()) {
    db->Rollback();
    return status.WithPrefix(db->path() + ": schema migration");
  }
  return db->Commit();
}

Result<std::string> SqlitePathOf(std::string_view uri) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (uri.substr(0, kSqlite.size()) != kSqlite) {
    return InvalidArgumentError("metadata store '" + std::string(uri) +
                                "': unsupported scheme (expected sqlite://PATH)");
  }
  return std::string(uri.substr(kSqlite.size()));
}

}  // namespace keel
