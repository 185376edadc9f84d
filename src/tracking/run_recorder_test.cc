#include "tracking/run_recorder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>

namespace keel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A real store whose LogBatch fails the first `failures` times, telling
// the test each time it is called.
class FlakyRunStore final : public RunStore {
 public:
  FlakyRunStore(std::unique_ptr<RunStore> real, int failures) : real_(std::move(real)), failures_(failures) {}

  Status LogBatch(int64_t run, std::span<const MetricPoint> metrics, const std::map<std::string, std::string>& params,
                  const std::map<std::string, std::string>& tags) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++batches_;
    called_.notify_all();
    if (failures_ > 0) {
      --failures_;
      return UnavailableError("database is locked");
    }
    return real_->LogBatch(run, metrics, params, tags);
  }
  void WaitForBatches(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    called_.wait(lock, [&] { return batches_ >= n; });
  }

  Result<int64_t> CreateRun(const RunInfo& i, const std::map<std::string, std::string>& e) override {
    return real_->CreateRun(i, e);
  }
  Status EndRun(int64_t r, RunStatus s, int64_t t) override { return real_->EndRun(r, s, t); }
  Status LogParams(int64_t r, const std::map<std::string, std::string>& p) override { return real_->LogParams(r, p); }
  Status LogMetrics(int64_t r, std::span<const MetricPoint> p) override { return real_->LogMetrics(r, p); }
  Status SetTags(int64_t r, const std::map<std::string, std::string>& t) override { return real_->SetTags(r, t); }
  Status RemoveTag(int64_t r, const std::string& k) override { return real_->RemoveTag(r, k); }
  Status SetNote(int64_t r, const std::string& n) override { return real_->SetNote(r, n); }
  Status RecordStage(int64_t r, const RunStage& s, std::span<const RunInput> i) override {
    return real_->RecordStage(r, s, i);
  }
  Status RecordArtifact(int64_t r, const RunArtifact& a) override { return real_->RecordArtifact(r, a); }
  Result<RunRecord> GetRun(int64_t r) override { return real_->GetRun(r); }
  Result<std::vector<RunRecord>> ListRuns(const RunQuery& q) override { return real_->ListRuns(q); }
  Result<std::vector<SeriesPoint>> MetricHistory(int64_t r, const std::string& k) override {
    return real_->MetricHistory(r, k);
  }
  Result<std::vector<std::string>> Keys(RunField f) override { return real_->Keys(f); }
  Result<bool> HasKey(RunField f, const std::string& k) override { return real_->HasKey(f, k); }
  Result<std::vector<ExperimentSummary>> ListExperiments() override { return real_->ListExperiments(); }
  Result<std::vector<RunInfo>> RunningRuns() override { return real_->RunningRuns(); }
  Status DeleteRun(int64_t r) override { return real_->DeleteRun(r); }
  Status RestoreRun(int64_t r) override { return real_->RestoreRun(r); }
  Result<int64_t> PurgeDeletedRuns() override { return real_->PurgeDeletedRuns(); }
  Result<std::vector<std::string>> ReferencedObjects() override { return real_->ReferencedObjects(); }

 private:
  std::unique_ptr<RunStore> real_;
  std::mutex mu_;
  std::condition_variable called_;
  int failures_;    // guarded by mu_
  int batches_ = 0;  // guarded by mu_
};

class RunRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/keel-recorder-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    ASSERT_TRUE(Project::Init(DefaultEnv(), root_).ok());
    Result<std::unique_ptr<Project>> project = Project::Open(DefaultEnv(), root_);
    ASSERT_TRUE(project.ok()) << project.status().message();
    project_ = std::move(*project);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<FlakyRunStore> Store(int failures) {
    Result<std::unique_ptr<RunStore>> real = OpenRunStore(project_->MetadataUri());
    EXPECT_TRUE(real.ok());
    return std::make_unique<FlakyRunStore>(std::move(*real), failures);
  }

  static void Append(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::app) << text;
  }

  std::string root_;
  std::unique_ptr<Project> project_;
};

StageSpec Stage(const std::string& name) {
  StageSpec spec;
  spec.name = name;
  return spec;
}

StageReport Ran(const std::string& name) {
  StageReport r;
  r.name = name;
  r.action = StageAction::kRan;
  return r;
}

std::string EnvValue(const std::vector<std::pair<std::string, std::string>>& env, const std::string& key) {
  for (const auto& [k, v] : env) {
    if (k == key) return v;
  }
  return "";
}

// A batch the store refused is read again, and stored exactly once.
TEST_F(RunRecorderTest, RefusedBatchIsStoredOnceOnTheNextRead) {
  std::unique_ptr<FlakyRunStore> store = Store(/*failures=*/1);
  RecorderOptions options;
  options.poll_ms = 1;
  Result<std::unique_ptr<RunRecorder>> recorder = RunRecorder::Start(project_.get(), store.get(), nullptr, options);
  ASSERT_TRUE(recorder.ok());
  RunRecorder& r = **recorder;
  r.StageStarting(Ran("train"));
  std::string events = EnvValue(r.StageEnv(Stage("train")), "KEEL_METRICS_FILE");
  ASSERT_FALSE(events.empty());
  Append(events, "{\"metric\": \"loss\", \"value\": 0.5, \"step\": 1}\n{\"metric\": \"loss\", \"value\": 0.25, \"step\": 2}\n");
  store->WaitForBatches(1);  // the poller's read was refused
  r.StageDone(Ran("train"));
  Status finished = r.Finish(RunStatus::kFinished, nullptr);
  EXPECT_THAT(finished.message(), HasSubstr("database is locked"));  // the first error is reported

  Result<std::vector<SeriesPoint>> history = store->MetricHistory(r.run_id(), "loss");
  ASSERT_TRUE(history.ok());
  std::vector<double> values;
  for (const SeriesPoint& p : *history) values.push_back(p.value);
  EXPECT_THAT(values, ElementsAre(0.5, 0.25));
}

// Events that could not be stored stay on disk, and the error says where.
TEST_F(RunRecorderTest, UnstoredEventsAreKeptAndNamed) {
  std::unique_ptr<FlakyRunStore> store = Store(/*failures=*/1000);
  RecorderOptions options;
  options.poll_ms = 1000000;  // only the final read
  Result<std::unique_ptr<RunRecorder>> recorder = RunRecorder::Start(project_.get(), store.get(), nullptr, options);
  ASSERT_TRUE(recorder.ok());
  RunRecorder& r = **recorder;
  r.StageStarting(Ran("train"));
  std::string events = EnvValue(r.StageEnv(Stage("train")), "KEEL_METRICS_FILE");
  Append(events, "{\"metric\": \"loss\", \"value\": 0.5}\n");
  r.StageDone(Ran("train"));
  Status finished = r.Finish(RunStatus::kFinished, nullptr);
  ASSERT_FALSE(finished.ok());
  EXPECT_THAT(finished.message(), HasSubstr(std::filesystem::path(events).parent_path().string()));
  EXPECT_TRUE(std::filesystem::exists(events));
  Result<RunRecord> run = store->GetRun(r.run_id());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->info.status, RunStatus::kFinished);
}

}  // namespace
}  // namespace keel
