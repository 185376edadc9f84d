#include "store/run_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store/metadata_store.h"

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int64_t kMs = 1'000'000;  // nanoseconds
constexpr double kInf = std::numeric_limits<double>::infinity();

MetricPoint Point(std::string key, double value, int64_t step, int64_t timestamp_ms) {
  return {std::move(key), value, step, timestamp_ms};
}

RunCondition Metric(std::string key, CompareOp op, double value) {
  return {RunField::kMetric, std::move(key), op, value};
}
RunCondition Param(std::string key, CompareOp op, FilterValue value) {
  return {RunField::kParam, std::move(key), op, std::move(value)};
}
RunCondition Tag(std::string key, CompareOp op, FilterValue value) {
  return {RunField::kTag, std::move(key), op, std::move(value)};
}
RunCondition Attr(std::string key, CompareOp op, FilterValue value) {
  return {RunField::kAttribute, std::move(key), op, std::move(value)};
}

// One line per stored thing, so that two records compare with a readable diff.
std::string Describe(const RunInput& i) {
  return i.stage + " " + i.role + " " + i.path + " " + i.hash + " " + std::to_string(i.size) + " " +
         std::to_string(i.files);
}
std::string Describe(const RunStage& s) {
  return s.name + " " + s.action + " exit=" + std::to_string(s.exit_code) + " error=" + s.error + " log=" +
         s.log_hash + " " + std::to_string(s.log_size);
}
std::string Describe(const RunArtifact& a) {
  return a.stage + " " + a.name + " " + a.hash + " " + std::to_string(a.size);
}
template <typename T>
std::vector<std::string> DescribeAll(const std::vector<T>& items) {
  std::vector<std::string> out;
  for (const T& item : items) out.push_back(Describe(item));
  return out;
}
std::string Describe(const RunRecord& r) {
  const RunInfo& i = r.info;
  std::ostringstream out;
  out.precision(17);
  out << "id=" << i.id << " experiment=" << i.experiment << " status=" << RunStatusName(i.status)
      << " start=" << i.start_ns << " end=" << i.end_ns << " commit=" << i.git_commit << " dirty=" << i.git_dirty
      << " diff=" << i.diff_hash << " host=" << i.host << " pid=" << i.pid << " command=" << i.command
      << " note=" << i.note << " deleted=" << i.deleted << "\n";
  for (const auto& [k, v] : r.params) out << "param " << k << "=" << v << "\n";
  for (const auto& [k, p] : r.metrics) {
    out << "metric " << k << " key=" << p.key << " " << p.value << " @" << p.step << "/" << p.timestamp_ms << "\n";
  }
  for (const auto& [k, v] : r.tags) out << "tag " << k << "=" << v << "\n";
  for (const std::string& line : DescribeAll(r.inputs)) out << "input " << line << "\n";
  for (const std::string& line : DescribeAll(r.stages)) out << "stage " << line << "\n";
  for (const std::string& line : DescribeAll(r.artifacts)) out << "artifact " << line << "\n";
  for (const auto& [k, v] : r.environment) out << "env " << k << "=" << v << "\n";
  return out.str();
}

std::vector<int64_t> Ids(const std::vector<RunRecord>& runs) {
  std::vector<int64_t> ids;
  for (const RunRecord& r : runs) ids.push_back(r.info.id);
  return ids;
}

class RunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-runs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    uri_ = "sqlite://" + dir_ + "/keel.db";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    EXPECT_FALSE(ec) << ec.message();
  }

  std::unique_ptr<RunStore> Open() {
    Result<std::unique_ptr<RunStore>> store = OpenRunStore(uri_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  static RunInfo Info(std::string experiment, int64_t start_ns = 1000 * kMs) {
    RunInfo info;
    info.experiment = std::move(experiment);
    info.start_ns = start_ns;
    return info;
  }

  // Creates a running run; 0 (and a test failure) if that fails.
  int64_t NewRun(const RunInfo& info, const std::map<std::string, std::string>& environment = {}) {
    Result<int64_t> id = store_->CreateRun(info, environment);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return id.ok() ? *id : 0;
  }
  int64_t NewRun(std::string experiment = "exp") { return NewRun(Info(std::move(experiment))); }

  // A run as `keel run` leaves it: created running, then logged to and
  // ended with `info.status` unless that is running.
  int64_t AddRun(RunInfo info, const std::map<std::string, std::string>& params,
                 const std::map<std::string, double>& metrics, const std::map<std::string, std::string>& tags) {
    RunStatus status = info.status;
    info.status = RunStatus::kRunning;
    int64_t id = NewRun(info);
    std::vector<MetricPoint> points;
    for (const auto& [k, v] : metrics) points.push_back(Point(k, v, 0, info.start_ns / kMs));
    Status logged = store_->LogParams(id, params);
    EXPECT_TRUE(logged.ok()) << logged.ToString();
    logged = store_->LogMetrics(id, points);
    EXPECT_TRUE(logged.ok()) << logged.ToString();
    logged = store_->SetTags(id, tags);
    EXPECT_TRUE(logged.ok()) << logged.ToString();
    if (status != RunStatus::kRunning) {
      Status ended = store_->EndRun(id, status, info.end_ns);
      EXPECT_TRUE(ended.ok()) << ended.ToString();
    }
    return id;
  }

  // Four runs that differ in every field the filters look at.
  void AddFourRuns() {
    r1_ = AddRun({.experiment = "base", .status = RunStatus::kFinished, .start_ns = 1000 * kMs + 999'999,
                  .end_ns = 1500 * kMs, .git_commit = "aaa1", .git_dirty = false, .host = "gpu-1"},
                 {{"depth", "6"}, {"opt", "Adam"}, {"name", "run_a*"}, {"path", "data[1].csv"}, {"lr", "10"},
                  {"model", "forest"}},
                 {{"auc", 0.7}, {"loss", 0.3}}, {{"team", "vision"}});
    r2_ = AddRun({.experiment = "base", .status = RunStatus::kFailed, .start_ns = 2000 * kMs, .end_ns = 2500 * kMs,
                  .git_commit = "bbb2", .git_dirty = true, .host = "gpu-2"},
                 {{"depth", "6.0"}, {"opt", "sgd"}, {"name", "run_ab"}, {"path", "data1.csv"}, {"lr", "0.01"},
                  {"model", "xgboost"}},
                 {{"auc", 0.9}}, {{"team", "nlp"}});
    r3_ = AddRun({.experiment = "tuned", .status = RunStatus::kRunning, .start_ns = 3000 * kMs,
                  .git_commit = "aaa1", .git_dirty = false, .host = "gpu-1"},
                 {{"depth", "8"}, {"opt", "adam"}, {"lr", "1e-3"}, {"model", "linear"}}, {{"auc", 0.8}}, {});
    r4_ = AddRun({.experiment = "tuned", .status = RunStatus::kKilled, .start_ns = 4000 * kMs, .end_ns = 4100 * kMs,
                  .git_commit = "", .git_dirty = true, .host = "cpu"},
                 {{"depth", "deep"}, {"opt", "ADAMW"}}, {{"loss", 0.1}}, {{"team", "vision"}});
  }

  // The ids ListRuns returns for `query`, in its order.
  std::vector<int64_t> ListIds(const RunQuery& query) {
    Result<std::vector<RunRecord>> runs = store_->ListRuns(query);
    EXPECT_TRUE(runs.ok()) << runs.status().ToString();
    return runs.ok() ? Ids(*runs) : std::vector<int64_t>{-1};
  }
  // The ids of the runs matching all of `where`, lowest first.
  std::vector<int64_t> Matching(std::vector<RunCondition> where) {
    RunQuery query;
    query.where = std::move(where);
    query.sort.descending = false;
    return ListIds(query);
  }
  std::vector<int64_t> SortedBy(RunField field, std::string key, bool descending) {
    RunQuery query;
    query.sort = {field, std::move(key), descending};
    return ListIds(query);
  }

  RunRecord Get(int64_t run) {
    Result<RunRecord> record = store_->GetRun(run);
    EXPECT_TRUE(record.ok()) << record.status().ToString();
    return record.ok() ? std::move(record).value() : RunRecord{};
  }

  std::vector<SeriesPoint> History(int64_t run, const std::string& key) {
    Result<std::vector<SeriesPoint>> points = store_->MetricHistory(run, key);
    EXPECT_TRUE(points.ok()) << points.status().ToString();
    return points.ok() ? std::move(points).value() : std::vector<SeriesPoint>{};
  }

  std::vector<std::string> KeysOf(RunField field) {
    Result<std::vector<std::string>> keys = store_->Keys(field);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? std::move(keys).value() : std::vector<std::string>{"<error>"};
  }

  std::string dir_;
  std::string uri_;
  std::unique_ptr<RunStore> store_;
  int64_t r1_ = 0, r2_ = 0, r3_ = 0, r4_ = 0;
};

// "step/timestamp=value" for each point, in order.
std::vector<std::string> Series(const std::vector<SeriesPoint>& points) {
  std::vector<std::string> out;
  for (const SeriesPoint& p : points) {
    std::ostringstream s;
    s << p.step << "/" << p.timestamp_ms << "=" << p.value;
    out.push_back(s.str());
  }
  return out;
}

TEST_F(RunStoreTest, StatusNamesRoundTrip) {
  for (RunStatus s : {RunStatus::kRunning, RunStatus::kFinished, RunStatus::kFailed, RunStatus::kKilled}) {
    Result<RunStatus> parsed = ParseRunStatus(RunStatusName(s));
    ASSERT_TRUE(parsed.ok()) << RunStatusName(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(RunStatusName(RunStatus::kKilled), "killed");
  Result<RunStatus> bad = ParseRunStatus("done");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'done'"));
}

TEST_F(RunStoreTest, CreateThenGetRoundTripsEveryField) {
  RunInfo info;
  info.id = 999;  // assigned by the store, not taken from here
  info.experiment = "baseline";
  info.start_ns = 1'700'000'000'123'456'789;
  info.git_commit = "0123456789abcdef0123456789abcdef01234567";
  info.git_dirty = true;
  info.diff_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  info.host = "worker-7";
  info.pid = 4242;
  info.command = "keel run -e baseline 'train model'";
  info.note = "first try";
  std::map<std::string, std::string> env = {{"keel", "0.1.0"}, {"os", "Linux 6.1"}, {"compiler", "gcc 12.2"}};
  int64_t before = NewRun(Info("earlier"), {{"os", "Darwin"}});
  int64_t id = NewRun(info, env);
  ASSERT_GT(id, before);

  RunRecord got = Get(id);
  EXPECT_EQ(got.info.id, id);
  EXPECT_EQ(got.info.experiment, "baseline");
  EXPECT_EQ(got.info.status, RunStatus::kRunning);
  EXPECT_EQ(got.info.start_ns, 1'700'000'000'123'456'789);
  EXPECT_EQ(got.info.end_ns, 0);
  EXPECT_EQ(got.info.git_commit, info.git_commit);
  EXPECT_TRUE(got.info.git_dirty);
  EXPECT_EQ(got.info.diff_hash, info.diff_hash);
  EXPECT_EQ(got.info.host, "worker-7");
  EXPECT_EQ(got.info.pid, 4242);
  EXPECT_EQ(got.info.command, "keel run -e baseline 'train model'");
  EXPECT_EQ(got.info.note, "first try");
  EXPECT_FALSE(got.info.deleted);
  EXPECT_EQ(got.environment, env);
  EXPECT_THAT(got.params, IsEmpty());
  EXPECT_THAT(got.metrics, IsEmpty());
  EXPECT_THAT(got.tags, IsEmpty());
  EXPECT_THAT(got.inputs, IsEmpty());
  EXPECT_THAT(got.stages, IsEmpty());
  EXPECT_THAT(got.artifacts, IsEmpty());

  // A clean run outside git: the flags and strings stay empty.
  int64_t clean = NewRun(Info("baseline", 5));
  RunRecord second = Get(clean);
  EXPECT_FALSE(second.info.git_dirty);
  EXPECT_EQ(second.info.git_commit, "");
  EXPECT_EQ(second.info.diff_hash, "");
  EXPECT_EQ(second.info.start_ns, 5);
  EXPECT_THAT(second.environment, IsEmpty());
  // Each run has its own environment.
  EXPECT_EQ(Get(id).environment, env);
  EXPECT_THAT(Get(before).environment, ElementsAre(Pair("os", "Darwin")));
}

TEST_F(RunStoreTest, IdsIncreaseAndAreNotReusedAfterPurge) {
  int64_t a = NewRun();
  int64_t b = NewRun();
  int64_t c = NewRun("other");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  ASSERT_TRUE(store_->DeleteRun(c).ok());
  Result<int64_t> purged = store_->PurgeDeletedRuns();
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 1);
  // A new run never takes the id of a purged one (`.keel/runs/ID.lock`, logs).
  EXPECT_GT(NewRun(), c);
}

TEST_F(RunStoreTest, ExperimentsAreCreatedOnDemandAndCountLiveRuns) {
  Result<std::vector<ExperimentSummary>> none = store_->ListExperiments();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_THAT(*none, IsEmpty());

  int64_t a_old = NewRun(Info("a", 100));
  NewRun(Info("a", 300));
  NewRun(Info("a", 200));
  NewRun(Info("b", 250));
  int64_t c_only = NewRun(Info("c", 50));
  ASSERT_TRUE(store_->DeleteRun(a_old).ok());
  ASSERT_TRUE(store_->DeleteRun(c_only).ok());

  Result<std::vector<ExperimentSummary>> list = store_->ListExperiments();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::map<std::string, std::pair<int64_t, int64_t>> by_name;  // name -> (runs, last start)
  for (const ExperimentSummary& e : *list) by_name[e.name] = {e.runs, e.last_start_ns};
  EXPECT_EQ(list->size(), 3u);  // one row per experiment, however many runs it has
  EXPECT_THAT(by_name, ElementsAre(Pair("a", Pair(2, 300)), Pair("b", Pair(1, 250)), Pair("c", Pair(0, _))));
  EXPECT_EQ(Get(a_old).info.experiment, "a");
}

TEST_F(RunStoreTest, EndRunSetsStatusAndEndTime) {
  int64_t finished = NewRun();
  int64_t failed = NewRun();
  int64_t killed = NewRun();
  int64_t running = NewRun();
  ASSERT_TRUE(store_->EndRun(finished, RunStatus::kFinished, 2000 * kMs + 7).ok());
  ASSERT_TRUE(store_->EndRun(failed, RunStatus::kFailed, 3000 * kMs).ok());
  ASSERT_TRUE(store_->EndRun(killed, RunStatus::kKilled, 4000 * kMs).ok());

  EXPECT_EQ(Get(finished).info.status, RunStatus::kFinished);
  EXPECT_EQ(Get(finished).info.end_ns, 2000 * kMs + 7);
  EXPECT_EQ(Get(failed).info.status, RunStatus::kFailed);
  EXPECT_EQ(Get(failed).info.end_ns, 3000 * kMs);
  EXPECT_EQ(Get(killed).info.status, RunStatus::kKilled);
  EXPECT_EQ(Get(killed).info.end_ns, 4000 * kMs);
  EXPECT_EQ(Get(running).info.status, RunStatus::kRunning);
  EXPECT_EQ(Get(running).info.end_ns, 0);
}

TEST_F(RunStoreTest, UnknownRunIsNotFoundNamingTheId) {
  int64_t real = NewRun();
  constexpr int64_t kMissing = 4711;
  ASSERT_NE(real, kMissing);
  MetricPoint point = Point("loss", 1, 0, 0);
  RunStage stage{"train", "ran", 0, "", "sha256:log", 3};
  RunInput input{"train", "dep", "data.csv", "sha256:in", 1, 1};
  std::vector<std::pair<std::string, Status>> calls = {
      {"EndRun", store_->EndRun(kMissing, RunStatus::kFinished, 1)},
      {"LogParams", store_->LogParams(kMissing, {{"lr", "0.1"}})},
      {"LogMetrics", store_->LogMetrics(kMissing, std::span(&point, 1))},
      {"SetTags", store_->SetTags(kMissing, {{"team", "a"}})},
      {"RemoveTag", store_->RemoveTag(kMissing, "team")},
      {"SetNote", store_->SetNote(kMissing, "note")},
      {"DeleteRun", store_->DeleteRun(kMissing)},
      {"RestoreRun", store_->RestoreRun(kMissing)},
      {"RecordStage", store_->RecordStage(kMissing, stage, std::span(&input, 1))},
      {"RecordArtifact", store_->RecordArtifact(kMissing, {"train", "model.bin", "sha256:m", 1})},
      {"GetRun", store_->GetRun(kMissing).status()},
  };
  for (const auto& [name, status] : calls) {
    EXPECT_EQ(status.code(), StatusCode::kNotFound) << name << ": " << status.ToString();
    EXPECT_THAT(status.message(), HasSubstr("4711")) << name;
  }
  // Nothing of the failed calls was written.
  EXPECT_THAT(KeysOf(RunField::kParam), IsEmpty());
  EXPECT_THAT(KeysOf(RunField::kTag), IsEmpty());
  EXPECT_THAT(KeysOf(RunField::kMetric), IsEmpty());
  Result<std::vector<std::string>> objects = store_->ReferencedObjects();
  ASSERT_TRUE(objects.ok());
  EXPECT_THAT(*objects, IsEmpty());
  EXPECT_EQ(Get(real).info.status, RunStatus::kRunning);
}

TEST_F(RunStoreTest, LogParamsReplacesValuesGivenAgain) {
  int64_t run = NewRun();
  int64_t other = NewRun();
  ASSERT_TRUE(store_->LogParams(run, {{"lr", "0.1"}, {"depth", "6"}}).ok());
  ASSERT_TRUE(store_->LogParams(other, {{"depth", "6"}}).ok());
  ASSERT_TRUE(store_->LogParams(run, {{"depth", "8"}, {"opt", "adam"}}).ok());
  EXPECT_THAT(Get(run).params, ElementsAre(Pair("depth", "8"), Pair("lr", "0.1"), Pair("opt", "adam")));
  EXPECT_THAT(Get(other).params, ElementsAre(Pair("depth", "6")));
  // Filters see the new value, as a number too.
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, 8.0)}), ElementsAre(run));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, 6.0)}), ElementsAre(other));
  // A number replaced by text no longer compares as a number.
  ASSERT_TRUE(store_->LogParams(run, {{"depth", "auto"}}).ok());
  EXPECT_THAT(Matching({Param("depth", CompareOp::kGt, 0.0)}), ElementsAre(other));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, "auto")}), ElementsAre(run));
}

TEST_F(RunStoreTest, SetTagsReplacesAndRemoveTagRemoves) {
  int64_t run = NewRun();
  int64_t other = NewRun();
  ASSERT_TRUE(store_->SetTags(run, {{"team", "vision"}, {"stage", "dev"}}).ok());
  ASSERT_TRUE(store_->SetTags(other, {{"team", "nlp"}}).ok());
  ASSERT_TRUE(store_->SetTags(run, {{"stage", "prod"}}).ok());
  EXPECT_THAT(Get(run).tags, ElementsAre(Pair("stage", "prod"), Pair("team", "vision")));

  ASSERT_TRUE(store_->RemoveTag(run, "team").ok());
  EXPECT_THAT(Get(run).tags, ElementsAre(Pair("stage", "prod")));
  EXPECT_THAT(Get(other).tags, ElementsAre(Pair("team", "nlp")));  // only that run's tag went

  Status again = store_->RemoveTag(run, "team");
  EXPECT_EQ(again.code(), StatusCode::kNotFound) << again.ToString();
  EXPECT_THAT(again.message(), HasSubstr("'team'"));
  EXPECT_THAT(Get(run).tags, ElementsAre(Pair("stage", "prod")));
}

TEST_F(RunStoreTest, SetNoteReplacesTheNoteAndMayEmptyIt) {
  RunInfo info = Info("exp");
  info.note = "from the command line";
  int64_t run = NewRun(info);
  int64_t other = NewRun(info);
  ASSERT_TRUE(store_->SetNote(run, "looks good").ok());
  EXPECT_EQ(Get(run).info.note, "looks good");
  EXPECT_EQ(Get(other).info.note, "from the command line");
  Status cleared = store_->SetNote(run, "");
  ASSERT_TRUE(cleared.ok()) << cleared.ToString();
  EXPECT_EQ(Get(run).info.note, "");
  // Setting the same note again is no error either.
  Status same = store_->SetNote(other, "from the command line");
  EXPECT_TRUE(same.ok()) << same.ToString();
}

TEST_F(RunStoreTest, MetricHistoryIsOrderedByStepThenTimestampAcrossBatches) {
  int64_t run = NewRun();
  int64_t other = NewRun();
  std::vector<MetricPoint> first = {Point("loss", 0.5, 2, 200), Point("loss", 0.9, 0, 100)};
  std::vector<MetricPoint> second = {Point("loss", 0.7, 1, 150), Point("loss", 0.6, 2, 120)};
  std::vector<MetricPoint> third = {Point("loss", 0.4, 3, 90), Point("loss", 0.8, 0, 300)};
  std::vector<MetricPoint> others = {Point("loss", 42, 1, 1)};
  ASSERT_TRUE(store_->LogMetrics(run, first).ok());
  ASSERT_TRUE(store_->LogMetrics(other, others).ok());
  ASSERT_TRUE(store_->LogMetrics(run, second).ok());
  ASSERT_TRUE(store_->LogMetrics(run, third).ok());
  ASSERT_TRUE(store_->LogMetrics(run, std::span<const MetricPoint>()).ok());  // an empty batch is fine

  EXPECT_THAT(Series(History(run, "loss")), ElementsAre("0/100=0.9", "0/300=0.8", "1/150=0.7", "2/120=0.6", "2/200=0.5",
                                           "3/90=0.4"));
  EXPECT_THAT(Series(History(other, "loss")), ElementsAre("1/1=42"));
  EXPECT_THAT(History(run, "accuracy"), IsEmpty());
}

TEST_F(RunStoreTest, LatestMetricIsTheHighestStepThenTimestamp) {
  int64_t run = NewRun();
  auto latest = [&]() { return Get(run).metrics.at("loss"); };
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("loss", 0.5, 5, 1000)}).ok());
  // A later batch at a lower step (a restarted loop) does not become the latest.
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("loss", 0.9, 3, 2000)}).ok());
  EXPECT_EQ(latest().value, 0.5);
  EXPECT_EQ(latest().step, 5);
  EXPECT_EQ(latest().timestamp_ms, 1000);
  EXPECT_EQ(latest().key, "loss");
  // The same step with a later timestamp does.
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("loss", 0.4, 5, 1500)}).ok());
  EXPECT_EQ(latest().value, 0.4);
  EXPECT_EQ(latest().timestamp_ms, 1500);
  // The same step with an earlier timestamp does not.
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("loss", 0.3, 5, 1200)}).ok());
  EXPECT_EQ(latest().value, 0.4);
  // Within one batch the order of the points does not matter either.
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("loss", 0.2, 9, 3000), Point("loss", 0.1, 7, 4000),
                                                  Point("loss", 0.15, 8, 5000)})
                  .ok());
  EXPECT_EQ(latest().value, 0.2);
  EXPECT_EQ(latest().step, 9);

  // Lists and filters use the same latest value.
  Result<std::vector<RunRecord>> listed = store_->ListRuns(RunQuery{});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().metrics.at("loss").value, 0.2);
  EXPECT_THAT(Matching({Metric("loss", CompareOp::kEq, 0.2)}), ElementsAre(run));
  EXPECT_THAT(Matching({Metric("loss", CompareOp::kLt, 0.2)}), IsEmpty());
  EXPECT_EQ(History(run, "loss").size(), 7u);
}

TEST_F(RunStoreTest, NanAndInfinitiesRoundTrip) {
  int64_t run = NewRun();
  double nan = std::nan("");
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("x", nan, 0, 1), Point("x", kInf, 1, 1),
                                                  Point("x", -kInf, 2, 1), Point("x", 1.5, 3, 1)})
                  .ok());
  ASSERT_TRUE(store_->LogMetrics(run, std::vector{Point("nan", 1.0, 0, 1), Point("nan", nan, 1, 1),
                                                  Point("pos", kInf, 0, 1), Point("neg", -kInf, 0, 1)})
                  .ok());

  std::vector<SeriesPoint> x = History(run, "x");
  ASSERT_EQ(x.size(), 4u);
  EXPECT_TRUE(std::isnan(x[0].value)) << x[0].value;
  EXPECT_EQ(x[1].value, kInf);
  EXPECT_EQ(x[2].value, -kInf);
  EXPECT_EQ(x[3].value, 1.5);

  Result<std::vector<RunRecord>> listed = store_->ListRuns(RunQuery{});
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  for (const RunRecord& record : {Get(run), listed->front()}) {
    const std::map<std::string, MetricPoint>& latest = record.metrics;
    ASSERT_EQ(latest.size(), 4u);
    EXPECT_TRUE(std::isnan(latest.at("nan").value)) << latest.at("nan").value;
    EXPECT_EQ(latest.at("nan").step, 1);
    EXPECT_EQ(latest.at("pos").value, kInf);
    EXPECT_EQ(latest.at("neg").value, -kInf);
    EXPECT_EQ(latest.at("x").value, 1.5);
  }
  // Infinity compares as a number.
  EXPECT_THAT(Matching({Metric("pos", CompareOp::kGt, 1e308)}), ElementsAre(run));
  EXPECT_THAT(Matching({Metric("neg", CompareOp::kLt, -1e308)}), ElementsAre(run));
}

TEST_F(RunStoreTest, ManyKeysInterleavedInOneBatch) {
  int64_t run = NewRun();
  std::vector<MetricPoint> points;
  const std::vector<std::string> keys = {"loss", "acc", "lr", "val/loss"};
  for (int step = 0; step < 5; ++step) {
    for (size_t k = 0; k < keys.size(); ++k) points.push_back(Point(keys[k], 100.0 * k + step, step, 10 * step));
  }
  points.push_back(Point("acc", 999, 1, 11));  // a key again after others
  ASSERT_TRUE(store_->LogMetrics(run, points).ok());

  for (size_t k = 0; k < keys.size(); ++k) {
    SCOPED_TRACE(keys[k]);
    std::vector<SeriesPoint> history = History(run, keys[k]);
    ASSERT_EQ(history.size(), k == 1 ? 6u : 5u);
    std::vector<double> values;
    for (const SeriesPoint& p : history) values.push_back(p.value);
    double base = 100.0 * k;
    if (k == 1) {
      EXPECT_THAT(values, ElementsAre(base, base + 1, 999, base + 2, base + 3, base + 4));
    } else {
      EXPECT_THAT(values, ElementsAre(base, base + 1, base + 2, base + 3, base + 4));
    }
    EXPECT_EQ(Get(run).metrics.at(keys[k]).value, base + 4);
  }
  EXPECT_THAT(KeysOf(RunField::kMetric), ElementsAre("acc", "loss", "lr", "val/loss"));
}

TEST_F(RunStoreTest, OneBatchOfTwoHundredThousandPoints) {
  int64_t run = NewRun();
  constexpr int kPoints = 200'000;
  std::vector<MetricPoint> points;
  points.reserve(kPoints);
  for (int i = 0; i < kPoints; ++i) points.push_back(Point("loss", 1.0 / (i + 1), i, 1'000'000 + i));
  Status logged = store_->LogMetrics(run, points);
  ASSERT_TRUE(logged.ok()) << logged.ToString();

  std::vector<SeriesPoint> history = History(run, "loss");
  ASSERT_EQ(history.size(), static_cast<size_t>(kPoints));
  int wrong = 0;
  for (int i = 0; i < kPoints; ++i) {
    if (history[i].step != i || history[i].timestamp_ms != 1'000'000 + i || history[i].value != 1.0 / (i + 1)) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
  MetricPoint latest = Get(run).metrics.at("loss");
  EXPECT_EQ(latest.step, kPoints - 1);
  EXPECT_EQ(latest.value, 1.0 / kPoints);
}

TEST_F(RunStoreTest, StagesInputsAndArtifactsReadBackInOrder) {
  int64_t run = NewRun();
  int64_t other = NewRun();
  // Recorded in the order the stages ran, which is not the order of their names.
  std::vector<RunInput> train_inputs = {
      {"train", "dep", "data/train.csv", "sha256:aa", 5'000'000'000, 1},
      {"train", "dep", "params.yaml", "sha256:bb", 120, 1},
      {"train", "out", "models/", "sha256:cc", 77, 3},
  };
  std::vector<RunInput> eval_inputs = {
      {"evaluate", "dep", "models/", "sha256:cc", 77, 3},
      {"evaluate", "out", "metrics.json", "sha256:dd", 40, 1},
  };
  ASSERT_TRUE(store_->RecordStage(run, {"train", "ran", 0, "", "sha256:log-train", 5'000'000'001}, train_inputs).ok());
  ASSERT_TRUE(store_->RecordStage(run, {"evaluate", "failed", 2, "exit status 2", "sha256:log-eval", 12}, eval_inputs)
                  .ok());
  ASSERT_TRUE(store_->RecordStage(run, {"deploy", "not_run", 0, "", "", 0}, {}).ok());
  ASSERT_TRUE(store_->RecordStage(other, {"prepare", "skipped", 0, "", "", 0}, {}).ok());
  ASSERT_TRUE(store_->RecordArtifact(run, {"evaluate", "confusion.png", "sha256:ee", 2048}).ok());
  ASSERT_TRUE(store_->RecordArtifact(run, {"train", "model.bin", "sha256:ff", 9'000'000'000}).ok());

  RunRecord got = Get(run);
  EXPECT_THAT(DescribeAll(got.stages),
              ElementsAre("train ran exit=0 error= log=sha256:log-train 5000000001",
                          "evaluate failed exit=2 error=exit status 2 log=sha256:log-eval 12",
                          "deploy not_run exit=0 error= log= 0"));
  EXPECT_THAT(DescribeAll(got.inputs),
              UnorderedElementsAre("train dep data/train.csv sha256:aa 5000000000 1",
                                   "train dep params.yaml sha256:bb 120 1", "train out models/ sha256:cc 77 3",
                                   "evaluate dep models/ sha256:cc 77 3", "evaluate out metrics.json sha256:dd 40 1"));
  EXPECT_THAT(DescribeAll(got.artifacts),
              ElementsAre("evaluate confusion.png sha256:ee 2048", "train model.bin sha256:ff 9000000000"));
  EXPECT_THAT(DescribeAll(Get(other).stages), ElementsAre("prepare skipped exit=0 error= log= 0"));
  EXPECT_THAT(Get(other).inputs, IsEmpty());
  EXPECT_THAT(Get(other).artifacts, IsEmpty());
}

TEST_F(RunStoreTest, ReferencedObjectsAreStageLogsAndArtifacts) {
  int64_t run = NewRun();
  int64_t deleted = NewRun();
  RunInput input{"train", "dep", "data.csv", "sha256:input-not-an-object-of-runs", 1, 1};
  ASSERT_TRUE(store_->RecordStage(run, {"train", "ran", 0, "", "sha256:log1", 10}, std::span(&input, 1)).ok());
  ASSERT_TRUE(store_->RecordStage(run, {"skipped", "skipped", 0, "", "", 0}, {}).ok());
  ASSERT_TRUE(store_->RecordArtifact(run, {"train", "model.bin", "sha256:art1", 5}).ok());
  ASSERT_TRUE(store_->RecordStage(deleted, {"train", "ran", 0, "", "sha256:log2", 10}, {}).ok());
  ASSERT_TRUE(store_->RecordArtifact(deleted, {"train", "model.bin", "sha256:art2", 5}).ok());
  ASSERT_TRUE(store_->DeleteRun(deleted).ok());

  // A deleted run can be restored, so its objects stay referenced until purged.
  Result<std::vector<std::string>> objects = store_->ReferencedObjects();
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();
  EXPECT_THAT(*objects, UnorderedElementsAre("sha256:log1", "sha256:art1", "sha256:log2", "sha256:art2"));

  ASSERT_TRUE(store_->PurgeDeletedRuns().ok());
  objects = store_->ReferencedObjects();
  ASSERT_TRUE(objects.ok());
  EXPECT_THAT(*objects, UnorderedElementsAre("sha256:log1", "sha256:art1"));
}

TEST_F(RunStoreTest, FilterOnMetrics) {
  AddFourRuns();
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kGt, 0.75)}), ElementsAre(r2_, r3_));
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kGe, 0.8)}), ElementsAre(r2_, r3_));
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kLt, 0.8)}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kLe, 0.7)}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kEq, 0.9)}), ElementsAre(r2_));
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kNe, 0.7)}), ElementsAre(r2_, r3_));  // r4 has no auc
  EXPECT_THAT(Matching({Metric("loss", CompareOp::kLt, 1.0)}), ElementsAre(r1_, r4_));
  EXPECT_THAT(Matching({Metric("nosuch", CompareOp::kGt, -1e308)}), IsEmpty());
}

TEST_F(RunStoreTest, FilterOnParamsAsNumbersOrStrings) {
  AddFourRuns();
  // A number matches "6" and "6.0"; text that is no number never matches one.
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, 6.0)}), ElementsAre(r1_, r2_));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kGt, 6.0)}), ElementsAre(r3_));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kLt, 100.0)}), ElementsAre(r1_, r2_, r3_));
  EXPECT_THAT(Matching({Param("lr", CompareOp::kLt, 0.05)}), ElementsAre(r2_, r3_));  // 0.01 and 1e-3
  // A string compares as text: "6" is not "6.0".
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, "6")}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, "deep")}), ElementsAre(r4_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kEq, "adam")}), ElementsAre(r3_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kEq, "Adam")}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kNe, "sgd")}), ElementsAre(r1_, r3_, r4_));
  EXPECT_THAT(Matching({Param("nosuch", CompareOp::kEq, "x")}), IsEmpty());
}

TEST_F(RunStoreTest, FilterWithLikeAndIlike) {
  AddFourRuns();
  // like is case-sensitive; % is any run of characters, _ any one.
  EXPECT_THAT(Matching({Param("opt", CompareOp::kLike, "adam%")}), ElementsAre(r3_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kLike, "Adam")}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kLike, "_dam")}), ElementsAre(r1_, r3_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kLike, "%AM%")}), ElementsAre(r4_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kLike, "%")}), ElementsAre(r1_, r2_, r3_, r4_));
  // ilike is not.
  EXPECT_THAT(Matching({Param("opt", CompareOp::kILike, "adam%")}), ElementsAre(r1_, r3_, r4_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kILike, "ADAM")}), ElementsAre(r1_, r3_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kILike, "_DAM")}), ElementsAre(r1_, r3_));
  EXPECT_THAT(Matching({Param("opt", CompareOp::kILike, "S%")}), ElementsAre(r2_));
  // Other pattern characters are literal: "run_a*" and "run_ab", "data[1].csv" and "data1.csv".
  EXPECT_THAT(Matching({Param("name", CompareOp::kLike, "run_a*")}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Param("name", CompareOp::kLike, "run_a%")}), ElementsAre(r1_, r2_));
  EXPECT_THAT(Matching({Param("name", CompareOp::kLike, "run?ab")}), IsEmpty());
  EXPECT_THAT(Matching({Param("path", CompareOp::kLike, "data[1]%")}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Param("name", CompareOp::kILike, "RUN_A*")}), ElementsAre(r1_));
  // On tags and string attributes too.
  EXPECT_THAT(Matching({Tag("team", CompareOp::kLike, "v%")}), ElementsAre(r1_, r4_));
  EXPECT_THAT(Matching({Tag("team", CompareOp::kILike, "NLP")}), ElementsAre(r2_));
  EXPECT_THAT(Matching({Attr("experiment", CompareOp::kLike, "b%")}), ElementsAre(r1_, r2_));
  EXPECT_THAT(Matching({Attr("host", CompareOp::kLike, "gpu-_")}), ElementsAre(r1_, r2_, r3_));
}

TEST_F(RunStoreTest, FilterOnTags) {
  AddFourRuns();
  EXPECT_THAT(Matching({Tag("team", CompareOp::kEq, "vision")}), ElementsAre(r1_, r4_));
  EXPECT_THAT(Matching({Tag("team", CompareOp::kNe, "vision")}), ElementsAre(r2_));  // r3 has no tag
  EXPECT_THAT(Matching({Tag("team", CompareOp::kEq, "Vision")}), IsEmpty());
  EXPECT_THAT(Matching({Tag("owner", CompareOp::kEq, "vision")}), IsEmpty());
}

TEST_F(RunStoreTest, FilterOnAttributes) {
  AddFourRuns();
  EXPECT_THAT(Matching({Attr("id", CompareOp::kEq, static_cast<double>(r2_))}), ElementsAre(r2_));
  EXPECT_THAT(Matching({Attr("id", CompareOp::kGt, static_cast<double>(r2_))}), ElementsAre(r3_, r4_));
  EXPECT_THAT(Matching({Attr("status", CompareOp::kEq, "running")}), ElementsAre(r3_));
  EXPECT_THAT(Matching({Attr("status", CompareOp::kEq, "killed")}), ElementsAre(r4_));
  EXPECT_THAT(Matching({Attr("status", CompareOp::kNe, "finished")}), ElementsAre(r2_, r3_, r4_));
  EXPECT_THAT(Matching({Attr("experiment", CompareOp::kEq, "tuned")}), ElementsAre(r3_, r4_));
  EXPECT_THAT(Matching({Attr("dirty", CompareOp::kEq, 1.0)}), ElementsAre(r2_, r4_));
  EXPECT_THAT(Matching({Attr("dirty", CompareOp::kEq, 0.0)}), ElementsAre(r1_, r3_));
  EXPECT_THAT(Matching({Attr("git_commit", CompareOp::kEq, "aaa1")}), ElementsAre(r1_, r3_));
  EXPECT_THAT(Matching({Attr("host", CompareOp::kEq, "cpu")}), ElementsAre(r4_));
  // Times are in ms: r1 started at 1000.999999 ms.
  EXPECT_THAT(Matching({Attr("start_time", CompareOp::kEq, 1000.0)}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Attr("start_time", CompareOp::kGe, 2000.0)}), ElementsAre(r2_, r3_, r4_));
  EXPECT_THAT(Matching({Attr("start_time", CompareOp::kLt, 2000.0)}), ElementsAre(r1_));
  EXPECT_THAT(Matching({Attr("end_time", CompareOp::kEq, 2500.0)}), ElementsAre(r2_));
  EXPECT_THAT(Matching({Attr("end_time", CompareOp::kGt, 0.0)}), ElementsAre(r1_, r2_, r4_));

  RunQuery unknown;
  unknown.where = {Attr("colour", CompareOp::kEq, "red")};
  Result<std::vector<RunRecord>> bad = store_->ListRuns(unknown);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'colour'"));
}

TEST_F(RunStoreTest, ConditionsAreAndedAndExperimentsFilter) {
  AddFourRuns();
  EXPECT_THAT(Matching({Attr("experiment", CompareOp::kEq, "base"), Metric("auc", CompareOp::kGt, 0.75)}),
              ElementsAre(r2_));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, 6.0), Tag("team", CompareOp::kEq, "vision")}),
              ElementsAre(r1_));
  EXPECT_THAT(Matching({Attr("dirty", CompareOp::kEq, 0.0), Param("opt", CompareOp::kILike, "adam"),
                        Metric("auc", CompareOp::kGe, 0.8)}),
              ElementsAre(r3_));
  EXPECT_THAT(Matching({Attr("status", CompareOp::kEq, "running"), Attr("dirty", CompareOp::kEq, 1.0)}), IsEmpty());

  RunQuery query;
  query.sort.descending = false;
  query.experiments = {"tuned"};
  EXPECT_THAT(ListIds(query), ElementsAre(r3_, r4_));
  query.experiments = {"base", "tuned"};
  EXPECT_THAT(ListIds(query), ElementsAre(r1_, r2_, r3_, r4_));
  query.experiments = {"nope"};
  EXPECT_THAT(ListIds(query), IsEmpty());
  query.experiments = {"base"};
  query.where = {Metric("auc", CompareOp::kGt, 0.8)};
  EXPECT_THAT(ListIds(query), ElementsAre(r2_));
}

TEST_F(RunStoreTest, SortByMetricPutsRunsWithoutItLast) {
  AddFourRuns();  // auc: r1 0.7, r2 0.9, r3 0.8, r4 none
  EXPECT_THAT(SortedBy(RunField::kMetric, "auc", /*descending=*/true), ElementsAre(r2_, r3_, r1_, r4_));
  EXPECT_THAT(SortedBy(RunField::kMetric, "auc", /*descending=*/false), ElementsAre(r1_, r3_, r2_, r4_));
  // loss: r1 0.3, r4 0.1; r2 and r3 have none.
  EXPECT_THAT(SortedBy(RunField::kMetric, "loss", /*descending=*/false), ElementsAre(r4_, r1_, _, _));
  EXPECT_THAT(SortedBy(RunField::kMetric, "loss", /*descending=*/true), ElementsAre(r1_, r4_, _, _));
}

TEST_F(RunStoreTest, SortByNumericParamComparesNumbers) {
  AddFourRuns();  // lr: r1 "10", r2 "0.01", r3 "1e-3", r4 none; as text the order would differ
  EXPECT_THAT(SortedBy(RunField::kParam, "lr", /*descending=*/false), ElementsAre(r3_, r2_, r1_, r4_));
  EXPECT_THAT(SortedBy(RunField::kParam, "lr", /*descending=*/true), ElementsAre(r1_, r2_, r3_, r4_));
}

TEST_F(RunStoreTest, SortByTextParamComparesText) {
  AddFourRuns();  // model: r1 "forest", r2 "xgboost", r3 "linear", r4 none
  EXPECT_THAT(SortedBy(RunField::kParam, "model", /*descending=*/false), ElementsAre(r1_, r3_, r2_, r4_));
  EXPECT_THAT(SortedBy(RunField::kParam, "model", /*descending=*/true), ElementsAre(r2_, r3_, r1_, r4_));
}

TEST_F(RunStoreTest, SortByAttributeAndLimit) {
  AddFourRuns();
  EXPECT_THAT(ListIds(RunQuery{}), ElementsAre(r4_, r3_, r2_, r1_));  // newest first by default
  EXPECT_THAT(SortedBy(RunField::kAttribute, "start_time", /*descending=*/false), ElementsAre(r1_, r2_, r3_, r4_));
  RunQuery query;
  query.limit = 2;
  EXPECT_THAT(ListIds(query), ElementsAre(r4_, r3_));
  query.sort = {RunField::kMetric, "auc", /*descending=*/false};
  EXPECT_THAT(ListIds(query), ElementsAre(r1_, r3_));
  query.limit = 10;
  EXPECT_EQ(ListIds(query).size(), 4u);
  query.limit = 1;
  query.where = {Attr("experiment", CompareOp::kEq, "tuned")};
  EXPECT_THAT(ListIds(query), ElementsAre(r3_));
}

TEST_F(RunStoreTest, ListRunsCarriesParamsLatestMetricsAndTags) {
  AddFourRuns();
  RunQuery query;
  query.where = {Attr("id", CompareOp::kEq, static_cast<double>(r1_))};
  Result<std::vector<RunRecord>> runs = store_->ListRuns(query);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  const RunRecord& r = runs->front();
  EXPECT_EQ(r.info.experiment, "base");
  EXPECT_EQ(r.info.status, RunStatus::kFinished);
  EXPECT_EQ(r.info.host, "gpu-1");
  EXPECT_EQ(r.params.size(), 6u);
  EXPECT_EQ(r.params.at("opt"), "Adam");
  EXPECT_EQ(r.metrics.size(), 2u);
  EXPECT_EQ(r.metrics.at("auc").value, 0.7);
  EXPECT_THAT(r.tags, ElementsAre(Pair("team", "vision")));
}

TEST_F(RunStoreTest, DeletedRunsAreHiddenUntilRestoredAndPurgedForGood) {
  AddFourRuns();
  ASSERT_TRUE(store_->DeleteRun(r2_).ok());
  EXPECT_THAT(ListIds(RunQuery{}), ElementsAre(r4_, r3_, r1_));
  EXPECT_THAT(Matching({Param("depth", CompareOp::kEq, 6.0)}), ElementsAre(r1_));
  RunQuery all;
  all.include_deleted = true;
  EXPECT_THAT(ListIds(all), ElementsAre(r4_, r3_, r2_, r1_));
  EXPECT_TRUE(Get(r2_).info.deleted);  // still found by id
  EXPECT_FALSE(Get(r1_).info.deleted);

  ASSERT_TRUE(store_->RestoreRun(r2_).ok());
  EXPECT_THAT(ListIds(RunQuery{}), ElementsAre(r4_, r3_, r2_, r1_));
  EXPECT_FALSE(Get(r2_).info.deleted);
  EXPECT_EQ(Get(r2_).params.at("opt"), "sgd");

  ASSERT_TRUE(store_->DeleteRun(r2_).ok());
  ASSERT_TRUE(store_->DeleteRun(r3_).ok());
  Result<int64_t> purged = store_->PurgeDeletedRuns();
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 2);
  for (int64_t gone : {r2_, r3_}) {
    Result<RunRecord> record = store_->GetRun(gone);
    EXPECT_EQ(record.status().code(), StatusCode::kNotFound) << gone;
    EXPECT_THAT(record.status().message(), HasSubstr(std::to_string(gone)));
    EXPECT_THAT(History(gone, "auc"), IsEmpty());
  }
  EXPECT_THAT(ListIds(all), ElementsAre(r4_, r1_));
  // Their params and tags went with them; the others' stayed.
  EXPECT_THAT(KeysOf(RunField::kParam), ElementsAre("depth", "lr", "model", "name", "opt", "path"));
  EXPECT_THAT(Matching({Tag("team", CompareOp::kEq, "nlp")}), IsEmpty());
  EXPECT_THAT(Matching({Metric("auc", CompareOp::kGt, 0.0)}), ElementsAre(r1_));
  EXPECT_EQ(Get(r1_).params.size(), 6u);
  EXPECT_EQ(Get(r1_).metrics.at("auc").value, 0.7);
  EXPECT_THAT(Series(History(r1_, "auc")), ElementsAre("0/1000=0.7"));

  purged = store_->PurgeDeletedRuns();
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);
}

TEST_F(RunStoreTest, KeysAreSortedAndDistinct) {
  int64_t a = NewRun();
  int64_t b = NewRun();
  ASSERT_TRUE(store_->LogParams(a, {{"train.lr", "0.1"}, {"depth", "6"}}).ok());
  ASSERT_TRUE(store_->LogParams(b, {{"depth", "8"}, {"data.csv:rows", "10"}}).ok());
  ASSERT_TRUE(store_->LogMetrics(b, std::vector{Point("val_loss", 1, 0, 0), Point("auc", 1, 0, 0)}).ok());
  ASSERT_TRUE(store_->LogMetrics(a, std::vector{Point("auc", 2, 0, 0), Point("acc", 1, 0, 0)}).ok());
  ASSERT_TRUE(store_->SetTags(a, {{"team", "x"}, {"owner", "y"}}).ok());
  ASSERT_TRUE(store_->SetTags(b, {{"team", "z"}}).ok());

  EXPECT_THAT(KeysOf(RunField::kParam), ElementsAre("data.csv:rows", "depth", "train.lr"));
  EXPECT_THAT(KeysOf(RunField::kMetric), ElementsAre("acc", "auc", "val_loss"));
  EXPECT_THAT(KeysOf(RunField::kTag), ElementsAre("owner", "team"));
  Result<std::vector<std::string>> attributes = store_->Keys(RunField::kAttribute);
  EXPECT_EQ(attributes.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RunStoreTest, KeysForgetNamesOnlyPurgedRunsUsed) {
  int64_t kept = NewRun();
  int64_t purged = NewRun();
  ASSERT_TRUE(store_->LogParams(kept, {{"p", "1"}}).ok());
  ASSERT_TRUE(store_->LogMetrics(kept, std::vector{Point("m", 1, 0, 0)}).ok());
  ASSERT_TRUE(store_->SetTags(kept, {{"t", "1"}}).ok());
  ASSERT_TRUE(store_->LogParams(purged, {{"p_gone", "1"}}).ok());
  ASSERT_TRUE(store_->LogMetrics(purged, std::vector{Point("m_gone", 1, 0, 0)}).ok());
  ASSERT_TRUE(store_->SetTags(purged, {{"t_gone", "1"}}).ok());
  ASSERT_TRUE(store_->DeleteRun(purged).ok());
  ASSERT_TRUE(store_->PurgeDeletedRuns().ok());

  // "The names used by any run": no run uses the *_gone names any more.
  EXPECT_THAT(KeysOf(RunField::kParam), ElementsAre("p"));
  EXPECT_THAT(KeysOf(RunField::kTag), ElementsAre("t"));
  EXPECT_THAT(KeysOf(RunField::kMetric), ElementsAre("m"));
}

TEST_F(RunStoreTest, RunningRunsAreOnlyTheRunningOnes) {
  Result<std::vector<RunInfo>> none = store_->RunningRuns();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_THAT(*none, IsEmpty());

  AddFourRuns();  // only r3 still runs
  RunInfo info = Info("other");
  info.host = "elsewhere";
  info.pid = 77;
  int64_t r5 = NewRun(info);
  auto running_ids = [&]() {
    Result<std::vector<RunInfo>> running = store_->RunningRuns();
    EXPECT_TRUE(running.ok()) << running.status().ToString();
    std::vector<int64_t> ids;
    for (const RunInfo& i : running.ok() ? *running : std::vector<RunInfo>{}) {
      EXPECT_EQ(i.status, RunStatus::kRunning) << i.id;
      ids.push_back(i.id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_THAT(running_ids(), ElementsAre(r3_, r5));
  Result<std::vector<RunInfo>> running = store_->RunningRuns();
  ASSERT_TRUE(running.ok());
  for (const RunInfo& i : *running) {
    if (i.id == r5) {
      EXPECT_EQ(i.host, "elsewhere");
      EXPECT_EQ(i.pid, 77);
    }
  }
  ASSERT_TRUE(store_->EndRun(r5, RunStatus::kKilled, 9).ok());
  EXPECT_THAT(running_ids(), ElementsAre(r3_));
}

TEST_F(RunStoreTest, TwoConnectionsLogMetricsAtOnce) {
  int64_t runs[2] = {NewRun(), NewRun()};
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 100;
  // Each thread opens its own store, as a second process would, and both
  // start logging together: a shared metric name and one of their own.
  std::barrier start(2);
  std::vector<Status> errors(2);
  auto writer = [&](int t) {
    Result<std::unique_ptr<RunStore>> store = OpenRunStore(uri_);
    start.arrive_and_wait();
    if (!store.ok()) {
      errors[t] = store.status();
      return;
    }
    std::string own = "thread" + std::to_string(t);
    for (int batch = 0; batch < kBatches; ++batch) {
      std::vector<MetricPoint> points;
      for (int i = 0; i < kPerBatch; ++i) {
        int step = batch * kPerBatch + i;
        points.push_back(Point("loss", step, step, step));
        points.push_back(Point(own, -step, step, step));
      }
      Status logged = (*store)->LogMetrics(runs[t], points);
      if (!logged.ok()) {
        errors[t] = logged;
        return;
      }
    }
  };
  std::thread a(writer, 0);
  std::thread b(writer, 1);
  a.join();
  b.join();
  EXPECT_TRUE(errors[0].ok()) << errors[0].ToString();
  EXPECT_TRUE(errors[1].ok()) << errors[1].ToString();

  constexpr int kTotal = kBatches * kPerBatch;
  for (int t = 0; t < 2; ++t) {
    SCOPED_TRACE(t);
    for (const std::string& key : {std::string("loss"), "thread" + std::to_string(t)}) {
      std::vector<SeriesPoint> history = History(runs[t], key);
      ASSERT_EQ(history.size(), static_cast<size_t>(kTotal)) << key;
      int wrong = 0;
      for (int i = 0; i < kTotal; ++i) {
        if (history[i].step != i || std::abs(history[i].value) != i) ++wrong;
      }
      EXPECT_EQ(wrong, 0) << key;
    }
    EXPECT_THAT(History(runs[t], "thread" + std::to_string(1 - t)), IsEmpty());
    EXPECT_EQ(Get(runs[t]).metrics.at("loss").step, kTotal - 1);
  }
  EXPECT_THAT(KeysOf(RunField::kMetric), ElementsAre("loss", "thread0", "thread1"));
}

TEST_F(RunStoreTest, ReopeningKeepsEverythingAtSchemaVersionTwo) {
  AddFourRuns();
  RunInput input{"train", "dep", "data.csv", "sha256:in", 10, 1};
  ASSERT_TRUE(store_->RecordStage(r1_, {"train", "ran", 0, "", "sha256:log", 99}, std::span(&input, 1)).ok());
  ASSERT_TRUE(store_->RecordArtifact(r1_, {"train", "model.bin", "sha256:model", 1234}).ok());
  ASSERT_TRUE(store_->SetNote(r1_, "keep me").ok());
  ASSERT_TRUE(store_->LogMetrics(r1_, std::vector{Point("nan", std::nan(""), 1, 2)}).ok());
  ASSERT_TRUE(store_->DeleteRun(r4_).ok());
  std::vector<std::string> before;
  for (int64_t id : {r1_, r2_, r3_, r4_}) before.push_back(Describe(Get(id)));
  std::vector<std::string> history_before = Series(History(r1_, "auc"));
  store_.reset();

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  std::vector<std::string> after;
  for (int64_t id : {r1_, r2_, r3_, r4_}) after.push_back(Describe(Get(id)));
  EXPECT_EQ(after, before);
  EXPECT_EQ(Series(History(r1_, "auc")), history_before);
  EXPECT_THAT(ListIds(RunQuery{}), ElementsAre(r3_, r2_, r1_));  // r4 is still deleted
  // The reopened store logs to old and new names alike.
  ASSERT_TRUE(store_->LogMetrics(r1_, std::vector{Point("auc", 0.95, 1, 5000), Point("f1", 0.5, 1, 5000)}).ok());
  EXPECT_EQ(Get(r1_).metrics.at("auc").value, 0.95);
  EXPECT_EQ(Get(r1_).metrics.at("f1").value, 0.5);
  EXPECT_GT(NewRun("base"), r4_);

  Result<std::unique_ptr<MetadataStore>> meta = OpenMetadataStore(uri_);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  Result<int64_t> version = (*meta)->SchemaVersion();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_GE(*version, 2);  // later migrations (the registry's, 3) come on top
}

TEST_F(RunStoreTest, UnknownSchemeIsInvalidArgumentNamingTheUri) {
  for (std::string uri : {"postgres://x", "runs.db", ""}) {
    Result<std::unique_ptr<RunStore>> store = OpenRunStore(uri);
    ASSERT_FALSE(store.ok()) << uri;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << uri;
    EXPECT_THAT(store.status().message(), HasSubstr("'" + uri + "'"));
  }
}

}  // namespace
}  // namespace keel
