#include "tracking/tracking_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace keel {
namespace {

using ::testing::ElementsAre;
using ::testing::Optional;

RunRecord MakeRun(int64_t id, std::map<std::string, std::string> params, std::map<std::string, double> metrics) {
  RunRecord r;
  r.info.id = id;
  r.info.experiment = "census";
  r.info.status = RunStatus::kFinished;
  r.info.git_commit = "abc";
  r.params = std::move(params);
  for (const auto& [k, v] : metrics) r.metrics[k] = {k, v, 0, 0};
  return r;
}

const ComparisonRow* Find(const std::vector<ComparisonRow>& rows, const std::string& section, const std::string& key) {
  for (const ComparisonRow& row : rows) {
    if (row.section == section && row.key == key) return &row;
  }
  return nullptr;
}

TEST(CompareRunsTest, MarksOnlyTheValuesThatDiffer) {
  std::vector<RunRecord> runs = {MakeRun(1, {{"train.lr", "0.1"}, {"train.depth", "6"}}, {{"auc", 0.9}}),
                                 MakeRun(2, {{"train.lr", "0.2"}, {"train.depth", "6"}}, {{"auc", 0.9}})};
  std::vector<ComparisonRow> rows = CompareRuns(runs);
  std::vector<std::string> differing;
  for (const ComparisonRow& row : rows) {
    if (row.differs) differing.push_back(row.section + "." + row.key);
  }
  EXPECT_THAT(differing, ElementsAre("params.train.lr"));
  const ComparisonRow* lr = Find(rows, "params", "train.lr");
  ASSERT_NE(lr, nullptr);
  EXPECT_THAT(lr->values, ElementsAre(Optional(std::string("0.1")), Optional(std::string("0.2"))));
}

TEST(CompareRunsTest, AValueOnlyOneRunHasDiffers) {
  std::vector<RunRecord> runs = {MakeRun(1, {}, {{"auc", 0.9}}), MakeRun(2, {}, {})};
  runs[0].inputs.push_back({"train", "dep", "data.csv", "sha256:aa", 1, 1});
  runs[1].inputs.push_back({"train", "dep", "data.csv", "sha256:bb", 1, 1});
  std::vector<ComparisonRow> rows = CompareRuns(runs);
  const ComparisonRow* auc = Find(rows, "metrics", "auc");
  ASSERT_NE(auc, nullptr);
  EXPECT_TRUE(auc->differs);
  EXPECT_EQ(auc->values[1], std::nullopt);
  const ComparisonRow* data = Find(rows, "inputs", "train:dep:data.csv");
  ASSERT_NE(data, nullptr);
  EXPECT_TRUE(data->differs);
}

TEST(CompareRunsTest, SectionsComeInOrder) {
  std::vector<ComparisonRow> rows = CompareRuns({MakeRun(1, {{"a", "1"}}, {{"m", 1}}), MakeRun(2, {{"a", "1"}}, {{"m", 1}})});
  std::vector<std::string> sections;
  for (const ComparisonRow& row : rows) {
    if (sections.empty() || sections.back() != row.section) sections.push_back(row.section);
  }
  EXPECT_THAT(sections, ElementsAre("attributes", "params", "metrics"));
}

TEST(DifferingColumnsTest, ParamsThenMetricsThatDiffer) {
  std::vector<RunRecord> runs = {MakeRun(1, {{"lr", "0.1"}, {"depth", "6"}}, {{"auc", 0.9}, {"loss", 0.3}}),
                                 MakeRun(2, {{"lr", "0.2"}, {"depth", "6"}}, {{"auc", 0.8}, {"loss", 0.3}})};
  EXPECT_THAT(DifferingColumns(runs), ElementsAre("params.lr", "metrics.auc"));
}

TEST(DifferingColumnsTest, OneRunShowsEveryColumn) {
  EXPECT_THAT(DifferingColumns({MakeRun(1, {{"lr", "0.1"}}, {{"auc", 0.9}})}), ElementsAre("params.lr", "metrics.auc"));
}

TEST(FormatMetricTest, ShortestRoundTripAndSpecialValues) {
  EXPECT_EQ(FormatMetric(0.1), "0.1");
  EXPECT_EQ(FormatMetric(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatMetric(42), "42");
  EXPECT_EQ(FormatMetric(std::nan("")), "NaN");
  EXPECT_EQ(FormatMetric(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(FormatMetric(-std::numeric_limits<double>::infinity()), "-Infinity");
}

}  // namespace
}  // namespace keel
