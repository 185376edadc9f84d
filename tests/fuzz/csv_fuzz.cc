// Fuzzes keel::table::ParseCsv (src/table/csv.h), the input being the
// file's text, read with the default options and with a second set (';'
// delimiter, missing values "" and "?", column "a" declared categorical and
// "b" numeric).
//
// Properties:
//   - a failed parse names its input first and is not an internal error;
//   - every column holds `rows` values, in `numbers` when numeric and in
//     `codes` when categorical (the other one empty); codes are
//     kMissingCode or index `categories`, whose texts are distinct, none a
//     missing value, and each used by some row;
//   - declared columns have their declared type;
//   - parsing the same text twice gives the same table (floats bitwise);
//   - the table written back as CSV (every field quoted, missing values as
//     "") parses to the same table: same names, types, numbers (NaN for
//     NaN), codes and categories;
//   - for one input in 64 that parses with rows: those rows repeated past
//     2 MiB, which several threads parse from speculative split points,
//     give the rows repeated and the same categories.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "table/csv.h"

namespace {

using keel::table::Column;
using keel::table::ColumnType;
using keel::table::CsvOptions;
using keel::table::Table;

constexpr std::string_view kFile = "fuzz.csv";
constexpr size_t kManyThreadsBytes = (size_t{2} << 20) + 4096;

CsvOptions SecondOptions() {
  CsvOptions options;
  options.delimiter = ';';
  options.missing_values = {"", "?"};
  options.declared = {{"a", ColumnType::kCategorical}, {"b", ColumnType::kNumeric}};
  return options;
}

bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

// Same table; `bitwise` also compares NaNs bit for bit.
bool SameTable(const Table& x, const Table& y, bool bitwise) {
  if (x.rows != y.rows || x.columns.size() != y.columns.size()) return false;
  for (size_t c = 0; c < x.columns.size(); ++c) {
    const Column& a = x.columns[c];
    const Column& b = y.columns[c];
    if (a.name != b.name || a.type != b.type || a.codes != b.codes ||
        a.categories != b.categories || a.numbers.size() != b.numbers.size()) {
      return false;
    }
    for (size_t i = 0; i < a.numbers.size(); ++i) {
      bool same = bitwise ? std::memcmp(&a.numbers[i], &b.numbers[i], sizeof(float)) == 0
                          : SameFloat(a.numbers[i], b.numbers[i]);
      if (!same) return false;
    }
  }
  return true;
}

void CheckWellFormed(const Table& table, const CsvOptions& options) {
  std::set<std::string_view> names;
  for (const Column& column : table.columns) {
    KEEL_FUZZ_CHECK(names.insert(column.name).second, "column names are distinct");
    KEEL_FUZZ_CHECK(column.size() == table.rows, "every column holds a value per row");
    auto declared = options.declared.find(column.name);
    if (declared != options.declared.end()) {
      KEEL_FUZZ_CHECK(column.type == declared->second, "declared columns have their type");
    }
    if (column.type == ColumnType::kNumeric) {
      KEEL_FUZZ_CHECK(column.codes.empty() && column.categories.empty(),
                      "numeric columns have no codes");
      continue;
    }
    KEEL_FUZZ_CHECK(column.numbers.empty(), "categorical columns have no numbers");
    std::vector<bool> used(column.categories.size());
    for (int32_t code : column.codes) {
      KEEL_FUZZ_CHECK(code == Column::kMissingCode ||
                          (code >= 0 && static_cast<size_t>(code) < column.categories.size()),
                      "codes are in range");
      if (code >= 0) used[code] = true;
    }
    std::set<std::string_view> distinct;
    for (size_t k = 0; k < column.categories.size(); ++k) {
      const std::string& category = column.categories[k];
      KEEL_FUZZ_CHECK(distinct.insert(category).second, "categories are distinct");
      KEEL_FUZZ_CHECK(used[k], "every category is used");
      for (const std::string& missing : options.missing_values) {
        KEEL_FUZZ_CHECK(category != missing, "no category is a missing value");
      }
    }
  }
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

std::string Value(const Column& column, size_t row) {
  if (column.type == ColumnType::kNumeric) {
    double v = column.numbers[row];
    if (std::isnan(v)) return "\"\"";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);  // the float exactly: parses back to it
    return buf;
  }
  int32_t code = column.codes[row];
  return code == Column::kMissingCode ? "\"\"" : Quote(column.categories[code]);
}

// The table as CSV: a header line, then its rows.
std::pair<std::string, std::string> Write(const Table& table, char delimiter) {
  std::string header, rows;
  for (size_t c = 0; c < table.columns.size(); ++c) {
    header += (c ? std::string(1, delimiter) : "") + Quote(table.columns[c].name);
  }
  header += "\n";
  for (size_t r = 0; r < table.rows; ++r) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      if (c) rows += delimiter;
      rows += Value(table.columns[c], r);
    }
    rows += r % 2 ? "\r\n" : "\n";
  }
  return {header, rows};
}

// The rows repeated past kManyThreadsBytes parse to the table's rows repeated.
void CheckManyThreads(const Table& table, const std::string& header, const std::string& rows,
                      const CsvOptions& options) {
  std::string big = header;
  size_t copies = 0;
  while (big.size() < kManyThreadsBytes) {
    big += rows;
    ++copies;
  }
  keel::Result<Table> parsed = keel::table::ParseCsv(big, kFile, options);
  KEEL_FUZZ_CHECK(parsed.ok(), "repeated rows parse");
  KEEL_FUZZ_CHECK(parsed->rows == table.rows * copies, "repeated rows are all read");
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const Column& one = table.columns[c];
    const Column& many = parsed->columns[c];
    KEEL_FUZZ_CHECK(many.type == one.type && many.categories == one.categories,
                    "repeated rows have the same types and categories");
    for (size_t r = 0; r < parsed->rows; ++r) {
      size_t at = r % table.rows;
      KEEL_FUZZ_CHECK(one.type == ColumnType::kNumeric ? SameFloat(many.numbers[r], one.numbers[at])
                                                       : many.codes[r] == one.codes[at],
                      "repeated rows have the same values");
    }
  }
}

void Check(std::string_view text, const CsvOptions& options) {
  keel::Result<Table> first = keel::table::ParseCsv(text, kFile, options);
  keel::Result<Table> second = keel::table::ParseCsv(text, kFile, options);
  KEEL_FUZZ_CHECK(first.ok() == second.ok(), "a parse is deterministic");
  if (!first.ok()) {
    keel::CheckParseError(first.status(), kFile);
    KEEL_FUZZ_CHECK(first.status().message() == second.status().message(), "the same error twice");
    return;
  }
  CheckWellFormed(*first, options);
  KEEL_FUZZ_CHECK(SameTable(*first, *second, /*bitwise=*/true), "a parse is deterministic");

  auto [header, rows] = Write(*first, options.delimiter);
  keel::Result<Table> again = keel::table::ParseCsv(header + rows, kFile, options);
  if (!again.ok()) std::fprintf(stderr, "%s\n", again.status().ToString().c_str());
  KEEL_FUZZ_CHECK(again.ok(), "the table written back parses");
  KEEL_FUZZ_CHECK(SameTable(*first, *again, /*bitwise=*/false),
                  "the table written back is the same");
  if (first->rows > 0 && std::hash<std::string_view>()(text) % 64 == 0) {
    CheckManyThreads(*first, header, rows, options);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(text, CsvOptions{});
  Check(text, SecondOptions());
  return 0;
}
