#include "runtime/features.h"

#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace keel::runtime {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// For each of the table's categories, its index in the signature, or -1.
std::vector<int32_t> CategoryMap(const InputColumn& input, const table::Column& column) {
  std::unordered_map<std::string_view, int32_t> index;
  index.reserve(input.categories.size());
  for (size_t i = 0; i < input.categories.size(); ++i) {
    index.emplace(input.categories[i], static_cast<int32_t>(i));
  }
  std::vector<int32_t> map(column.categories.size(), -1);
  for (size_t i = 0; i < column.categories.size(); ++i) {
    auto it = index.find(column.categories[i]);
    if (it != index.end()) map[i] = it->second;
  }
  return map;
}

// Writes one input column into features [col, col + width) of every row.
void FillColumn(const InputColumn& input, const table::Column& column, CategoricalEncoding encoding,
                size_t col, FeatureMatrix* m) {
  if (m->rows == 0) return;  // no values: data() may be null
  float* out = m->values.data() + col;
  if (input.type == table::ColumnType::kNumeric) {
    for (size_t r = 0; r < m->rows; ++r, out += m->cols) *out = column.numbers[r];
    return;
  }
  std::vector<int32_t> map = CategoryMap(input, column);
  for (size_t r = 0; r < m->rows; ++r, out += m->cols) {
    int32_t code = column.codes[r];
    int32_t index = code == table::Column::kMissingCode ? -1 : map[code];
    if (encoding == CategoricalEncoding::kNative) {
      *out = index < 0 ? kMissing : static_cast<float>(index);
    } else {
      for (size_t k = 0; k < input.categories.size(); ++k) out[k] = 0.0f;
      if (index >= 0) out[index] = 1.0f;
    }
  }
}

}  // namespace

table::CsvOptions CsvOptionsFor(const Signature& signature) {
  table::CsvOptions options;
  for (const InputColumn& input : signature.inputs) options.declared.emplace(input.name, input.type);
  return options;
}

// The most floats a dense feature matrix may hold (4 GiB).
constexpr size_t kMaxFeatureValues = size_t{1} << 30;

Result<FeatureMatrix> BuildFeatures(const Signature& signature, const table::Table& table,
                                    std::string_view source) {
  FeatureMatrix m;
  m.rows = table.rows;
  m.cols = signature.FeatureCount();
  if (m.cols != 0 && m.rows > kMaxFeatureValues / m.cols) {
    const InputColumn* widest = nullptr;
    for (const InputColumn& in : signature.inputs) {
      if (widest == nullptr || in.categories.size() > widest->categories.size()) widest = &in;
    }
    return InvalidArgumentError(std::string(source) + ": " + std::to_string(m.rows) + " rows x " +
                                std::to_string(m.cols) + " features is too large; column '" + widest->name +
                                "' has " + std::to_string(widest->categories.size()) +
                                " categories (--exclude it, or use native categories)");
  }
  m.values.resize(m.rows * m.cols);
  size_t col = 0;
  for (const InputColumn& input : signature.inputs) {
    int index = table.ColumnIndex(input.name);
    if (index < 0) {
      return InvalidArgumentError(std::string(source) + ": no column '" + input.name +
                                  "', an input of the model");
    }
    const table::Column& column = table.columns[index];
    if (column.type != input.type) {
      return InvalidArgumentError(
          std::string(source) + ": column '" + input.name + "' is " +
          std::string(table::ColumnTypeName(column.type)) + " but the model expects it " +
          std::string(table::ColumnTypeName(input.type)));
    }
    if (input.type == table::ColumnType::kNumeric) {
      for (size_t r = 0; r < table.rows; ++r) {
        if (std::isinf(column.numbers[r])) {
          return InvalidArgumentError(std::string(source) + ": column '" + input.name + "', data row " +
                                      std::to_string(r + 1) + ": the value is infinite or beyond float's range");
        }
      }
    }
    FillColumn(input, column, signature.encoding, col, &m);
    bool expand = input.type == table::ColumnType::kCategorical &&
                  signature.encoding == CategoricalEncoding::kOneHot;
    col += expand ? input.categories.size() : 1;
  }
  return m;
}

Result<std::vector<float>> TargetLabels(const Signature& s, const table::Table& t, std::string_view source) {
  int column_index = t.ColumnIndex(s.target);
  if (column_index < 0) {
    return InvalidArgumentError(std::string(source) + ": no column '" + s.target + "', the model's target");
  }
  const table::Column& target = t.columns[column_index];
  bool regression = s.task == Task::kRegression;
  if (target.type != (regression ? table::ColumnType::kNumeric : table::ColumnType::kCategorical)) {
    return InvalidArgumentError(std::string(source) + ": column '" + s.target + "' is " +
                                std::string(table::ColumnTypeName(target.type)) + ", the target of a " +
                                std::string(TaskName(s.task)) + " model cannot be");
  }
  std::vector<float> labels(t.rows);
  std::unordered_map<std::string_view, float> index;
  for (size_t i = 0; i < s.classes.size(); ++i) index.emplace(s.classes[i], static_cast<float>(i));
  size_t missing = 0, first_missing = 0;
  for (size_t r = 0; r < t.rows; ++r) {
    bool absent;
    if (regression) {
      labels[r] = target.numbers[r];
      absent = std::isnan(labels[r]);
    } else {
      int32_t code = target.codes[r];
      absent = code == table::Column::kMissingCode;
      if (!absent) {
        auto it = index.find(target.categories[code]);
        if (it == index.end()) {
          return InvalidArgumentError(std::string(source) + ": column '" + s.target + "': class '" +
                                      target.categories[code] + "' (row " + std::to_string(r + 1) +
                                      ") is not in the training data");
        }
        labels[r] = it->second;
      }
    }
    if (absent && missing++ == 0) first_missing = r;
  }
  if (missing > 0) {
    return InvalidArgumentError(std::string(source) + ": column '" + s.target + "' has no value in " +
                                std::to_string(missing) + " rows (the first is data row " +
                                std::to_string(first_missing + 1) + ")");
  }
  return labels;
}

std::vector<MetricValue> TaskMetrics(const Signature& s, std::span<const float> labels,
                                     std::span<const float> predictions) {
  switch (s.task) {
    case Task::kBinary: return BinaryMetrics(labels, predictions);
    case Task::kMulticlass: return MulticlassMetrics(labels, predictions, static_cast<int>(s.classes.size()));
    case Task::kRegression: return RegressionMetrics(labels, predictions);
  }
  return {};
}

std::string MetricsToJson(const std::vector<MetricValue>& metrics) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const MetricValue& m : metrics) {
    if (std::isfinite(m.value)) j[m.name] = m.value;
    else j[m.name] = nullptr;
  }
  return j.dump(2) + "\n";
}

}  // namespace keel::runtime
