// The SQLite implementation of MetadataStore.
#include "store/metadata_store.h"

#include "store/schema.h"
#include "store/sqlite.h"

namespace keel {
namespace {

class SqliteMetadataStore final : public MetadataStore {
 public:
  explicit SqliteMetadataStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

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

  Result<int64_t> SchemaVersion() override { return SchemaVersionOf(db_.get()); }

 private:
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
  KEEL_ASSIGN_OR_RETURN(std::string path, SqlitePathOf(uri));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  KEEL_RETURN_IF_ERROR(MigrateSchema(db.get()));
  auto store = std::make_unique<SqliteMetadataStore>(std::move(db));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

}  // namespace keel
