// Turns a table into the dense feature matrix a model's signature asks for.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/eval_metrics.h"
#include "runtime/signature.h"
#include "table/csv.h"
#include "table/table.h"

namespace keel::runtime {

// Row-major rows x cols floats; NaN is a missing value.
struct FeatureMatrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<float> values;

  const float* row(size_t i) const { return values.data() + i * cols; }
};

// Reading options for a file the model will score: the signature's input
// columns are declared with their types, so a non-number in a numeric
// column is reported at its line and column, and "007" stays a category.
table::CsvOptions CsvOptionsFor(const Signature& signature);

// The signature's features from `table`: input columns found by name
// (others ignored), in signature order. A category is mapped to its index
// in the signature; a category the model never saw, like a missing value,
// becomes NaN (native encoding) or all-zero indicator features (one-hot).
// Errors (kInvalidArgument) name `source` and the column: an input column
// the table lacks, or a column of the wrong type.
Result<FeatureMatrix> BuildFeatures(const Signature& signature, const table::Table& table,
                                    std::string_view source);

// The target column of `table` as the model's labels: the class index
// (classification) or the value (regression), one per row.
// Errors name `source` and the column: the table lacks the target, a row
// has no value, or a class is not one of the signature's classes.
Result<std::vector<float>> TargetLabels(const Signature& signature, const table::Table& table,
                                        std::string_view source);

// The metrics of the task (eval_metrics.h) for `predictions` as a Model
// writes them.
std::vector<MetricValue> TaskMetrics(const Signature& signature, std::span<const float> labels,
                                     std::span<const float> predictions);

// metrics.json's text (docs/format/model.md): a flat object in the
// metrics' order; an undefined (NaN) metric is null.
std::string MetricsToJson(const std::vector<MetricValue>& metrics);

}  // namespace keel::runtime
