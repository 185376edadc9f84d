// bench/csv_read.cc: reads a CSV file with keel::table::ReadCsv for
// bench/csv.sh (default options: "" and "NA" missing, types inferred).
//
//   keel_bench_csv_read FILE
//
// Prints "rows R", "columns C", then one line per column:
//   numeric NAME SUM MISSING         (SUM: the non-missing values as double, %.17g)
//   categorical NAME CATEGORIES MISSING
// so that a script can compare it with pandas. Exits 1 with the error on
// stderr when the read fails.
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "table/csv.h"

namespace {

void PrintColumn(const keel::table::Column& column) {
  size_t missing = 0;
  if (column.type == keel::table::ColumnType::kNumeric) {
    double sum = 0;
    for (float v : column.numbers) {
      if (std::isnan(v)) {
        ++missing;
      } else {
        sum += v;
      }
    }
    std::printf("numeric %s %.17g %zu\n", column.name.c_str(), sum, missing);
    return;
  }
  for (int32_t code : column.codes) missing += code == keel::table::Column::kMissingCode;
  std::printf("categorical %s %zu %zu\n", column.name.c_str(), column.categories.size(), missing);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: keel_bench_csv_read FILE\n");
    return 2;
  }
  keel::Result<keel::table::Table> table = keel::table::ReadCsv(argv[1], {});
  if (!table.ok()) {
    std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
    return 1;
  }
  std::printf("rows %zu\ncolumns %zu\n", table->rows, table->columns.size());
  for (const keel::table::Column& column : table->columns) PrintColumn(column);
  return 0;
}
