// The SQLite implementation of RunStore: writes and single-run reads.
// Listing with filters is in run_query.cc.
#include "store/run_store.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "store/run_query.h"
#include "store/schema.h"
#include "store/sqlite.h"

namespace keel {

std::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning: return "running";
    case RunStatus::kFinished: return "finished";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kKilled: return "killed";
  }
  return "running";
}

Result<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s : {RunStatus::kRunning, RunStatus::kFinished, RunStatus::kFailed, RunStatus::kKilled}) {
    if (RunStatusName(s) == name) return s;
  }
  return InvalidArgumentError("unknown run status '" + std::string(name) +
                              "' (expected running, finished, failed or killed)");
}

namespace {

std::string NotFoundMessage(int64_t run) { return "no run " + std::to_string(run); }

// Metric series chunks (schema.cc): records of step, timestamp and value.
static_assert(std::endian::native == std::endian::little, "metric chunks are stored little endian");
constexpr size_t kRecordBytes = 24;
constexpr int64_t kChunkPoints = 512;

void AppendRecord(const MetricPoint& p, std::string* out) {
  char record[kRecordBytes];
  std::memcpy(record, &p.step, 8);
  std::memcpy(record + 8, &p.timestamp_ms, 8);
  std::memcpy(record + 16, &p.value, 8);
  out->append(record, kRecordBytes);
}

SeriesPoint ReadRecord(std::string_view record) {
  SeriesPoint p;
  std::memcpy(&p.step, record.data(), 8);
  std::memcpy(&p.timestamp_ms, record.data() + 8, 8);
  std::memcpy(&p.value, record.data() + 16, 8);
  return p;
}

class SqliteRunStore final : public RunStore {
 public:
  explicit SqliteRunStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<int64_t> CreateRun(const RunInfo& info, const std::map<std::string, std::string>& environment) override {
    int64_t id = 0;
    KEEL_RETURN_IF_ERROR(InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(int64_t experiment, ExperimentId(info.experiment, info.start_ns));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
          "INSERT INTO runs (experiment_id, status, start_ns, end_ns, git_commit, git_dirty, diff_hash,"
          " host, pid, command, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
      insert->Bind(1, experiment).Bind(2, RunStatusName(info.status)).Bind(3, info.start_ns);
      insert->Bind(4, info.end_ns).Bind(5, info.git_commit).Bind(6, int64_t{info.git_dirty});
      insert->Bind(7, info.diff_hash).Bind(8, info.host).Bind(9, info.pid).Bind(10, info.command);
      insert->Bind(11, info.note);
      KEEL_RETURN_IF_ERROR(insert->Run());
      id = db_->LastInsertId();
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * env, Cached(
          "INSERT OR REPLACE INTO run_environment (run_id, key, value) VALUES (?1, ?2, ?3)"));
      for (const auto& [k, v] : environment) KEEL_RETURN_IF_ERROR(env->Bind(1, id).Bind(2, k).Bind(3, v).Run());
      return Status::Ok();
    }));
    return id;
  }

  Status EndRun(int64_t run, RunStatus status, int64_t end_ns) override {
    return InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * update,
                            Cached("UPDATE runs SET status = ?2, end_ns = ?3 WHERE id = ?1"));
      KEEL_RETURN_IF_ERROR(update->Bind(1, run).Bind(2, RunStatusName(status)).Bind(3, end_ns).Run());
      return db_->Changes() == 0 ? NotFoundError(NotFoundMessage(run)) : Status::Ok();
    });
  }

  Status LogParams(int64_t run, const std::map<std::string, std::string>& params) override {
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      return WriteParams(run, params);
    });
  }

  Status LogMetrics(int64_t run, std::span<const MetricPoint> points) override {
    if (points.empty()) return Status::Ok();
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      return WriteMetrics(run, points);
    });
  }

  Status SetTags(int64_t run, const std::map<std::string, std::string>& tags) override {
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      return WriteTags(run, tags);
    });
  }

  Status LogBatch(int64_t run, std::span<const MetricPoint> metrics, const std::map<std::string, std::string>& params,
                  const std::map<std::string, std::string>& tags) override {
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      KEEL_RETURN_IF_ERROR(WriteMetrics(run, metrics));
      KEEL_RETURN_IF_ERROR(WriteParams(run, params));
      return WriteTags(run, tags);
    });
  }

  Status RemoveTag(int64_t run, const std::string& key) override {
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * remove, Cached("DELETE FROM run_tags WHERE run_id = ?1 AND key = ?2"));
      KEEL_RETURN_IF_ERROR(remove->Bind(1, run).Bind(2, key).Run());
      if (db_->Changes() == 0) return NotFoundError("run " + std::to_string(run) + " has no tag '" + key + "'");
      return Status::Ok();
    });
  }

  Status SetNote(int64_t run, const std::string& note) override {
    return UpdateRun(run, "UPDATE runs SET note = ?2 WHERE id = ?1", note);
  }
  Status DeleteRun(int64_t run) override { return UpdateRun(run, "UPDATE runs SET deleted = 1 WHERE id = ?1"); }
  Status RestoreRun(int64_t run) override { return UpdateRun(run, "UPDATE runs SET deleted = 0 WHERE id = ?1"); }

  Status RecordStage(int64_t run, const RunStage& stage, std::span<const RunInput> inputs) override {
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
          "INSERT OR REPLACE INTO run_stages (run_id, seq, name, action, exit_code, error, log_hash, log_size)"
          " VALUES (?1, COALESCE((SELECT seq FROM run_stages WHERE run_id = ?1 AND name = ?2),"
          " (SELECT COALESCE(MAX(seq) + 1, 0) FROM run_stages WHERE run_id = ?1)), ?2, ?3, ?4, ?5, ?6, ?7)"));
      insert->Bind(1, run).Bind(2, stage.name).Bind(3, stage.action).Bind(4, int64_t{stage.exit_code});
      insert->Bind(5, stage.error).Bind(6, stage.log_hash).Bind(7, static_cast<int64_t>(stage.log_size));
      KEEL_RETURN_IF_ERROR(insert->Run());
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * input, Cached(
          "INSERT OR REPLACE INTO run_inputs (run_id, stage, role, path, hash, size, files)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
      for (const RunInput& in : inputs) {
        input->Bind(1, run).Bind(2, in.stage).Bind(3, in.role).Bind(4, in.path).Bind(5, in.hash);
        input->Bind(6, static_cast<int64_t>(in.size)).Bind(7, static_cast<int64_t>(in.files));
        KEEL_RETURN_IF_ERROR(input->Run());
      }
      return Status::Ok();
    });
  }

  Status RecordArtifact(int64_t run, const RunArtifact& a) override {
    return InTransaction([&]() -> Status {
      KEEL_RETURN_IF_ERROR(CheckRun(run));
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
          "INSERT OR REPLACE INTO run_artifacts (run_id, stage, name, hash, size) VALUES (?1, ?2, ?3, ?4, ?5)"));
      insert->Bind(1, run).Bind(2, a.stage).Bind(3, a.name).Bind(4, a.hash).Bind(5, static_cast<int64_t>(a.size));
      return insert->Run();
    });
  }

  Result<RunRecord> GetRun(int64_t run) override {
    RunQuery query;
    query.include_deleted = true;
    query.where.push_back({RunField::kAttribute, "id", CompareOp::kEq, static_cast<double>(run)});
    KEEL_ASSIGN_OR_RETURN(std::vector<RunRecord> found, ListRuns(query));
    if (found.empty()) return NotFoundError(NotFoundMessage(run));
    RunRecord record = std::move(found[0]);
    KEEL_RETURN_IF_ERROR(ReadDetails(&record));
    return record;
  }

  Result<std::vector<RunRecord>> ListRuns(const RunQuery& query) override {
    KEEL_ASSIGN_OR_RETURN(std::vector<RunInfo> infos, QueryRuns(db_.get(), query));
    std::vector<RunRecord> out(infos.size());
    for (size_t i = 0; i < infos.size(); ++i) {
      out[i].info = std::move(infos[i]);
      KEEL_RETURN_IF_ERROR(ReadSummary(&out[i]));
    }
    return out;
  }

  Result<std::vector<SeriesPoint>> MetricHistory(int64_t run, const std::string& key) override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * count, Cached(
        "SELECT COALESCE(SUM(points), 0) FROM run_metric_chunks"
        " WHERE run_id = ?1 AND key_id = (SELECT id FROM metric_keys WHERE name = ?2)"));
    KEEL_ASSIGN_OR_RETURN(bool counted, count->Bind(1, run).Bind(2, key).Step());
    std::vector<SeriesPoint> out;
    out.reserve(counted ? static_cast<size_t>(count->Int(0)) : 0);
    count->Reset();
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT points, data FROM run_metric_chunks"
        " WHERE run_id = ?1 AND key_id = (SELECT id FROM metric_keys WHERE name = ?2) ORDER BY chunk"));
    select->Bind(1, run).Bind(2, key);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      std::string_view data = select->Blob(1);
      if (data.size() != static_cast<size_t>(select->Int(0)) * kRecordBytes) {
        select->Reset();
        return CorruptError(db_->path() + ": run " + std::to_string(run) + " metric '" + key +
                            "': a chunk's size does not match its point count");
      }
      for (size_t at = 0; at < data.size(); at += kRecordBytes) out.push_back(ReadRecord(data.substr(at)));
    }
    select->Reset();
    auto by_step = [](const SeriesPoint& a, const SeriesPoint& b) {
      return std::pair(a.step, a.timestamp_ms) < std::pair(b.step, b.timestamp_ms);
    };
    if (!std::is_sorted(out.begin(), out.end(), by_step)) std::stable_sort(out.begin(), out.end(), by_step);
    return out;
  }

  Result<std::vector<std::string>> Keys(RunField field) override {
    const char* sql = field == RunField::kParam    ? "SELECT DISTINCT key FROM run_params ORDER BY key"
                      : field == RunField::kMetric ? "SELECT name FROM metric_keys k WHERE EXISTS"
                                                     " (SELECT 1 FROM run_latest_metrics WHERE key_id = k.id)"
                                                     " ORDER BY name"
                      : field == RunField::kTag    ? "SELECT DISTINCT key FROM run_tags ORDER BY key"
                                                   : nullptr;
    if (sql == nullptr) return InvalidArgumentError("attributes have no stored names");
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(sql));
    return FirstColumn(select);
  }

  Result<bool> HasKey(RunField field, const std::string& key) override {
    const char* sql =
        field == RunField::kParam    ? "SELECT 1 FROM run_params WHERE key = ?1 LIMIT 1"
        : field == RunField::kMetric ? "SELECT 1 FROM run_latest_metrics WHERE key_id ="
                                       " (SELECT id FROM metric_keys WHERE name = ?1) LIMIT 1"
        : field == RunField::kTag    ? "SELECT 1 FROM run_tags WHERE key = ?1 LIMIT 1"
                                     : nullptr;
    if (sql == nullptr) return InvalidArgumentError("attributes have no stored names");
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(sql));
    KEEL_ASSIGN_OR_RETURN(bool found, select->Bind(1, key).Step());
    select->Reset();
    return found;
  }

  Result<std::vector<ExperimentSummary>> ListExperiments() override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT e.name, COUNT(r.id), COALESCE(MAX(r.start_ns), 0) FROM experiments e"
        " LEFT JOIN runs r ON r.experiment_id = e.id AND r.deleted = 0 GROUP BY e.id ORDER BY e.name"));
    std::vector<ExperimentSummary> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      out.push_back({select->Text(0), select->Int(1), select->Int(2)});
    }
    select->Reset();
    return out;
  }

  Result<std::vector<RunInfo>> RunningRuns() override {
    RunQuery query;
    query.include_deleted = true;
    query.where.push_back({RunField::kAttribute, "status", CompareOp::kEq, std::string("running")});
    return QueryRuns(db_.get(), query);
  }

  Result<int64_t> PurgeDeletedRuns() override {
    int64_t purged = 0;
    KEEL_RETURN_IF_ERROR(InTransaction([&]() -> Status {
      for (const char* table : {"run_environment", "run_params", "run_tags", "run_metric_chunks", "run_latest_metrics",
                                "run_stages", "run_inputs", "run_artifacts"}) {
        KEEL_RETURN_IF_ERROR(db_->Exec(std::string("DELETE FROM ") + table +
                                       " WHERE run_id IN (SELECT id FROM runs WHERE deleted = 1)"));
      }
      KEEL_RETURN_IF_ERROR(db_->Exec("DELETE FROM runs WHERE deleted = 1"));
      purged = db_->Changes();
      return Status::Ok();
    }));
    return purged;
  }

  Result<std::vector<std::string>> ReferencedObjects() override {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached(
        "SELECT log_hash FROM run_stages WHERE log_hash != '' UNION SELECT hash FROM run_artifacts"));
    return FirstColumn(select);
  }

 private:
  // The bodies of LogParams, LogMetrics and SetTags. REQUIRES: inside a
  // transaction, `run` checked.
  Status WriteParams(int64_t run, const std::map<std::string, std::string>& params) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
        "INSERT OR REPLACE INTO run_params (run_id, key, value, num) VALUES (?1, ?2, ?3, ?4)"));
    for (const auto& [k, v] : params) {
      insert->Bind(1, run).Bind(2, k).Bind(3, v);
      std::optional<double> num = ParseFilterNumber(v);
      if (num) insert->BindDouble(4, *num); else insert->BindNull(4);
      KEEL_RETURN_IF_ERROR(insert->Run());
    }
    return Status::Ok();
  }

  Status WriteMetrics(int64_t run, std::span<const MetricPoint> points) {
    // Each key's points in the order logged, and its latest one.
    std::map<int64_t, std::string> series;
    std::map<int64_t, const MetricPoint*> latest;
    const std::string* last_key = nullptr;
    int64_t key_id = 0;
    for (const MetricPoint& p : points) {
      if (last_key == nullptr || *last_key != p.key) {
        KEEL_ASSIGN_OR_RETURN(key_id, MetricKeyId(p.key));
        last_key = &p.key;
      }
      AppendRecord(p, &series[key_id]);
      const MetricPoint*& best = latest[key_id];
      if (best == nullptr || std::pair(p.step, p.timestamp_ms) >= std::pair(best->step, best->timestamp_ms)) {
        best = &p;
      }
    }
    for (const auto& [id, records] : series) KEEL_RETURN_IF_ERROR(AppendSeries(run, id, records));
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * upsert, Cached(
        "INSERT INTO run_latest_metrics (run_id, key_id, value, step, timestamp_ms)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (run_id, key_id) DO UPDATE SET"
        " value = excluded.value, step = excluded.step, timestamp_ms = excluded.timestamp_ms"
        " WHERE (excluded.step, excluded.timestamp_ms) >= (step, timestamp_ms)"));
    for (const auto& [id, p] : latest) {
      upsert->Bind(1, run).Bind(2, id).BindDouble(3, p->value).Bind(4, p->step).Bind(5, p->timestamp_ms);
      KEEL_RETURN_IF_ERROR(upsert->Run());
    }
    return Status::Ok();
  }

  Status WriteTags(int64_t run, const std::map<std::string, std::string>& tags) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert,
                          Cached("INSERT OR REPLACE INTO run_tags (run_id, key, value) VALUES (?1, ?2, ?3)"));
    for (const auto& [k, v] : tags) KEEL_RETURN_IF_ERROR(insert->Bind(1, run).Bind(2, k).Bind(3, v).Run());
    return Status::Ok();
  }

  // The first column of every row `select` returns, as text.
  static Result<std::vector<std::string>> FirstColumn(SqliteStatement* select) {
    std::vector<std::string> out;
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      out.push_back(select->Text(0));
    }
    select->Reset();
    return out;
  }

  static double ValueAt(const SqliteStatement& s, int column) {
    return s.IsNull(column) ? std::nan("") : s.Double(column);
  }

  template <typename F>
  Status InTransaction(F&& body) {
    KEEL_RETURN_IF_ERROR(db_->Begin());
    Status status = body();
    if (status.ok()) status = db_->Commit();
    if (!status.ok()) {
      db_->Rollback();
      metric_keys_.clear();  // ids of names inserted by this transaction are gone
    }
    return status;
  }

  // A statement prepared once per store; reset before it is handed out.
  Result<SqliteStatement*> Cached(const char* sql) {
    std::unique_ptr<SqliteStatement>& slot = statements_[sql];
    if (slot == nullptr) {
      KEEL_ASSIGN_OR_RETURN(slot, db_->Prepare(sql));
    } else {
      slot->Reset();
    }
    return slot.get();
  }

  Status CheckRun(int64_t run) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached("SELECT 1 FROM runs WHERE id = ?1"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, run).Step());
    select->Reset();
    return row ? Status::Ok() : NotFoundError(NotFoundMessage(run));
  }

  Status UpdateRun(int64_t run, const char* sql, std::optional<std::string> text = std::nullopt) {
    return InTransaction([&]() -> Status {
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * update, Cached(sql));
      update->Bind(1, run);
      if (text) update->Bind(2, *text);
      KEEL_RETURN_IF_ERROR(update->Run());
      return db_->Changes() == 0 ? NotFoundError(NotFoundMessage(run)) : Status::Ok();
    });
  }

  Result<int64_t> ExperimentId(const std::string& name, int64_t now_ns) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
        "INSERT INTO experiments (name, created_at_ns) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING"));
    KEEL_RETURN_IF_ERROR(insert->Bind(1, name).Bind(2, now_ns).Run());
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached("SELECT id FROM experiments WHERE name = ?1"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, name).Step());
    if (!row) return InternalError("experiment '" + name + "' vanished");
    int64_t id = select->Int(0);
    select->Reset();
    return id;
  }

  // Appends `records` to the series of `key_id`: first filling its last
  // chunk, then in new ones. REQUIRES: inside a transaction.
  Status AppendSeries(int64_t run, int64_t key_id, std::string_view records) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * last, Cached(
        "SELECT chunk, points, data FROM run_metric_chunks WHERE run_id = ?1 AND key_id = ?2"
        " ORDER BY chunk DESC LIMIT 1"));
    KEEL_ASSIGN_OR_RETURN(bool found, last->Bind(1, run).Bind(2, key_id).Step());
    int64_t chunk = found ? last->Int(0) : -1;
    int64_t points = found ? last->Int(1) : kChunkPoints;
    std::string data = found ? std::string(last->Blob(2)) : std::string();
    last->Reset();
    if (points < kChunkPoints) {
      size_t take = std::min(records.size(), static_cast<size_t>(kChunkPoints - points) * kRecordBytes);
      data.append(records.substr(0, take));
      records.remove_prefix(take);
      KEEL_ASSIGN_OR_RETURN(SqliteStatement * update, Cached(
          "UPDATE run_metric_chunks SET points = ?4, data = ?5 WHERE run_id = ?1 AND key_id = ?2 AND chunk = ?3"));
      update->Bind(1, run).Bind(2, key_id).Bind(3, chunk);
      update->Bind(4, static_cast<int64_t>(data.size() / kRecordBytes)).BindBlob(5, data);
      KEEL_RETURN_IF_ERROR(update->Run());
    }
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert, Cached(
        "INSERT INTO run_metric_chunks (run_id, key_id, chunk, points, data) VALUES (?1, ?2, ?3, ?4, ?5)"));
    while (!records.empty()) {
      std::string_view part = records.substr(0, kChunkPoints * kRecordBytes);
      records.remove_prefix(part.size());
      insert->Bind(1, run).Bind(2, key_id).Bind(3, ++chunk);
      insert->Bind(4, static_cast<int64_t>(part.size() / kRecordBytes)).BindBlob(5, part);
      KEEL_RETURN_IF_ERROR(insert->Run());
    }
    return Status::Ok();
  }

  // REQUIRES: inside a transaction (a rolled back id must not stay cached).
  Result<int64_t> MetricKeyId(const std::string& name) {
    auto it = metric_keys_.find(name);
    if (it != metric_keys_.end()) return it->second;
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * insert,
                          Cached("INSERT INTO metric_keys (name) VALUES (?1) ON CONFLICT (name) DO NOTHING"));
    KEEL_RETURN_IF_ERROR(insert->Bind(1, name).Run());
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * select, Cached("SELECT id FROM metric_keys WHERE name = ?1"));
    KEEL_ASSIGN_OR_RETURN(bool row, select->Bind(1, name).Step());
    if (!row) return InternalError("metric name '" + name + "' vanished");
    int64_t id = select->Int(0);
    select->Reset();
    metric_keys_.emplace(name, id);
    return id;
  }

  // Params, latest metrics and tags.
  Status ReadSummary(RunRecord* r) {
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * params, Cached("SELECT key, value FROM run_params WHERE run_id = ?1"));
    KEEL_RETURN_IF_ERROR(ReadPairs(params, r->info.id, &r->params));
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * tags, Cached("SELECT key, value FROM run_tags WHERE run_id = ?1"));
    KEEL_RETURN_IF_ERROR(ReadPairs(tags, r->info.id, &r->tags));
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * metrics, Cached(
        "SELECT k.name, m.value, m.step, m.timestamp_ms FROM run_latest_metrics m"
        " JOIN metric_keys k ON k.id = m.key_id WHERE m.run_id = ?1"));
    metrics->Bind(1, r->info.id);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, metrics->Step());
      if (!row) break;
      std::string key = metrics->Text(0);
      r->metrics[key] = {key, ValueAt(*metrics, 1), metrics->Int(2), metrics->Int(3)};
    }
    metrics->Reset();
    return Status::Ok();
  }

  Status ReadPairs(SqliteStatement* select, int64_t run, std::map<std::string, std::string>* out) {
    select->Bind(1, run);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      out->emplace(select->Text(0), select->Text(1));
    }
    select->Reset();
    return Status::Ok();
  }

  // Inputs, stages, artifacts and the environment.
  Status ReadDetails(RunRecord* r) {
    int64_t id = r->info.id;
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * env, Cached("SELECT key, value FROM run_environment WHERE run_id = ?1"));
    KEEL_RETURN_IF_ERROR(ReadPairs(env, id, &r->environment));
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * stages, Cached(
        "SELECT name, action, exit_code, error, log_hash, log_size FROM run_stages WHERE run_id = ?1 ORDER BY seq"));
    stages->Bind(1, id);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, stages->Step());
      if (!row) break;
      r->stages.push_back({stages->Text(0), stages->Text(1), static_cast<int>(stages->Int(2)), stages->Text(3),
                           stages->Text(4), static_cast<uint64_t>(stages->Int(5))});
    }
    stages->Reset();
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * inputs, Cached(
        "SELECT stage, role, path, hash, size, files FROM run_inputs WHERE run_id = ?1"
        " ORDER BY stage, role, path"));
    inputs->Bind(1, id);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, inputs->Step());
      if (!row) break;
      r->inputs.push_back({inputs->Text(0), inputs->Text(1), inputs->Text(2), inputs->Text(3),
                           static_cast<uint64_t>(inputs->Int(4)), static_cast<uint64_t>(inputs->Int(5))});
    }
    inputs->Reset();
    KEEL_ASSIGN_OR_RETURN(SqliteStatement * artifacts, Cached(
        "SELECT stage, name, hash, size FROM run_artifacts WHERE run_id = ?1 ORDER BY stage, name"));
    artifacts->Bind(1, id);
    for (;;) {
      KEEL_ASSIGN_OR_RETURN(bool row, artifacts->Step());
      if (!row) break;
      r->artifacts.push_back({artifacts->Text(0), artifacts->Text(1), artifacts->Text(2),
                              static_cast<uint64_t>(artifacts->Int(3))});
    }
    artifacts->Reset();
    return Status::Ok();
  }

  std::unique_ptr<SqliteDb> db_;
  std::unordered_map<const char*, std::unique_ptr<SqliteStatement>> statements_;
  std::unordered_map<std::string, int64_t> metric_keys_;
};

}  // namespace

std::string SqliteLibraryVersion() { return sqlite3_libversion(); }

Result<std::unique_ptr<RunStore>> OpenRunStore(std::string_view uri) {
  KEEL_ASSIGN_OR_RETURN(std::string path, SqlitePathOf(uri));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  KEEL_RETURN_IF_ERROR(MigrateSchema(db.get()));
  // Metric series are big: 64 MiB of page cache keeps their b-trees' hot
  // pages in memory while a batch goes in, and reads map the file instead
  // of copying it page by page.
  KEEL_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size = -65536"));
  KEEL_RETURN_IF_ERROR(db->Exec("PRAGMA mmap_size = 1073741824"));
  return std::unique_ptr<RunStore>(std::make_unique<SqliteRunStore>(std::move(db)));
}

}  // namespace keel
