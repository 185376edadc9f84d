// Fuzzes keel::monitor::ProfileFromJson (docs/format/profile.md), the input
// being profile.json's text. Properties: errors are corrupt-data errors
// naming the file; an accepted profile's counts are consistent as the header
// promises (every column counts `rows`, missing <= count, the histogram's
// counts or the categories' counts plus `other` sum to count - missing,
// without wrapping around); and ProfileToJson of it parses back to a profile
// whose ProfileToJson gives the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "monitor/profile.h"

namespace {

using keel::monitor::CategoricalProfile;
using keel::monitor::ColumnProfile;
using keel::monitor::NumericProfile;
using keel::monitor::Profile;

constexpr std::string_view kSource = "profile.json";

// Whether `counts` plus `extra` sum to `expected` exactly (no wrap-around).
bool SumsTo(const std::vector<uint64_t>& counts, uint64_t extra, uint64_t expected) {
  uint64_t total = extra;
  for (uint64_t count : counts) {
    if (__builtin_add_overflow(total, count, &total)) return false;
  }
  return total == expected;
}

void CheckNumeric(const NumericProfile& p, uint64_t values) {
  if (values == 0) return;
  KEEL_FUZZ_CHECK(p.min <= p.max, "min <= max");
  KEEL_FUZZ_CHECK(p.quantiles.size() == std::size(keel::monitor::kQuantileLevels),
                  "a quantile per level");
  for (double q : p.quantiles) KEEL_FUZZ_CHECK(p.min <= q && q <= p.max, "quantiles in [min, max]");
  size_t bins = p.min == p.max ? 1 : keel::monitor::kHistogramBins;
  KEEL_FUZZ_CHECK(p.counts.size() == bins && p.bin_edges.size() == bins + 1,
                  "one edge more than bins");
  KEEL_FUZZ_CHECK(SumsTo(p.counts, 0, values), "histogram counts sum to count - missing");
}

void CheckCategorical(const CategoricalProfile& p, uint64_t values) {
  KEEL_FUZZ_CHECK(p.categories.size() <= keel::monitor::kMaxCategories, "at most 100 categories");
  std::vector<uint64_t> counts;
  for (const keel::monitor::CategoryCount& c : p.categories) {
    KEEL_FUZZ_CHECK(c.count >= 1, "listed categories occur");
    counts.push_back(c.count);
  }
  KEEL_FUZZ_CHECK(SumsTo(counts, p.other, values),
                  "category counts and other sum to count - missing");
}

void CheckConsistent(const Profile& profile) {
  for (const ColumnProfile& c : profile.columns) {
    KEEL_FUZZ_CHECK(c.count == profile.rows, "every column counts rows");
    KEEL_FUZZ_CHECK(c.missing <= c.count, "missing <= count");
    if (c.type == keel::table::ColumnType::kNumeric) {
      CheckNumeric(c.numeric, c.count - c.missing);
    } else {
      CheckCategorical(c.categorical, c.count - c.missing);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::Result<Profile> profile = keel::monitor::ProfileFromJson(text, kSource);
  if (!profile.ok()) {
    KEEL_FUZZ_CHECK(profile.status().code() == keel::StatusCode::kCorrupt,
                    "errors are corrupt-data errors");
    keel::CheckParseError(profile.status(), std::string(kSource) + ": ");
    return 0;
  }
  CheckConsistent(*profile);
  std::string written = keel::monitor::ProfileToJson(*profile);
  keel::Result<Profile> again = keel::monitor::ProfileFromJson(written, kSource);
  if (!again.ok())
    std::fprintf(stderr, "%s\n%s\n", written.c_str(), again.status().ToString().c_str());
  KEEL_FUZZ_CHECK(again.ok(), "ProfileToJson output parses");
  KEEL_FUZZ_CHECK(keel::monitor::ProfileToJson(*again) == written,
                  "a profile survives the round trip");
  return 0;
}
