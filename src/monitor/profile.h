// A data profile: per column of a table, what drift monitoring compares
// live traffic against. Written by trainers as profile.json; the format is
// specified in docs/format/profile.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "table/table.h"

namespace keel::monitor {

struct NumericProfile {
  double min = 0, max = 0, mean = 0;
  double stddev = 0;  // population standard deviation (ddof = 0)
  // Quantiles at kQuantileLevels, by linear interpolation between the
  // closest ranks (numpy's default).
  std::vector<double> quantiles;
  // kHistogramBins equal-width bins over [min, max]: bin_edges has one more
  // entry than counts; the last bin includes max (numpy.histogram's bins).
  // When min == max there is a single bin: bin_edges {min, max}, counts {n}.
  std::vector<double> bin_edges;
  std::vector<uint64_t> counts;
};

struct CategoryCount {
  std::string value;
  uint64_t count = 0;
};

struct CategoricalProfile {
  // Most frequent first (ties by value, ascending byte order), at most
  // kMaxCategories entries, each with count >= 1; the rest are summed in
  // `other`.
  std::vector<CategoryCount> categories;
  uint64_t other = 0;
  uint64_t distinct = 0;  // categories that occur at least once
};

struct ColumnProfile {
  std::string name;
  table::ColumnType type = table::ColumnType::kNumeric;
  uint64_t count = 0;  // rows, missing included
  // NaN or ±infinity (a value beyond float's range); for categorical columns
  // kMissingCode or any code outside `categories`.
  uint64_t missing = 0;
  NumericProfile numeric;          // kNumeric only (all zero when every value is missing)
  CategoricalProfile categorical;  // kCategorical only
};

struct Profile {
  uint64_t rows = 0;
  std::vector<ColumnProfile> columns;
};

inline constexpr double kQuantileLevels[] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
inline constexpr int kHistogramBins = 20;
inline constexpr size_t kMaxCategories = 100;

// The profile of every column of `table`, over the non-missing values.
// REQUIRES: every column holds table.rows values.
Profile ProfileTable(const table::Table& table);

// The JSON text of docs/format/profile.md (deterministic: the same profile
// gives the same bytes), indented by 2 and ending in a newline. Numbers
// round-trip exactly; strings that are not valid UTF-8 get U+FFFD for the
// bad bytes. A numeric column whose every value is missing has no statistics.
// REQUIRES: `profile` is as ProfileTable or ProfileFromJson made it.
std::string ProfileToJson(const Profile& profile);
// Parses what ProfileToJson wrote, checking each field's type and the
// counts' consistency; ProfileToJson of the result gives back the same bytes.
// Keys it does not know are ignored.
// On failure returns kCorrupt with a message naming `source` and the field:
// "profile.json: columns[3].histogram.counts: expected 20 numbers".
Result<Profile> ProfileFromJson(std::string_view json, std::string_view source);

}  // namespace keel::monitor
