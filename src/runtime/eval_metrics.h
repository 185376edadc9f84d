// Quality metrics of predictions against labels, as scikit-learn defines
// them, for a model's metrics.json and, later, the quality gates.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace keel::runtime {

struct MetricValue {
  std::string name;
  double value = 0;
};

// Binary classification. `labels` are 0 or 1, `probability` is P(label 1).
// Returns, in this order: auc (ROC AUC, ties counted half; NaN when only one
// class is present), logloss (probabilities clipped to [1e-15, 1 - 1e-15]),
// accuracy, f1, precision, recall (the class is 1 when probability >=
// threshold; precision/recall/f1 are 0 when undefined, as scikit-learn's
// zero_division=0). A NaN probability makes auc and logloss NaN.
// REQUIRES: labels.size() == probability.size() > 0.
std::vector<MetricValue> BinaryMetrics(std::span<const float> labels,
                                       std::span<const float> probability, double threshold = 0.5);

// Multiclass classification over `classes` classes. `labels` hold class
// indices; `probability` is row-major, labels.size() x classes. The
// predicted class is the first with the highest probability. Returns
// accuracy, macro_f1 (unweighted mean over the classes present in labels or
// predictions), logloss (clipped as above; rows are not renormalised, as
// XGBoost's softprob rows already sum to 1).
// REQUIRES: classes > 0, labels non-empty, probability.size() ==
// labels.size() * classes, each label an integer in [0, classes) (a label
// outside that range counts as probability 0 and matches no prediction).
std::vector<MetricValue> MulticlassMetrics(std::span<const float> labels,
                                           std::span<const float> probability, int classes);

// Regression. Returns rmse, mae, r2 (1 - SS_res / SS_tot; NaN when all
// labels are equal).
std::vector<MetricValue> RegressionMetrics(std::span<const float> labels,
                                           std::span<const float> prediction);

}  // namespace keel::runtime
