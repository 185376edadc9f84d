// The SQLite implementation of ModelStore (tables: schema.cc, migration 3).
#include "store/model_store.h"

#include <cmath>
#include <unordered_map>

#include "store/schema.h"
#include "store/sqlite.h"

namespace keel {
namespace {

std::string NoModel(const std::string& name) { return "unknown model '" + name + "'"; }
std::string NoVersion(const std::string& name, int64_t version) {
  return "model '" + name + "' has no version " + std::to_string(version);
}

constexpr char kVersionColumns[] =
    "SELECT m.name, v.version, v.digest, v.size, v.files, v.model_file, v.model_hash, v.flavor, v.description,"
    " v.source, COALESCE(v.run_id, 0), v.git_commit, v.git_dirty, COALESCE(v.signature, ''), v.created_by,"
    " v.created_at_ms, v.model_id FROM model_versions v JOIN models m ON m.id = v.model_id";

class SqliteModelStore final : public ModelStore {
 public:
  explicit SqliteModelStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<int64_t> CreateVersion(const ModelVersion& v) override {
    int64_t version = 0;
    KEEL_RETURN_IF_ERROR(InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(int64_t model, EnsureModel(v.model, v.created_at_ms));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * next, Cached(
          "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model_id = ?1"));
      KEEL_ASSIGN_OR_RETURN(bool row, next->Bind(1, model).Step());
      version = row ? next->Int(0) : 1;
      next->Reset();
      KEEL_RETURN_IF_ERROR(InsertVersion(model, version, v));
      KEEL_RETURN_IF_ERROR(InsertLineage(model, version, v));
      return Touch(model, v.created_at_ms);
    }));
    return version;
  }

  Result<std::vector<ModelSummary>> ListModels() override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached("SELECT id, name FROM models ORDER BY name"));
    std::vector<std::pair<int64_t, std::string>> models;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      models.emplace_back(select->Int(0), select->Text(1));
    }
    select->Reset();
    std::vector<ModelSummary> out;
    for (const auto& [id, name] : models) {
      KEEL_ASSIGN_OR_RETURN(ModelSummary s, Summary(id, name));
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<ModelSummary> GetModel(const std::string& name) override {
    KEEL_ASSIGN_OR_RETURN(std::optional<int64_t> id, ModelIdOf(name));
    if (!id) return NotFoundError(NoModel(name));
    return Summary(*id, name);
  }

  Result<std::vector<ModelVersion>> ListVersions(const std::string& name) override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        (std::string(kVersionColumns) + " WHERE m.name = ?1 AND v.deleted_at_ms = 0 ORDER BY v.version").c_str()));
    select->Bind(1, name);
    return ReadVersions(select);
  }

  Result<ModelVersion> GetVersion(const std::string& name, int64_t version) override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        (std::string(kVersionColumns) + " WHERE m.name = ?1 AND v.version = ?2 AND v.deleted_at_ms = 0").c_str()));
    select->Bind(1, name).Bind(2, version);
    KEEL_ASSIGN_OR_RETURN(std::vector<ModelVersion> found, ReadVersions(select));
    if (found.empty()) return NotFoundError(NoVersion(name, version));
    return std::move(found[0]);
  }

  Result<std::vector<std::pair<int64_t, bool>>> VersionNumbers(const std::string& name) override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT v.version, v.deleted_at_ms != 0 FROM model_versions v JOIN models m ON m.id = v.model_id"
        " WHERE m.name = ?1 ORDER BY v.version"));
    select->Bind(1, name);
    std::vector<std::pair<int64_t, bool>> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      out.emplace_back(select->Int(0), select->Int(1) != 0);
    }
    select->Reset();
    return out;
  }

  Result<std::vector<VersionRef>> FindByDigest(std::string_view hex_prefix) override {
    // A range over the digest index: every text starting with the prefix
    // sorts between it and the prefix followed by the highest hex digit run.
    std::string low = "sha256:" + std::string(hex_prefix);
    std::string high = low + std::string(64 - std::min<size_t>(64, hex_prefix.size()), 'f') + "~";
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT m.name, v.version, v.digest FROM model_versions v JOIN models m ON m.id = v.model_id"
        " WHERE v.digest >= ?1 AND v.digest < ?2 AND v.deleted_at_ms = 0 ORDER BY m.name, v.version"));
    select->Bind(1, low).Bind(2, high);
    std::vector<VersionRef> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      std::string digest = select->Text(2);
      if (digest.compare(0, low.size(), low) != 0) continue;
      out.push_back({select->Text(0), select->Int(1), std::move(digest)});
    }
    select->Reset();
    return out;
  }

  Result<std::optional<int64_t>> SetAlias(const std::string& name, const std::string& alias, int64_t version,
                                          int64_t now_ms) override {
    std::optional<int64_t> before;
    KEEL_RETURN_IF_ERROR(InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(int64_t model, LiveVersionModel(name, version));
      KEEL_ASSIGN_OR_RETURN(before, AliasTarget(model, alias));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * upsert, Cached(
          "INSERT INTO model_aliases (model_id, alias, version, updated_at_ms) VALUES (?1, ?2, ?3, ?4)"
          " ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version,"
          " updated_at_ms = excluded.updated_at_ms"));
      KEEL_RETURN_IF_ERROR(upsert->Bind(1, model).Bind(2, alias).Bind(3, version).Bind(4, now_ms).Run());
      return Touch(model, now_ms);
    }));
    return before;
  }

  Result<int64_t> RemoveAlias(const std::string& name, const std::string& alias, int64_t now_ms) override {
    int64_t version = 0;
    KEEL_RETURN_IF_ERROR(InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(std::optional<int64_t> model, ModelIdOf(name));
      if (!model) return NotFoundError(NoModel(name));
      KEEL_ASSIGN_OR_RETURN(std::optional<int64_t> target, AliasTarget(*model, alias));
      if (!target) return NotFoundError("model '" + name + "' has no alias '" + alias + "'");
      version = *target;
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * remove,
                            Cached("DELETE FROM model_aliases WHERE model_id = ?1 AND alias = ?2"));
      KEEL_RETURN_IF_ERROR(remove->Bind(1, *model).Bind(2, alias).Run());
      return Touch(*model, now_ms);
    }));
    return version;
  }

  Status DeleteVersion(const std::string& name, int64_t version, int64_t now_ms) override {
    return InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(int64_t model, LiveVersionModel(name, version));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * aliased, Cached(
          "SELECT alias FROM model_aliases WHERE model_id = ?1 AND version = ?2 ORDER BY alias"));
      aliased->Bind(1, model).Bind(2, version);
      std::string aliases;
      for (;;) {
        KEEL_ASSIGN_OR_RETURN(bool row, aliased->Step());
        if (!row) break;
        aliases += (aliases.empty() ? "" : ", ") + aliased->Text(0);
      }
      aliased->Reset();
      if (!aliases.empty()) {
        return FailedPreconditionError(name + "@" + std::to_string(version) + " has aliases: " + aliases);
      }
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * update, Cached(
          "UPDATE model_versions SET deleted_at_ms = ?3 WHERE model_id = ?1 AND version = ?2"));
      KEEL_RETURN_IF_ERROR(update->Bind(1, model).Bind(2, version).Bind(3, std::max<int64_t>(now_ms, 1)).Run());
      return Touch(model, now_ms);
    });
  }

  Result<std::vector<std::string>> LiveDigests() override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select,
                          Cached("SELECT DISTINCT digest FROM model_versions WHERE deleted_at_ms = 0"));
    std::vector<std::string> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      out.push_back(select->Text(0));
    }
    select->Reset();
    return out;
  }

 private:
  template <typename F>
  Status InTransaction(F&& body) {
    KEEL_RETURN_IF_ERROR(db_->Begin());
    Status status = body();
    if (status.ok()) status = db_->Commit();
    if (!status.ok()) db_->Rollback();
    return status;
  }

  // A statement prepared once per store; reset before it is handed out.
  Result<SqliteStatement*> Cached(const std::string& sql) {
    std::unique_ptr<SqliteStatement>& slot = statements_[sql];
    if (slot == nullptr) {
      KEEL_ASSIGN_OR_RETURN(slot, db_->Prepare(sql));
    } else {
      slot->Reset();
    }
    return slot.get();
  }

  Result<std::optional<int64_t>> ModelIdOf(const std::string& name) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached("SELECT id FROM models WHERE name = ?1"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, name).Step());
    std::optional<int64_t> id;
    if (row) id = select->Int(0);
    select->Reset();
    return id;
  }

  // REQUIRES: inside a transaction.
  Result<int64_t> EnsureModel(const std::string& name, int64_t now_ms) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
        "INSERT INTO models (name, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?2)"
        " ON CONFLICT (name) DO NOTHING"));
    KEEL_RETURN_IF_ERROR(insert->Bind(1, name).Bind(2, now_ms).Run());
    KEEL_ASSIGN_OR_RETURN(std::optional<int64_t> id, ModelIdOf(name));
    if (!id) return InternalError("model '" + name + "' vanished");
    return *id;
  }

  Status Touch(int64_t model, int64_t now_ms) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * update, Cached(
        "UPDATE models SET updated_at_ms = MAX(updated_at_ms, ?2) WHERE id = ?1"));
    return update->Bind(1, model).Bind(2, now_ms).Run();
  }

  // The model id of `name` when `version` of it is live; not found otherwise.
  Result<int64_t> LiveVersionModel(const std::string& name, int64_t version) {
    KEEL_ASSIGN_OR_RETURN(std::optional<int64_t> model, ModelIdOf(name));
    if (!model) return NotFoundError(NoModel(name));
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT 1 FROM model_versions WHERE model_id = ?1 AND version = ?2 AND deleted_at_ms = 0"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, *model).Bind(2, version).Step());
    select->Reset();
    if (!row) return NotFoundError(NoVersion(name, version));
    return *model;
  }

  Result<std::optional<int64_t>> AliasTarget(int64_t model, const std::string& alias) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select,
                          Cached("SELECT version FROM model_aliases WHERE model_id = ?1 AND alias = ?2"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, model).Bind(2, alias).Step());
    std::optional<int64_t> out;
    if (row) out = select->Int(0);
    select->Reset();
    return out;
  }

  Status InsertVersion(int64_t model, int64_t version, const ModelVersion& v) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
        "INSERT INTO model_versions (model_id, version, digest, size, files, model_file, model_hash, flavor,"
        " description, source, run_id, git_commit, git_dirty, signature, created_by, created_at_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"));
    insert->Bind(1, model).Bind(2, version).Bind(3, v.digest).Bind(4, static_cast<int64_t>(v.size));
    insert->Bind(5, static_cast<int64_t>(v.files)).Bind(6, v.model_file).Bind(7, v.model_hash).Bind(8, v.flavor);
    insert->Bind(9, v.description).Bind(10, v.source);
    if (v.run_id != 0) insert->Bind(11, v.run_id); else insert->BindNull(11);
    insert->Bind(12, v.git_commit).Bind(13, int64_t{v.git_dirty});
    if (!v.signature.empty()) insert->Bind(14, v.signature); else insert->BindNull(14);
    insert->Bind(15, v.created_by).Bind(16, v.created_at_ms);
    return insert->Run();
  }

  Status InsertLineage(int64_t model, int64_t version, const ModelVersion& v) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * param, Cached(
        "INSERT INTO model_version_params (model_id, version, key, value) VALUES (?1, ?2, ?3, ?4)"));
    for (const auto& [k, value] : v.params) {
      KEEL_RETURN_IF_ERROR(param->Bind(1, model).Bind(2, version).Bind(3, k).Bind(4, value).Run());
    }
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * metric, Cached(
        "INSERT INTO model_version_metrics (model_id, version, key, value) VALUES (?1, ?2, ?3, ?4)"));
    for (const auto& [k, value] : v.metrics) {
      KEEL_RETURN_IF_ERROR(metric->Bind(1, model).Bind(2, version).Bind(3, k).BindDouble(4, value).Run());
    }
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * input, Cached(
        "INSERT INTO model_version_inputs (model_id, version, seq, stage, path, hash, size, files, data_version)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
    for (size_t i = 0; i < v.inputs.size(); ++i) {
      const ModelInput& in = v.inputs[i];
      input->Bind(1, model).Bind(2, version).Bind(3, static_cast<int64_t>(i)).Bind(4, in.stage).Bind(5, in.path);
      input->Bind(6, in.hash).Bind(7, static_cast<int64_t>(in.size)).Bind(8, static_cast<int64_t>(in.files));
      KEEL_RETURN_IF_ERROR(input->Bind(9, in.data_version).Run());
    }
    return Status::Ok();
  }

  Result<ModelSummary> Summary(int64_t model, const std::string& name) {
    ModelSummary s;
    s.name = name;
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT m.created_at_ms, m.updated_at_ms,"
        " (SELECT COUNT(*) FROM model_versions WHERE model_id = m.id AND deleted_at_ms = 0),"
        " (SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE model_id = m.id AND deleted_at_ms = 0)"
        " FROM models m WHERE m.id = ?1"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, model).Step());
    if (row) {
      s.created_at_ms = select->Int(0);
      s.updated_at_ms = select->Int(1);
      s.versions = select->Int(2);
      s.latest = select->Int(3);
    }
    select->Reset();
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * aliases,
                          Cached("SELECT alias, version FROM model_aliases WHERE model_id = ?1"));
    aliases->Bind(1, model);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool more, aliases->Step());
      if (!more) break;
      s.aliases[aliases->Text(0)] = aliases->Int(1);
    }
    aliases->Reset();
    return s;
  }

  // Reads the rows of a query over kVersionColumns, then each one's lineage.
  Result<std::vector<ModelVersion>> ReadVersions(SqliteStatement* select) {
    std::vector<ModelVersion> out;
    std::vector<int64_t> model_ids;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      ModelVersion v;
      v.model = select->Text(0);
      v.version = select->Int(1);
      v.digest = select->Text(2);
      v.size = static_cast<uint64_t>(select->Int(3));
      v.files = static_cast<uint64_t>(select->Int(4));
      v.model_file = select->Text(5);
      v.model_hash = select->Text(6);
      v.flavor = select->Text(7);
      v.description = select->Text(8);
      v.source = select->Text(9);
      v.run_id = select->Int(10);
      v.git_commit = select->Text(11);
      v.git_dirty = select->Int(12) != 0;
      v.signature = select->Text(13);
      v.created_by = select->Text(14);
      v.created_at_ms = select->Int(15);
      model_ids.push_back(select->Int(16));
      out.push_back(std::move(v));
    }
    select->Reset();
    for (size_t i = 0; i < out.size(); ++i) KEEL_RETURN_IF_ERROR(ReadLineage(model_ids[i], &out[i]));
    return out;
  }

  Status ReadLineage(int64_t model, ModelVersion* v) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * params, Cached(
        "SELECT key, value FROM model_version_params WHERE model_id = ?1 AND version = ?2"));
    params->Bind(1, model).Bind(2, v->version);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, params->Step());
      if (!row) break;
      v->params[params->Text(0)] = params->Text(1);
    }
    params->Reset();
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * metrics, Cached(
        "SELECT key, value FROM model_version_metrics WHERE model_id = ?1 AND version = ?2"));
    metrics->Bind(1, model).Bind(2, v->version);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, metrics->Step());
      if (!row) break;
      v->metrics[metrics->Text(0)] = metrics->IsNull(1) ? std::nan("") : metrics->Double(1);
    }
    metrics->Reset();
    KEEL_RETURN_IF_ERROR(ReadInputs(model, v));
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * aliases, Cached(
        "SELECT alias FROM model_aliases WHERE model_id = ?1 AND version = ?2 ORDER BY alias"));
    aliases->Bind(1, model).Bind(2, v->version);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, aliases->Step());
      if (!row) break;
      v->aliases.push_back(aliases->Text(0));
    }
    aliases->Reset();
    return Status::Ok();
  }

  Status ReadInputs(int64_t model, ModelVersion* v) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * inputs, Cached(
        "SELECT stage, path, hash, size, files, data_version FROM model_version_inputs"
        " WHERE model_id = ?1 AND version = ?2 ORDER BY seq"));
    inputs->Bind(1, model).Bind(2, v->version);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, inputs->Step());
      if (!row) break;
      v->inputs.push_back({inputs->Text(0), inputs->Text(1), inputs->Text(2), static_cast<uint64_t>(inputs->Int(3)),
                           static_cast<uint64_t>(inputs->Int(4)), inputs->Int(5)});
    }
    inputs->Reset();
    return Status::Ok();
  }

  std::unique_ptr<SqliteDb> db_;
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> statements_;
};

}  // namespace

Result<std::unique_ptr<ModelStore>> OpenModelStore(std::string_view uri) {
  KEEL_ASSIGN_OR_RETURN(std::string path, SqlitePathOf(uri));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  KEEL_RETURN_IF_ERROR(MigrateSchema(db.get()));
  return std::unique_ptr<ModelStore>(std::make_unique<SqliteModelStore>(std::move(db)));
}

}  // namespace keel
