#include "runtime/eval_metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>

namespace keel::runtime {
namespace {

constexpr double kProbabilityEpsilon = 1e-15;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Clip(double p) {
  return std::clamp(p, kProbabilityEpsilon, 1 - kProbabilityEpsilon);
}

// 0 / 0 is 0, as scikit-learn's zero_division=0.
double Ratio(double numerator, double denominator) {
  return denominator == 0 ? 0.0 : numerator / denominator;
}

// F1 from counts: 2tp / (2tp + fp + fn), which equals 2PR / (P + R) and is 0
// where scikit-learn's zero_division=0 makes it 0.
double F1(uint64_t tp, uint64_t fp, uint64_t fn) {
  return Ratio(2.0 * static_cast<double>(tp), static_cast<double>(2 * tp + fp + fn));
}

// The Mann–Whitney statistic: the sum of the positives' ranks, with tied
// scores sharing the average of their ranks, gives the fraction of
// (positive, negative) pairs ordered correctly with ties counted half —
// exactly the area under the ROC curve scikit-learn integrates.
double RocAuc(std::span<const float> labels, std::span<const float> scores) {
  // NaN has no rank (and would break std::sort's ordering).
  if (std::any_of(scores.begin(), scores.end(), [](float s) { return std::isnan(s); })) return kNaN;
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  uint64_t positives = 0;
  for (size_t begin = 0; begin < n;) {
    size_t end = begin + 1;
    while (end < n && scores[order[end]] == scores[order[begin]]) ++end;
    // Ranks begin+1 .. end share their mean.
    const double average_rank = (static_cast<double>(begin + 1) + static_cast<double>(end)) / 2;
    for (size_t i = begin; i < end; ++i) {
      if (labels[order[i]] > 0.5f) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    begin = end;
  }
  const uint64_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return kNaN;
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

double BinaryLogLoss(std::span<const float> labels, std::span<const float> probability) {
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double p = Clip(probability[i]);
    sum -= labels[i] > 0.5f ? std::log(p) : std::log(1 - p);
  }
  return sum / static_cast<double>(labels.size());
}

// The first class with the highest probability in row `row`.
int ArgMax(std::span<const float> probability, size_t row, int classes) {
  const float* p = probability.data() + row * static_cast<size_t>(classes);
  return static_cast<int>(std::max_element(p, p + classes) - p);
}

// A label's class index, or -1 when it is not one of 0 .. classes-1.
int ClassOf(float label, int classes) {
  if (!(label >= 0) || label >= static_cast<float>(classes)) return -1;
  return static_cast<int>(label);
}

}  // namespace

std::vector<MetricValue> BinaryMetrics(std::span<const float> labels,
                                       std::span<const float> probability, double threshold) {
  assert(labels.size() == probability.size() && !labels.empty());
  uint64_t tp = 0, fp = 0, fn = 0, tn = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool actual = labels[i] > 0.5f;
    const bool predicted = probability[i] >= threshold;
    tp += actual && predicted;
    fp += !actual && predicted;
    fn += actual && !predicted;
    tn += !actual && !predicted;
  }
  const double n = static_cast<double>(labels.size());
  return {
      {"auc", RocAuc(labels, probability)},
      {"logloss", BinaryLogLoss(labels, probability)},
      {"accuracy", static_cast<double>(tp + tn) / n},
      {"f1", F1(tp, fp, fn)},
      {"precision", Ratio(static_cast<double>(tp), static_cast<double>(tp + fp))},
      {"recall", Ratio(static_cast<double>(tp), static_cast<double>(tp + fn))},
  };
}

std::vector<MetricValue> MulticlassMetrics(std::span<const float> labels,
                                           std::span<const float> probability, int classes) {
  assert(classes > 0 && !labels.empty());
  assert(probability.size() == labels.size() * static_cast<size_t>(classes));
  const size_t k = static_cast<size_t>(classes);
  std::vector<uint64_t> tp(k), fp(k), fn(k);
  uint64_t correct = 0;
  double logloss_sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int actual = ClassOf(labels[i], classes);
    const int predicted = ArgMax(probability, i, classes);
    if (actual == predicted) {
      ++correct;
      ++tp[predicted];
    } else {
      ++fp[predicted];
      if (actual >= 0) ++fn[actual];
    }
    // A label outside the classes has probability 0: the clipped worst case.
    const double p = actual >= 0 ? probability[i * k + static_cast<size_t>(actual)] : 0.0;
    logloss_sum -= std::log(Clip(p));
  }
  double f1_sum = 0;
  size_t present = 0;
  for (size_t c = 0; c < k; ++c) {
    if (tp[c] + fp[c] + fn[c] == 0) continue;  // in neither labels nor predictions
    f1_sum += F1(tp[c], fp[c], fn[c]);
    ++present;
  }
  const double n = static_cast<double>(labels.size());
  return {
      {"accuracy", static_cast<double>(correct) / n},
      {"macro_f1", f1_sum / static_cast<double>(present)},
      {"logloss", logloss_sum / n},
  };
}

std::vector<MetricValue> RegressionMetrics(std::span<const float> labels,
                                           std::span<const float> prediction) {
  assert(labels.size() == prediction.size() && !labels.empty());
  const double n = static_cast<double>(labels.size());
  double label_sum = 0, squared_error_sum = 0, absolute_error_sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const double error = static_cast<double>(labels[i]) - static_cast<double>(prediction[i]);
    label_sum += labels[i];
    squared_error_sum += error * error;
    absolute_error_sum += std::abs(error);
  }
  const double label_mean = label_sum / n;
  double total_sum_of_squares = 0;
  for (float label : labels) {
    const double deviation = static_cast<double>(label) - label_mean;
    total_sum_of_squares += deviation * deviation;
  }
  const double r2 = total_sum_of_squares == 0 ? kNaN : 1 - squared_error_sum / total_sum_of_squares;
  return {
      {"rmse", std::sqrt(squared_error_sum / n)},
      {"mae", absolute_error_sum / n},
      {"r2", r2},
  };
}

}  // namespace keel::runtime
