// A table held column by column: what keel reads from CSV files and feeds to
// trainers, batch scoring and profiles.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace keel::table {

enum class ColumnType { kNumeric, kCategorical };

std::string_view ColumnTypeName(ColumnType type);  // "numeric" | "categorical"

// One column. Exactly one of `numbers` (kNumeric) and `codes` (kCategorical)
// holds a value per row; the other is empty.
struct Column {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  // kNumeric: each value parsed as a double, then rounded to float (as
  // pandas followed by XGBoost's float32 conversion does). Missing: NaN.
  std::vector<float> numbers;
  // kCategorical: index into `categories`; kMissingCode when missing.
  std::vector<int32_t> codes;
  // kCategorical: the distinct values in order of first appearance.
  std::vector<std::string> categories;

  static constexpr int32_t kMissingCode = -1;

  size_t size() const { return type == ColumnType::kNumeric ? numbers.size() : codes.size(); }
};

struct Table {
  std::vector<Column> columns;
  size_t rows = 0;

  // The index of the column named `name`, or -1.
  int ColumnIndex(std::string_view name) const;
};

}  // namespace keel::table
