#include "monitor/profile.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace keel::monitor {
namespace {

using table::Column;
using table::ColumnType;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Column Numeric(std::string name, std::vector<float> numbers) {
  Column c;
  c.name = std::move(name);
  c.type = ColumnType::kNumeric;
  c.numbers = std::move(numbers);
  return c;
}

Column Categorical(std::string name, std::vector<std::string> categories,
                   std::vector<int32_t> codes) {
  Column c;
  c.name = std::move(name);
  c.type = ColumnType::kCategorical;
  c.categories = std::move(categories);
  c.codes = std::move(codes);
  return c;
}

table::Table MakeTable(std::vector<Column> columns) {
  table::Table t;
  t.rows = columns.empty() ? 0 : columns[0].size();
  t.columns = std::move(columns);
  return t;
}

// The quantile from its definition: the value at rank (n - 1) * level,
// interpolated linearly between the closest ranks.
double DefinitionQuantile(std::vector<double> sorted, double level) {
  double rank = (static_cast<double>(sorted.size()) - 1) * level;
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (rank - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

TEST(ProfileTableTest, NumericStatisticsFromDefinitions) {
  // Missing: NaN and infinity. Values sorted: 1 1 2 3 4 5 6 9.
  auto t = MakeTable({Numeric("x", {3, 1, kNaN, 4, 1, 5, 9, 2, 6, kInf})});
  Profile p = ProfileTable(t);
  EXPECT_EQ(p.rows, 10u);
  ASSERT_EQ(p.columns.size(), 1u);
  const ColumnProfile& c = p.columns[0];
  EXPECT_EQ(c.name, "x");
  EXPECT_EQ(c.type, ColumnType::kNumeric);
  EXPECT_EQ(c.count, 10u);
  EXPECT_EQ(c.missing, 2u);
  const NumericProfile& n = c.numeric;
  EXPECT_EQ(n.min, 1);
  EXPECT_EQ(n.max, 9);
  EXPECT_DOUBLE_EQ(n.mean, 31.0 / 8);
  double squares = 0;
  for (double x : {1, 1, 2, 3, 4, 5, 6, 9}) squares += (x - 31.0 / 8) * (x - 31.0 / 8);
  EXPECT_DOUBLE_EQ(n.stddev, std::sqrt(squares / 8));  // population: divided by n

  std::vector<double> sorted = {1, 1, 2, 3, 4, 5, 6, 9};
  ASSERT_EQ(n.quantiles.size(), std::size(kQuantileLevels));
  for (size_t i = 0; i < n.quantiles.size(); ++i) {
    EXPECT_NEAR(n.quantiles[i], DefinitionQuantile(sorted, kQuantileLevels[i]), 1e-12)
        << "level " << kQuantileLevels[i];
  }
  EXPECT_DOUBLE_EQ(n.quantiles[2], 1.75);          // 0.25: rank 1.75, between 1 and 2
  EXPECT_DOUBLE_EQ(n.quantiles[3], 3.5);           // 0.5: rank 3.5, between 3 and 4
  EXPECT_DOUBLE_EQ(n.quantiles[6], 6 + 0.93 * 3);  // 0.99: rank 6.93, between 6 and 9

  // 20 bins of width 0.4 over [1, 9]; a value x is in bin i when
  // edges[i] <= x < edges[i + 1], and 9 in the last.
  ASSERT_EQ(n.bin_edges.size(), static_cast<size_t>(kHistogramBins) + 1);
  ASSERT_EQ(n.counts.size(), static_cast<size_t>(kHistogramBins));
  for (int i = 0; i <= kHistogramBins; ++i) EXPECT_NEAR(n.bin_edges[i], 1 + 0.4 * i, 1e-12);
  EXPECT_EQ(n.bin_edges.front(), 1);
  EXPECT_EQ(n.bin_edges.back(), 9);
  std::vector<uint64_t> expected(kHistogramBins, 0);
  for (double x : sorted) {
    for (int i = 0; i < kHistogramBins; ++i) {
      bool last = i == kHistogramBins - 1;
      if (x >= n.bin_edges[i] && (x < n.bin_edges[i + 1] || (last && x <= n.bin_edges[i + 1]))) {
        ++expected[i];
        break;
      }
    }
  }
  EXPECT_EQ(n.counts, expected);
  // By hand: 1 1 -> bin 0, 2 -> 2, 3 -> 5, 4 -> 7, 5 -> 10, 6 -> 12, 9 -> 19.
  std::vector<uint64_t> by_hand(kHistogramBins, 0);
  for (int bin : {0, 0, 2, 5, 7, 10, 12, 19}) ++by_hand[bin];
  EXPECT_EQ(n.counts, by_hand);
}

TEST(ProfileTableTest, ConstantColumnHasOneBin) {
  Profile p = ProfileTable(MakeTable({Numeric("c", {2.5f, 2.5f, kNaN, 2.5f})}));
  const NumericProfile& n = p.columns[0].numeric;
  EXPECT_EQ(n.min, 2.5);
  EXPECT_EQ(n.max, 2.5);
  EXPECT_EQ(n.stddev, 0);
  EXPECT_EQ(n.bin_edges, (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(n.counts, (std::vector<uint64_t>{3}));
  for (double q : n.quantiles) EXPECT_EQ(q, 2.5);
}

TEST(ProfileTableTest, AllMissingColumnHasNoNumericStatistics) {
  Profile p = ProfileTable(MakeTable({Numeric("m", {kNaN, kNaN})}));
  const ColumnProfile& c = p.columns[0];
  EXPECT_EQ(c.count, 2u);
  EXPECT_EQ(c.missing, 2u);
  EXPECT_TRUE(c.numeric.quantiles.empty());
  EXPECT_TRUE(c.numeric.counts.empty());
  std::string json = ProfileToJson(p);
  EXPECT_EQ(json.find("\"min\""), std::string::npos) << json;
  EXPECT_EQ(json.find("\"histogram\""), std::string::npos) << json;
}

TEST(ProfileTableTest, CategoriesByCountThenValue) {
  // b x3, a x2, d x2, c x1, two missing; "unused" never occurs.
  auto t = MakeTable(
      {Categorical("k", {"d", "c", "unused", "b", "a"}, {3, 4, 0, -1, 3, 1, 4, 0, 3, -1})});
  Profile p = ProfileTable(t);
  const ColumnProfile& c = p.columns[0];
  EXPECT_EQ(c.type, ColumnType::kCategorical);
  EXPECT_EQ(c.count, 10u);
  EXPECT_EQ(c.missing, 2u);
  const CategoricalProfile& cat = c.categorical;
  EXPECT_EQ(cat.distinct, 4u);
  EXPECT_EQ(cat.other, 0u);
  ASSERT_EQ(cat.categories.size(), 4u);
  std::vector<std::pair<std::string, uint64_t>> got;
  for (const CategoryCount& cc : cat.categories) got.emplace_back(cc.value, cc.count);
  EXPECT_EQ(
      got, (std::vector<std::pair<std::string, uint64_t>>{{"b", 3}, {"a", 2}, {"d", 2}, {"c", 1}}));
}

TEST(ProfileTableTest, CategoriesBeyondTheLimitGoToOther) {
  // Category i occurs i + 1 times, for 105 categories.
  std::vector<std::string> names;
  std::vector<int32_t> codes;
  const int kCount = static_cast<int>(kMaxCategories) + 5;
  for (int i = 0; i < kCount; ++i) {
    names.push_back("v" + std::to_string(i));
    for (int j = 0; j <= i; ++j) codes.push_back(i);
  }
  Profile p = ProfileTable(MakeTable({Categorical("k", names, codes)}));
  const CategoricalProfile& cat = p.columns[0].categorical;
  EXPECT_EQ(cat.distinct, static_cast<uint64_t>(kCount));
  ASSERT_EQ(cat.categories.size(), kMaxCategories);
  EXPECT_EQ(cat.categories.front().value, "v104");
  EXPECT_EQ(cat.categories.front().count, 105u);
  EXPECT_EQ(cat.categories.back().value, "v5");
  EXPECT_EQ(cat.other, 1u + 2 + 3 + 4 + 5);  // v0 .. v4
}

TEST(ProfileJsonTest, WritesTheDocumentedFormat) {
  Profile p =
      ProfileTable(MakeTable({Numeric("age", {40, 40}), Categorical("city", {"Oslo"}, {0, -1})}));
  EXPECT_EQ(ProfileToJson(p), R"({
  "format": "keel.profile/1",
  "rows": 2,
  "columns": [
    {
      "name": "age",
      "type": "numeric",
      "count": 2,
      "missing": 0,
      "min": 40.0,
      "max": 40.0,
      "mean": 40.0,
      "stddev": 0.0,
      "quantiles": {
        "0.01": 40.0,
        "0.05": 40.0,
        "0.25": 40.0,
        "0.5": 40.0,
        "0.75": 40.0,
        "0.95": 40.0,
        "0.99": 40.0
      },
      "histogram": {
        "edges": [
          40.0,
          40.0
        ],
        "counts": [
          2
        ]
      }
    },
    {
      "name": "city",
      "type": "categorical",
      "count": 2,
      "missing": 1,
      "distinct": 1,
      "categories": [
        {
          "value": "Oslo",
          "count": 1
        }
      ],
      "other": 0
    }
  ]
}
)");
}

// A table with awkward numbers: tiny, huge, negative, not short in decimal.
table::Table AwkwardTable() {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> x;
  for (int i = 0; i < 300; ++i) x.push_back(normal(rng) * 1e3f);
  x.insert(x.end(), {0.1f, 1e-30f, -3.4e38f, 3.4e38f, kNaN, 1.0f / 3});
  std::vector<float> y(x.size(), kNaN);
  std::vector<float> z(x.size(), 0.1f);
  std::vector<int32_t> codes;
  for (size_t i = 0; i < x.size(); ++i) codes.push_back(static_cast<int32_t>(i % 7) - 1);
  return MakeTable({Numeric("x", x), Numeric("all missing", y), Numeric("const", z),
                    Categorical("k", {"é", "a\"b", "", "z", "\\", "tab\t"}, codes)});
}

TEST(ProfileJsonTest, RoundTripsExactly) {
  Profile p = ProfileTable(AwkwardTable());
  std::string json = ProfileToJson(p);
  EXPECT_EQ(ProfileToJson(p), json) << "not deterministic";
  Result<Profile> back = ProfileFromJson(json, "profile.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ProfileToJson(*back), json);
  ASSERT_EQ(back->columns.size(), p.columns.size());
  EXPECT_EQ(back->rows, p.rows);
  for (size_t i = 0; i < p.columns.size(); ++i) {
    const ColumnProfile& a = p.columns[i];
    const ColumnProfile& b = back->columns[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.missing, b.missing);
    EXPECT_EQ(a.numeric.min, b.numeric.min);
    EXPECT_EQ(a.numeric.mean, b.numeric.mean);
    EXPECT_EQ(a.numeric.stddev, b.numeric.stddev);
    EXPECT_EQ(a.numeric.quantiles, b.numeric.quantiles);
    EXPECT_EQ(a.numeric.bin_edges, b.numeric.bin_edges);
    EXPECT_EQ(a.numeric.counts, b.numeric.counts);
    EXPECT_EQ(a.categorical.distinct, b.categorical.distinct);
    EXPECT_EQ(a.categorical.other, b.categorical.other);
    ASSERT_EQ(a.categorical.categories.size(), b.categorical.categories.size());
    for (size_t j = 0; j < a.categorical.categories.size(); ++j) {
      EXPECT_EQ(a.categorical.categories[j].value, b.categorical.categories[j].value);
      EXPECT_EQ(a.categorical.categories[j].count, b.categorical.categories[j].count);
    }
  }
}

// Applies `edit` to a valid profile's JSON and returns ProfileFromJson's error.
template <typename Edit>
std::string ErrorAfter(Edit edit) {
  Profile p = ProfileTable(
      MakeTable({Numeric("x", {3, 1, kNaN, 4}), Categorical("k", {"a", "b"}, {0, 1, 1, -1}),
                 Numeric("m", {kNaN, kNaN, kNaN, kNaN})}));
  nlohmann::json j = nlohmann::json::parse(ProfileToJson(p));
  edit(j);
  Result<Profile> r = ProfileFromJson(j.dump(), "profile.json");
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  return r.status().message();
}

TEST(ProfileJsonTest, ErrorsNameTheField) {
  using nlohmann::json;
  EXPECT_EQ(ErrorAfter([](json&) {}), "(accepted)");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][0]["histogram"]["counts"].erase(0); }),
            "profile.json: columns[0].histogram.counts: expected 20 numbers");
  EXPECT_EQ(ErrorAfter([](json& j) { j["format"] = "keel.profile/2"; }),
            "profile.json: format: 'keel.profile/2' is not keel.profile/1");
  EXPECT_EQ(ErrorAfter([](json& j) { j.erase("rows"); }), "profile.json: rows: missing");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"] = json::object(); }),
            "profile.json: columns: expected a list");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][1]["type"] = "text"; }),
            "profile.json: columns[1].type: 'text' is not numeric or categorical");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][1]["count"] = 5; }),
            "profile.json: columns[1].count: 5, but rows is 4");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][0]["missing"] = -1; }),
            "profile.json: columns[0].missing: expected a non-negative integer");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][0]["mean"] = "high"; }),
            "profile.json: columns[0].mean: expected a finite number");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][0]["quantiles"].erase("0.5"); }),
            "profile.json: columns[0].quantiles: expected an object with the levels "
            "0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][0]["histogram"]["edges"][3] = nullptr; }),
            "profile.json: columns[0].histogram.edges[3]: expected a finite number");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][0]["histogram"]["counts"][0] = 7; }),
            "profile.json: columns[0].histogram.counts: sum to 9, but count - missing is 3");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][1]["categories"][0]["count"] = "2"; }),
            "profile.json: columns[1].categories[0].count: expected a non-negative integer");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][1]["categories"][1].erase("value"); }),
            "profile.json: columns[1].categories[1].value: missing");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][1]["other"] = 1; }),
            "profile.json: columns[1].distinct: 2 does not fit 2 categories listed and other 1");
  EXPECT_EQ(ErrorAfter([](json& j) { j["columns"][2]["min"] = 0; }),
            "profile.json: columns[2].min: present, but every value is missing");
  EXPECT_EQ(ProfileFromJson("{\"format\": ", "profile.json")
                .status()
                .message()
                .rfind("profile.json: not JSON: ", 0),
            0u);
}

// nlohmann throws out_of_range, not parse_error, for a number beyond double's
// range; found by tests/fuzz/profile_fuzz.cc.
TEST(ProfileJsonTest, NumberBeyondDoubleIsAnError) {
  Result<Profile> r = ProfileFromJson(
      R"({"format": "keel.profile/1", "rows": 1, "columns": [{"name": "x", "type": "numeric",
          "count": 1, "missing": 0, "min": 1e999}]})",
      "profile.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(r.status().message().rfind("profile.json: not JSON: ", 0), 0u);
}

// Counts whose sum wraps around 2^64 to count - missing (3 here) were
// accepted; caught by the consistency property of tests/fuzz/profile_fuzz.cc.
TEST(ProfileJsonTest, CountsThatWrapAroundAreAnError) {
  using nlohmann::json;
  static constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(ErrorAfter([](json& j) {
              j["columns"][0]["histogram"]["counts"][0] = kMax;  // was 1: 2^64 - 1 + 1 + 3
              j["columns"][0]["histogram"]["counts"][19] = 3;    // was 1
            }),
            "profile.json: columns[0].histogram.counts: sum beyond 2^64 - 1");
  EXPECT_EQ(ErrorAfter([](json& j) {
              j["columns"][1]["categories"][0]["count"] = kMax;  // was 2: 2^64 - 1 + 4
              j["columns"][1]["categories"][1]["count"] = 4;     // was 1
            }),
            "profile.json: columns[1].categories: counts sum beyond 2^64 - 1");
  EXPECT_EQ(ErrorAfter([](json& j) {
              json categories = json::array();  // 100 categories of 1, other 2^64 - 97
              for (int i = 0; i < 100; ++i) {
                categories.push_back({{"value", std::to_string(i)}, {"count", 1}});
              }
              j["columns"][1]["categories"] = categories;
              j["columns"][1]["distinct"] = 101;
              j["columns"][1]["other"] = kMax - 96;
            }),
            "profile.json: columns[1].categories: counts and other sum beyond 2^64 - 1");
}

// --- Cross-check against numpy --------------------------------------------------

constexpr char kPython[] = "/usr/bin/python3";

constexpr char kNumpyScript[] = R"PY(
import json, sys
import numpy as np
levels = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
out = []
for path in sys.argv[1:]:
    x = np.loadtxt(path, ndmin=1)
    counts, edges = np.histogram(x, bins=20)
    out.append({"min": float(x.min()), "max": float(x.max()), "mean": float(x.mean()),
                "stddev": float(x.std()), "quantiles": [float(q) for q in np.quantile(x, levels)],
                "edges": [float(e) for e in edges], "counts": [int(c) for c in counts]})
print(json.dumps(out))
)PY";

int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ExpectClose(const std::string& what, double ours, double numpy) {
  EXPECT_NEAR(ours, numpy, 1e-9 * std::max(1e-3, std::abs(numpy)))
      << what << ": keel " << ours << ", numpy " << numpy;
}

TEST(ProfileCrossCheck, AgreesWithNumpy) {
  ASSERT_EQ(::access(kPython, X_OK), 0)
      << kPython << " is missing: this test needs Debian's python3 with python3-numpy "
      << "(scripts/setup installs it)";
  std::mt19937_64 rng(31337);
  std::normal_distribution<double> normal(50, 20);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<std::vector<float>> columns(4);
  for (int i = 0; i < 1500; ++i) {
    // Rounded to 1 decimal: many ties; some missing.
    columns[0].push_back(unit(rng) < 0.05 ? kNaN
                                          : static_cast<float>(std::round(normal(rng) * 10) / 10));
    columns[1].push_back(static_cast<float>(std::exp(normal(rng) / 10)));  // skewed
  }
  columns[2] = {7.25f, -1.5f, 3.0f};
  columns[3] = {0.1f, 0.2f};

  char tmpl[] = "/tmp/keel-profile-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::string command = std::string(kPython) + " " + dir + "/check.py";
  std::vector<Column> table_columns;
  for (size_t c = 0; c < columns.size(); ++c) {
    std::string path = dir + "/column" + std::to_string(c) + ".txt";
    std::ofstream out(path);
    for (float x : columns[c]) {
      if (std::isnan(x)) continue;  // numpy sees only the present values
      char text[32];
      std::snprintf(text, sizeof text, "%.17g\n", static_cast<double>(x));
      out << text;
    }
    command += " " + path;
    table_columns.push_back(Numeric("c" + std::to_string(c), columns[c]));
  }
  std::ofstream(dir + "/check.py") << kNumpyScript;
  std::string output;
  int status = RunCommand(command, &output);
  std::filesystem::remove_all(dir);
  ASSERT_EQ(status, 0) << "numpy cross-check failed (is python3-numpy installed? scripts/setup "
                       << "installs it):\n"
                       << output;
  nlohmann::json expected = nlohmann::json::parse(output, nullptr, false);
  ASSERT_TRUE(expected.is_array() && expected.size() == columns.size()) << output;

  // Columns of different lengths: profile each as its own table.
  for (size_t c = 0; c < table_columns.size(); ++c) {
    Profile p = ProfileTable(MakeTable({table_columns[c]}));
    const NumericProfile& n = p.columns[0].numeric;
    const nlohmann::json& e = expected[c];
    const std::string name = "column " + std::to_string(c);
    EXPECT_EQ(n.min, e["min"].get<double>()) << name;
    EXPECT_EQ(n.max, e["max"].get<double>()) << name;
    ExpectClose(name + " mean", n.mean, e["mean"].get<double>());
    ExpectClose(name + " stddev", n.stddev, e["stddev"].get<double>());
    ASSERT_EQ(n.quantiles.size(), e["quantiles"].size());
    for (size_t i = 0; i < n.quantiles.size(); ++i) {
      ExpectClose(name + " quantile " + std::to_string(kQuantileLevels[i]), n.quantiles[i],
                  e["quantiles"][i].get<double>());
    }
    ASSERT_EQ(n.bin_edges.size(), e["edges"].size()) << name;
    for (size_t i = 0; i < n.bin_edges.size(); ++i) {
      ExpectClose(name + " edge " + std::to_string(i), n.bin_edges[i], e["edges"][i].get<double>());
    }
    EXPECT_EQ(n.counts, e["counts"].get<std::vector<uint64_t>>()) << name;
  }
}

}  // namespace
}  // namespace keel::monitor
