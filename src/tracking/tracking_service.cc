#include "tracking/tracking_service.h"

#include <charconv>
#include <cmath>
#include <set>

#include "core/hash.h"
#include "core/paths.h"
#include "core/yaml.h"
#include "tracking/environment.h"
#include "tracking/run_filter.h"
#include "tracking/run_recorder.h"

namespace keel {
namespace {

const char* FieldName(RunField field) {
  switch (field) {
    case RunField::kMetric: return "metric";
    case RunField::kParam: return "param";
    case RunField::kTag: return "tag";
    case RunField::kAttribute: return "attribute";
  }
  return "field";
}

std::optional<std::string> Lookup(const std::map<std::string, std::string>& values, const std::string& key) {
  auto it = values.find(key);
  return it == values.end() ? std::nullopt : std::optional<std::string>(it->second);
}

void AddRows(const std::string& section, const std::vector<std::map<std::string, std::string>>& per_run,
             std::vector<ComparisonRow>* out) {
  std::set<std::string> keys;
  for (const auto& values : per_run) {
    for (const auto& [k, v] : values) keys.insert(k);
  }
  for (const std::string& key : keys) {
    ComparisonRow row{section, key, {}, false};
    for (const auto& values : per_run) row.values.push_back(Lookup(values, key));
    for (const auto& v : row.values) row.differs = row.differs || v != row.values.front();
    out->push_back(std::move(row));
  }
}

std::map<std::string, std::string> MetricTexts(const RunRecord& run) {
  std::map<std::string, std::string> out;
  for (const auto& [k, p] : run.metrics) out[k] = FormatMetric(p.value);
  return out;
}

}  // namespace

std::string FormatMetric(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

Result<std::unique_ptr<RunStore>> OpenProjectRunStore(const Project& project) {
  return OpenRunStore(project.MetadataUri());
}

Result<std::unique_ptr<RunRecorder>> TrackingService::StartRecording(RunObserver* next, RecorderOptions options) {
  KEEL_RETURN_IF_ERROR(ReapKilledRuns().status());
  return RunRecorder::Start(project_, store_, next, std::move(options));
}

Result<std::vector<int64_t>> TrackingService::ReapKilledRuns() {
  KEEL_ASSIGN_OR_RETURN(std::vector<RunInfo> running, store_->RunningRuns());
  std::vector<int64_t> reaped;
  std::string host = HostName();
  Env* env = project_->env();
  for (const RunInfo& run : running) {
    if (run.host != host) continue;  // only its own host can tell
    std::string path = RunLockPath(*project_, run);
    // A run's lock file exists before its row: without it, the run is gone.
    std::unique_ptr<FileLock> lock;
    if (Exists(env, path)) {
      KEEL_ASSIGN_OR_RETURN(lock, env->TryLockFile(path, LockMode::kExclusive));
      if (lock == nullptr) continue;  // its keel is still running
    }
    // The run may have ended between the list and the lock.
    KEEL_ASSIGN_OR_RETURN(RunRecord now, store_->GetRun(run.id));
    if (now.info.status == RunStatus::kRunning) {
      KEEL_RETURN_IF_ERROR(store_->EndRun(run.id, RunStatus::kKilled, env->NowNanos()));
      reaped.push_back(run.id);
    }
    // What its stages logged after the last read is lost with it.
    (void)RemoveTree(env, RunFilesPath(*project_, run));
    (void)env->RemoveFile(path);
  }
  return reaped;
}

Status TrackingService::CheckKnown(RunField field, const std::string& key, std::string_view flag) {
  if (field == RunField::kAttribute) return Status::Ok();
  KEEL_ASSIGN_OR_RETURN(bool known_key, store_->HasKey(field, key));
  if (known_key) return Status::Ok();
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> known, store_->Keys(field));
  return InvalidArgumentError(std::string(flag) + ": no run has a " + FieldName(field) + " '" + key + "'" +
                              DidYouMean(key, known));
}

Result<std::vector<RunRecord>> TrackingService::ListRuns(const ListRunsRequest& request) {
  KEEL_RETURN_IF_ERROR(ReapKilledRuns().status());
  RunQuery query;
  KEEL_ASSIGN_OR_RETURN(query.where, ParseRunFilter(request.where));
  for (const RunCondition& c : query.where) KEEL_RETURN_IF_ERROR(CheckKnown(c.field, c.key, "--where"));
  if (!request.sort.empty()) {
    KEEL_ASSIGN_OR_RETURN(query.sort, ParseRunSort(request.sort));
    KEEL_RETURN_IF_ERROR(CheckKnown(query.sort.field, query.sort.key, "--sort"));
  }
  query.limit = request.limit;
  query.experiments = request.experiments;
  query.include_deleted = request.include_deleted;
  if (!query.experiments.empty()) {
    KEEL_ASSIGN_OR_RETURN(std::vector<ExperimentSummary> all, store_->ListExperiments());
    std::vector<std::string> names;
    for (const ExperimentSummary& e : all) names.push_back(e.name);
    for (const std::string& e : query.experiments) {
      if (std::find(names.begin(), names.end(), e) == names.end()) {
        return NotFoundError("no experiment '" + e + "'" + DidYouMean(e, names));
      }
    }
  }
  return store_->ListRuns(query);
}

Result<int64_t> TrackingService::ParseId(std::string_view id) {
  int64_t value = 0;
  auto r = std::from_chars(id.data(), id.data() + id.size(), value);
  if (id.empty() || r.ec != std::errc() || r.ptr != id.data() + id.size() || value <= 0) {
    return InvalidArgumentError("'" + std::string(id) + "' is not a run id (runs are numbered 1, 2, ...)");
  }
  return value;
}

Result<RunRecord> TrackingService::GetRun(std::string_view id) {
  KEEL_ASSIGN_OR_RETURN(int64_t run, ParseId(id));
  KEEL_RETURN_IF_ERROR(ReapKilledRuns().status());
  return store_->GetRun(run);
}

Result<std::vector<int64_t>> TrackingService::DataVersionsOf(const RunRecord& run) {
  std::map<std::string, std::vector<DataVersion>> by_path;
  std::vector<int64_t> out;
  for (const RunInput& in : run.inputs) {
    auto [it, added] = by_path.try_emplace(in.path);
    if (added) {
      KEEL_ASSIGN_OR_RETURN(it->second, project_->metadata().ListDataVersions(in.path));
    }
    int64_t id = 0;
    for (const DataVersion& v : it->second) {
      if (v.digest.ToString() == in.hash) id = v.id;  // newest first: keeps the oldest equal one
    }
    out.push_back(id);
  }
  return out;
}

Result<std::vector<SeriesPoint>> TrackingService::MetricHistory(std::string_view id, const std::string& name) {
  KEEL_ASSIGN_OR_RETURN(RunRecord run, GetRun(id));
  if (run.metrics.count(name) == 0) {
    std::vector<std::string> names;
    for (const auto& [k, v] : run.metrics) names.push_back(k);
    std::string listed;
    for (const std::string& n : names) listed += (listed.empty() ? "" : ", ") + n;
    return NotFoundError("run " + std::to_string(run.info.id) + " has no metric '" + name + "'" +
                         DidYouMean(name, names) + (listed.empty() ? " (it has none)" : " (it has: " + listed + ")"));
  }
  return store_->MetricHistory(run.info.id, name);
}

Result<std::string> TrackingService::StageLog(std::string_view id, const std::string& stage) {
  KEEL_ASSIGN_OR_RETURN(RunRecord run, GetRun(id));
  std::vector<std::string> names;
  for (const RunStage& s : run.stages) {
    names.push_back(s.name);
    if (s.name != stage) continue;
    if (s.log_hash.empty()) return std::string();
    KEEL_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(s.log_hash, "run " + std::to_string(run.info.id) + " log"));
    return project_->objects().ReadVerified(digest);
  }
  return NotFoundError("run " + std::to_string(run.info.id) + " has no stage '" + stage + "'" +
                       DidYouMean(stage, names));
}

Status TrackingService::SetTag(std::string_view id, const std::string& key, const std::string& value) {
  KEEL_ASSIGN_OR_RETURN(int64_t run, ParseId(id));
  if (key.empty()) return InvalidArgumentError("a tag name is empty");
  return store_->SetTags(run, {{key, value}});
}

Status TrackingService::RemoveTag(std::string_view id, const std::string& key) {
  KEEL_ASSIGN_OR_RETURN(int64_t run, ParseId(id));
  return store_->RemoveTag(run, key);
}

Status TrackingService::SetNote(std::string_view id, const std::string& note) {
  KEEL_ASSIGN_OR_RETURN(int64_t run, ParseId(id));
  return store_->SetNote(run, note);
}

Status TrackingService::Delete(std::string_view id) {
  KEEL_ASSIGN_OR_RETURN(int64_t run, ParseId(id));
  KEEL_RETURN_IF_ERROR(ReapKilledRuns().status());
  KEEL_ASSIGN_OR_RETURN(RunRecord record, store_->GetRun(run));
  if (record.info.status == RunStatus::kRunning) {
    return FailedPreconditionError("run " + std::to_string(run) + " is still running");
  }
  return store_->DeleteRun(run);
}

Status TrackingService::Restore(std::string_view id) {
  KEEL_ASSIGN_OR_RETURN(int64_t run, ParseId(id));
  return store_->RestoreRun(run);
}

Result<int64_t> TrackingService::PurgeDeleted() { return store_->PurgeDeletedRuns(); }

Result<std::vector<Digest>> TrackingService::ReferencedObjects() {
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> hashes, store_->ReferencedObjects());
  std::vector<Digest> out;
  for (const std::string& hash : hashes) {
    KEEL_ASSIGN_OR_RETURN(Digest d, Digest::Parse(hash, project_->MetadataUri() + ": a run's object"));
    out.push_back(d);
  }
  return out;
}

Result<std::vector<ExperimentSummary>> TrackingService::Experiments() {
  KEEL_RETURN_IF_ERROR(ReapKilledRuns().status());
  return store_->ListExperiments();
}

std::vector<ComparisonRow> CompareRuns(const std::vector<RunRecord>& runs) {
  std::vector<ComparisonRow> rows;
  std::vector<std::map<std::string, std::string>> attributes, params, metrics, inputs;
  for (const RunRecord& r : runs) {
    attributes.push_back({{"experiment", r.info.experiment},
                          {"status", std::string(RunStatusName(r.info.status))},
                          {"git_commit", r.info.git_commit},
                          {"dirty", r.info.git_dirty ? "true" : "false"}});
    params.push_back(r.params);
    metrics.push_back(MetricTexts(r));
    std::map<std::string, std::string> in;
    for (const RunInput& i : r.inputs) in[i.stage + ":" + i.role + ":" + i.path] = i.hash;
    inputs.push_back(std::move(in));
  }
  AddRows("attributes", attributes, &rows);
  AddRows("params", params, &rows);
  AddRows("metrics", metrics, &rows);
  AddRows("inputs", inputs, &rows);
  return rows;
}

std::vector<std::string> DifferingColumns(const std::vector<RunRecord>& runs) {
  std::vector<std::map<std::string, std::string>> params, metrics;
  for (const RunRecord& r : runs) {
    params.push_back(r.params);
    metrics.push_back(MetricTexts(r));
  }
  std::vector<ComparisonRow> rows;
  AddRows("params", params, &rows);
  AddRows("metrics", metrics, &rows);
  std::vector<std::string> out;
  for (const ComparisonRow& row : rows) {
    if (row.differs || runs.size() == 1) out.push_back(row.section + "." + row.key);
  }
  return out;
}

}  // namespace keel
