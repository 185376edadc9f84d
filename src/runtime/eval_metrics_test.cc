#include "runtime/eval_metrics.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace keel::runtime {
namespace {

// The value of metric `name` in `metrics`; fails the test when it is absent.
double Metric(const std::vector<MetricValue>& metrics, const std::string& name) {
  for (const MetricValue& m : metrics) {
    if (m.name == name) return m.value;
  }
  ADD_FAILURE() << "no metric '" << name << "'";
  return std::nan("");
}

std::vector<std::string> Names(const std::vector<MetricValue>& metrics) {
  std::vector<std::string> names;
  for (const MetricValue& m : metrics) names.push_back(m.name);
  return names;
}

TEST(BinaryMetricsTest, NamesInDocumentedOrder) {
  std::vector<float> labels = {0, 1};
  std::vector<float> p = {0.2f, 0.7f};
  EXPECT_EQ(Names(BinaryMetrics(labels, p)),
            (std::vector<std::string>{"auc", "logloss", "accuracy", "f1", "precision", "recall"}));
  EXPECT_EQ(Names(MulticlassMetrics(labels, std::vector<float>{0.9f, 0.1f, 0.2f, 0.8f}, 2)),
            (std::vector<std::string>{"accuracy", "macro_f1", "logloss"}));
  EXPECT_EQ(Names(RegressionMetrics(labels, p)), (std::vector<std::string>{"rmse", "mae", "r2"}));
}

TEST(BinaryMetricsTest, AucOfPerfectReversedAndTiedScores) {
  std::vector<float> labels = {0, 0, 1, 1, 1};
  EXPECT_EQ(Metric(BinaryMetrics(labels, std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f, 0.9f}), "auc"),
            1.0);
  EXPECT_EQ(Metric(BinaryMetrics(labels, std::vector<float>{0.9f, 0.8f, 0.3f, 0.2f, 0.1f}), "auc"),
            0.0);
  EXPECT_EQ(Metric(BinaryMetrics(labels, std::vector<float>(5, 0.4f)), "auc"), 0.5);
}

TEST(BinaryMetricsTest, AucCountsConcordantPairsWithTiesHalf) {
  std::vector<float> labels = {1, 0, 1, 0, 0, 1};
  std::vector<float> scores = {0.8f, 0.8f, 0.3f, 0.5f, 0.1f, 0.5f};
  double concordant = 0;
  int pairs = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (size_t j = 0; j < labels.size(); ++j) {
      if (labels[i] != 1 || labels[j] != 0) continue;
      ++pairs;
      if (scores[i] > scores[j]) concordant += 1;
      if (scores[i] == scores[j]) concordant += 0.5;
    }
  }
  ASSERT_EQ(pairs, 9);
  // By hand: 0.8 beats 0.5, 0.1 and ties 0.8 (2.5); 0.3 beats 0.1 (1);
  // 0.5 beats 0.1, ties 0.5 (1.5): 5 of 9.
  ASSERT_EQ(concordant, 5.0);
  EXPECT_DOUBLE_EQ(Metric(BinaryMetrics(labels, scores), "auc"), concordant / pairs);
}

TEST(BinaryMetricsTest, AucIsNaNWithOneClassOrNaNScore) {
  std::vector<float> p = {0.1f, 0.6f, 0.9f};
  EXPECT_TRUE(std::isnan(Metric(BinaryMetrics(std::vector<float>{1, 1, 1}, p), "auc")));
  EXPECT_TRUE(std::isnan(Metric(BinaryMetrics(std::vector<float>{0, 0, 0}, p), "auc")));
  std::vector<float> with_nan = {0.1f, std::nanf(""), 0.9f};
  EXPECT_TRUE(std::isnan(Metric(BinaryMetrics(std::vector<float>{0, 1, 1}, with_nan), "auc")));
}

TEST(BinaryMetricsTest, LogLossFromDefinitionAndClipping) {
  std::vector<float> labels = {1, 0};
  std::vector<float> p = {0.8f, 0.4f};
  double expected = -(std::log(double{0.8f}) + std::log(1 - double{0.4f})) / 2;
  EXPECT_NEAR(Metric(BinaryMetrics(labels, p), "logloss"), expected, 1e-15);
  // A confident miss costs -log(1e-15), not infinity: label 1 at p = 0 is
  // clipped to 1e-15, label 0 at p = 1 to 1 - 1e-15 (then 1 - p, as scikit-learn).
  std::vector<float> wrong = {0.0f, 1.0f};
  EXPECT_NEAR(Metric(BinaryMetrics(labels, wrong), "logloss"),
              -(std::log(1e-15) + std::log(1 - (1 - 1e-15))) / 2, 1e-12);
  std::vector<float> right = {1.0f, 0.0f};
  EXPECT_NEAR(Metric(BinaryMetrics(labels, right), "logloss"), -std::log1p(-1e-15), 1e-16);
}

TEST(BinaryMetricsTest, ConfusionMetricsAtThreshold) {
  // Predictions at 0.5: 1 1 0 1 0 1 (a probability equal to the threshold is class 1).
  std::vector<float> labels = {1, 0, 1, 1, 0, 0};
  std::vector<float> p = {0.9f, 0.5f, 0.2f, 0.7f, 0.1f, 0.6f};
  // tp = 2 (rows 0, 3), fp = 2 (rows 1, 5), fn = 1 (row 2), tn = 1 (row 4).
  auto metrics = BinaryMetrics(labels, p);
  EXPECT_DOUBLE_EQ(Metric(metrics, "accuracy"), 3.0 / 6);
  EXPECT_DOUBLE_EQ(Metric(metrics, "precision"), 2.0 / 4);
  EXPECT_DOUBLE_EQ(Metric(metrics, "recall"), 2.0 / 3);
  EXPECT_DOUBLE_EQ(Metric(metrics, "f1"), 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3));
  // At 0.8 only row 0 is predicted 1: tp 1, fp 0, fn 2.
  metrics = BinaryMetrics(labels, p, 0.8);
  EXPECT_DOUBLE_EQ(Metric(metrics, "precision"), 1.0);
  EXPECT_DOUBLE_EQ(Metric(metrics, "recall"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(Metric(metrics, "accuracy"), 4.0 / 6);
}

TEST(BinaryMetricsTest, ZeroDivisionGivesZero) {
  // Nothing predicted positive: precision is 0/0.
  auto metrics = BinaryMetrics(std::vector<float>{1, 0, 1}, std::vector<float>{0.1f, 0.2f, 0.3f});
  EXPECT_EQ(Metric(metrics, "precision"), 0.0);
  EXPECT_EQ(Metric(metrics, "recall"), 0.0);
  EXPECT_EQ(Metric(metrics, "f1"), 0.0);
  EXPECT_DOUBLE_EQ(Metric(metrics, "accuracy"), 1.0 / 3);
  // No positive label and none predicted: everything undefined is 0.
  metrics = BinaryMetrics(std::vector<float>{0, 0}, std::vector<float>{0.1f, 0.2f});
  EXPECT_EQ(Metric(metrics, "precision"), 0.0);
  EXPECT_EQ(Metric(metrics, "recall"), 0.0);
  EXPECT_EQ(Metric(metrics, "f1"), 0.0);
  EXPECT_EQ(Metric(metrics, "accuracy"), 1.0);
}

TEST(MulticlassMetricsTest, AbsentClassIsLeftOutOfMacroF1) {
  // Four classes; class 3 appears in neither labels nor predictions.
  std::vector<float> labels = {0, 1, 2, 2, 1};
  std::vector<float> p = {
      0.7f, 0.1f, 0.1f, 0.1f,  // predicts 0 (right)
      0.2f, 0.5f, 0.2f, 0.1f,  // predicts 1 (right)
      0.1f, 0.6f, 0.2f, 0.1f,  // predicts 1 (wrong: 2)
      0.1f, 0.1f, 0.8f, 0.0f,  // predicts 2 (right)
      0.4f, 0.4f, 0.1f, 0.1f,  // tie between 0 and 1: the first, 0 (wrong: 1)
  };
  auto metrics = MulticlassMetrics(labels, p, 4);
  EXPECT_DOUBLE_EQ(Metric(metrics, "accuracy"), 3.0 / 5);
  // Class 0: tp 1, fp 1, fn 0 -> 2/3. Class 1: tp 1, fp 1, fn 1 -> 1/2.
  // Class 2: tp 1, fp 0, fn 1 -> 2/3.
  EXPECT_DOUBLE_EQ(Metric(metrics, "macro_f1"), (2.0 / 3 + 0.5 + 2.0 / 3) / 3);
  double expected_logloss =
      -(std::log(double{0.7f}) + std::log(double{0.5f}) + std::log(double{0.2f}) +
        std::log(double{0.8f}) + std::log(double{0.4f})) /
      5;
  EXPECT_NEAR(Metric(metrics, "logloss"), expected_logloss, 1e-15);
}

TEST(MulticlassMetricsTest, ClassOnlyPredictedCountsWithF1Zero) {
  std::vector<float> labels = {0, 0};
  std::vector<float> p = {0.9f, 0.1f, 0.0f, 0.3f, 0.0f, 0.7f};
  auto metrics = MulticlassMetrics(labels, p, 3);
  // Class 0: tp 1, fn 1 -> 2/3; class 2: fp 1 -> 0; class 1 absent.
  EXPECT_DOUBLE_EQ(Metric(metrics, "macro_f1"), (2.0 / 3 + 0) / 2);
  EXPECT_NEAR(Metric(metrics, "logloss"), -(std::log(double{0.9f}) + std::log(double{0.3f})) / 2,
              1e-15);
}

TEST(RegressionMetricsTest, FromDefinitions) {
  std::vector<float> labels = {1, 2, 3, 6};
  std::vector<float> prediction = {1.5f, 2, 2, 7};
  auto metrics = RegressionMetrics(labels, prediction);
  // Errors -0.5, 0, 1, -1; label mean 3, SS_tot = 4 + 1 + 0 + 9 = 14.
  EXPECT_DOUBLE_EQ(Metric(metrics, "rmse"), std::sqrt((0.25 + 0 + 1 + 1) / 4));
  EXPECT_DOUBLE_EQ(Metric(metrics, "mae"), (0.5 + 0 + 1 + 1) / 4);
  EXPECT_DOUBLE_EQ(Metric(metrics, "r2"), 1 - 2.25 / 14);
}

TEST(RegressionMetricsTest, R2IsNaNWhenLabelsAreConstant) {
  auto metrics = RegressionMetrics(std::vector<float>{2, 2, 2}, std::vector<float>{2, 2, 3});
  EXPECT_TRUE(std::isnan(Metric(metrics, "r2")));
  EXPECT_DOUBLE_EQ(Metric(metrics, "mae"), 1.0 / 3);
}

// --- Cross-check against scikit-learn ---------------------------------------

constexpr char kPython[] = "/usr/bin/python3";

constexpr char kSklearnScript[] = R"PY(
import math, sys
import numpy as np
from sklearn import metrics as m
d = sys.argv[1]
out = {}
b = np.loadtxt(d + "/binary.csv", delimiter=",")
y, p = b[:, 0], b[:, 1]
pred = (p >= 0.5).astype(float)
out["binary.auc"] = m.roc_auc_score(y, p)
out["binary.logloss"] = m.log_loss(y, p)
out["binary.accuracy"] = m.accuracy_score(y, pred)
out["binary.f1"] = m.f1_score(y, pred, zero_division=0)
out["binary.precision"] = m.precision_score(y, pred, zero_division=0)
out["binary.recall"] = m.recall_score(y, pred, zero_division=0)
c = np.loadtxt(d + "/multiclass.csv", delimiter=",")
y, P = c[:, 0].astype(int), c[:, 1:]
pred = P.argmax(axis=1)
out["multiclass.accuracy"] = m.accuracy_score(y, pred)
out["multiclass.macro_f1"] = m.f1_score(y, pred, average="macro", zero_division=0)
out["multiclass.logloss"] = m.log_loss(y, P, labels=list(range(P.shape[1])))
r = np.loadtxt(d + "/regression.csv", delimiter=",")
y, q = r[:, 0], r[:, 1]
out["regression.rmse"] = math.sqrt(m.mean_squared_error(y, q))
out["regression.mae"] = m.mean_absolute_error(y, q)
out["regression.r2"] = m.r2_score(y, q)
for name, value in out.items():
    print(name, repr(float(value)))
)PY";

// Runs `command`, returning its exit status and combined stdout and stderr.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A float written so that Python reads exactly the same value as a double.
std::string Exact(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", static_cast<double>(value));
  return text;
}

struct Dataset {
  std::vector<float> labels, scores;
};

// Binary: scores rounded to 2 decimals (many ties) in [0.01, 0.99], so
// clipping never applies and no scikit-learn version's eps matters.
Dataset BinaryData(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> cents(1, 99);
  std::uniform_real_distribution<double> unit(0, 1);
  Dataset d;
  for (int i = 0; i < 2000; ++i) {
    float score = static_cast<float>(cents(rng) / 100.0);
    d.scores.push_back(score);
    d.labels.push_back(unit(rng) < 0.2 + 0.6 * score ? 1.0f : 0.0f);
  }
  return d;
}

// Multiclass over 4 classes: each row's probabilities are multiples of 1/256
// summing to exactly 1 (so scikit-learn's renormalisation is exact), with
// ties for the highest; labels drawn from the row, class 3 folded into 2 so
// that it is only ever predicted.
Dataset MulticlassData(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> cut(1, 255);
  std::uniform_int_distribution<int> draw(0, 255);
  Dataset d;
  for (int i = 0; i < 2000; ++i) {
    int cuts[3];
    do {
      for (int& c : cuts) c = cut(rng);
      std::sort(cuts, cuts + 3);
    } while (cuts[0] == cuts[1] || cuts[1] == cuts[2]);
    int parts[4] = {cuts[0], cuts[1] - cuts[0], cuts[2] - cuts[1], 256 - cuts[2]};
    int x = draw(rng), label = 0;
    while (x >= parts[label]) x -= parts[label++];
    d.labels.push_back(static_cast<float>(std::min(label, 2)));
    for (int part : parts) d.scores.push_back(static_cast<float>(part / 256.0));
  }
  return d;
}

Dataset RegressionData(std::mt19937_64& rng) {
  std::normal_distribution<double> label(10, 3), noise(0, 1.5);
  Dataset d;
  for (int i = 0; i < 2000; ++i) {
    double y = label(rng);
    d.labels.push_back(static_cast<float>(y));
    d.scores.push_back(static_cast<float>(y + noise(rng)));
  }
  return d;
}

void WriteCsv(const std::string& path, const Dataset& d, size_t columns) {
  std::ofstream out(path);
  for (size_t i = 0; i < d.labels.size(); ++i) {
    out << Exact(d.labels[i]);
    for (size_t j = 0; j < columns; ++j) out << ',' << Exact(d.scores[i * columns + j]);
    out << '\n';
  }
  ASSERT_TRUE(out.good()) << path;
}

void ExpectClose(const std::string& name, double ours, double theirs) {
  EXPECT_NEAR(ours, theirs, 1e-9 * std::max(1e-3, std::abs(theirs)))
      << name << ": keel " << ours << ", scikit-learn " << theirs;
}

TEST(EvalMetricsCrossCheck, AgreesWithScikitLearn) {
  ASSERT_EQ(::access(kPython, X_OK), 0)
      << kPython << " is missing: this test needs Debian's python3 with python3-sklearn "
      << "(scripts/setup installs them)";
  char tmpl[] = "/tmp/keel-eval-metrics-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;

  std::mt19937_64 rng(20240607);
  Dataset binary = BinaryData(rng), multiclass = MulticlassData(rng),
          regression = RegressionData(rng);
  WriteCsv(dir + "/binary.csv", binary, 1);
  WriteCsv(dir + "/multiclass.csv", multiclass, 4);
  WriteCsv(dir + "/regression.csv", regression, 1);
  std::ofstream(dir + "/check.py") << kSklearnScript;

  std::string output;
  int status = RunCommand(std::string(kPython) + " " + dir + "/check.py " + dir, &output);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(status, 0) << "scikit-learn cross-check failed (is python3-sklearn installed? "
                       << "scripts/setup installs it):\n"
                       << output;

  std::map<std::string, double> expected;
  std::istringstream lines(output);
  std::string name, value;
  while (lines >> name >> value) expected[name] = std::strtod(value.c_str(), nullptr);
  ASSERT_EQ(expected.size(), 12u) << output;

  auto check = [&](const std::string& group, const std::vector<MetricValue>& ours) {
    for (const MetricValue& m : ours) {
      auto it = expected.find(group + "." + m.name);
      ASSERT_NE(it, expected.end()) << group << "." << m.name << " missing in:\n" << output;
      ExpectClose(it->first, m.value, it->second);
    }
  };
  check("binary", BinaryMetrics(binary.labels, binary.scores));
  check("multiclass", MulticlassMetrics(multiclass.labels, multiclass.scores, 4));
  check("regression", RegressionMetrics(regression.labels, regression.scores));
}

}  // namespace
}  // namespace keel::runtime
