#include "monitor/profile.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <utility>

namespace keel::monitor {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kFormat[] = "keel.profile/1";
constexpr size_t kQuantileCount = std::size(kQuantileLevels);
// Sums of counts are checked against it before adding, so that they cannot wrap around.
constexpr uint64_t kMaxCount = std::numeric_limits<uint64_t>::max();

// table.cc's ColumnTypeName, kept here so the profile's spelling is its own.
const char* TypeName(table::ColumnType type) {
  switch (type) {
    case table::ColumnType::kNumeric:
      return "numeric";
    case table::ColumnType::kCategorical:
      return "categorical";
  }
  return "numeric";
}

// "0.01", "0.5": the shortest text that reads back as the level.
std::string LevelKey(double level) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, level);
  return std::string(text, end);
}

// --- Computing a profile ------------------------------------------------------

// numpy.quantile's default 'linear' method, including its choice of
// interpolating from the nearer end (numpy's _lerp) so results match bit for bit.
double Quantile(const std::vector<double>& sorted, double level) {
  const double virtual_index = static_cast<double>(sorted.size() - 1) * level;
  const double below = std::floor(virtual_index);
  const size_t lo = static_cast<size_t>(below);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double t = virtual_index - below;
  const double a = sorted[lo], b = sorted[hi];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

// numpy.histogram(values, bins=kHistogramBins): edges by numpy.linspace, and
// a value's bin from its offset, corrected against the edges as numpy does,
// so that edges[i] <= x < edges[i + 1] holds exactly (the last bin closed).
void FillHistogram(const std::vector<double>& sorted, NumericProfile* p) {
  if (p->min == p->max) {  // no width to divide: one bin holds every value
    p->bin_edges = {p->min, p->max};
    p->counts = {sorted.size()};
    return;
  }
  constexpr size_t kBins = kHistogramBins;
  const double step = (p->max - p->min) / kBins;
  p->bin_edges.resize(kBins + 1);
  for (size_t i = 0; i < kBins; ++i) p->bin_edges[i] = static_cast<double>(i) * step + p->min;
  p->bin_edges[kBins] = p->max;
  p->counts.assign(kBins, 0);
  const double norm = kBins / (p->max - p->min);
  for (double x : sorted) {
    size_t bin = std::min(static_cast<size_t>((x - p->min) * norm), kBins - 1);
    if (bin > 0 && x < p->bin_edges[bin]) --bin;
    if (bin < kBins - 1 && x >= p->bin_edges[bin + 1]) ++bin;
    ++p->counts[bin];
  }
}

// REQUIRES: `sorted` is non-empty, ascending and finite.
NumericProfile ProfileValues(const std::vector<double>& sorted) {
  NumericProfile p;
  p.min = sorted.front();
  p.max = sorted.back();
  const double n = static_cast<double>(sorted.size());
  double sum = 0;
  for (double x : sorted) sum += x;
  p.mean = sum / n;
  double squares = 0;  // two passes: no cancellation from sum(x^2) - n*mean^2
  for (double x : sorted) squares += (x - p.mean) * (x - p.mean);
  p.stddev = std::sqrt(squares / n);
  for (double level : kQuantileLevels) p.quantiles.push_back(Quantile(sorted, level));
  FillHistogram(sorted, &p);
  return p;
}

void ProfileNumbers(const table::Column& column, ColumnProfile* out) {
  std::vector<double> values;
  values.reserve(column.numbers.size());
  for (float x : column.numbers) {
    // Infinity (a value beyond float's range) has no place in min/mean/bins.
    if (std::isfinite(x)) values.push_back(x);
  }
  out->missing = column.numbers.size() - values.size();
  if (values.empty()) return;
  std::sort(values.begin(), values.end());
  out->numeric = ProfileValues(values);
}

void ProfileCodes(const table::Column& column, ColumnProfile* out) {
  const size_t categories = column.categories.size();
  std::vector<uint64_t> counts(categories, 0);
  for (int32_t code : column.codes) {
    if (code < 0 || static_cast<size_t>(code) >= categories) {
      ++out->missing;
    } else {
      ++counts[static_cast<size_t>(code)];
    }
  }
  std::vector<size_t> seen;
  for (size_t i = 0; i < categories; ++i) {
    if (counts[i] > 0) seen.push_back(i);
  }
  std::sort(seen.begin(), seen.end(), [&](size_t a, size_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    return column.categories[a] < column.categories[b];
  });
  CategoricalProfile& p = out->categorical;
  p.distinct = seen.size();
  for (size_t i = 0; i < seen.size(); ++i) {
    if (i < kMaxCategories) {
      p.categories.push_back({column.categories[seen[i]], counts[seen[i]]});
    } else {
      p.other += counts[seen[i]];
    }
  }
}

// --- Writing ------------------------------------------------------------------

void AddNumeric(const NumericProfile& p, Json* j) {
  (*j)["min"] = p.min;
  (*j)["max"] = p.max;
  (*j)["mean"] = p.mean;
  (*j)["stddev"] = p.stddev;
  Json quantiles = Json::object();
  for (size_t i = 0; i < kQuantileCount && i < p.quantiles.size(); ++i) {
    quantiles[LevelKey(kQuantileLevels[i])] = p.quantiles[i];
  }
  (*j)["quantiles"] = std::move(quantiles);
  Json histogram = Json::object();
  histogram["edges"] = p.bin_edges;
  histogram["counts"] = p.counts;
  (*j)["histogram"] = std::move(histogram);
}

Json ColumnToJson(const ColumnProfile& c) {
  Json j = Json::object();
  j["name"] = c.name;
  j["type"] = TypeName(c.type);
  j["count"] = c.count;
  j["missing"] = c.missing;
  if (c.type == table::ColumnType::kNumeric) {
    if (c.count > c.missing) AddNumeric(c.numeric, &j);
    return j;
  }
  j["distinct"] = c.categorical.distinct;
  Json categories = Json::array();
  for (const CategoryCount& category : c.categorical.categories) {
    categories.push_back({{"value", category.value}, {"count", category.count}});
  }
  j["categories"] = std::move(categories);
  j["other"] = c.categorical.other;
  return j;
}

// --- Reading ------------------------------------------------------------------

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// Reads typed fields, naming `source` and the field's path in every error.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  Status Error(const std::string& path, const std::string& message) const {
    return CorruptError(std::string(source_) + ": " + path + ": " + message);
  }

  Result<const Json*> Field(const Json& object, const std::string& path,
                            std::string_view key) const {
    auto it = object.find(key);
    if (it == object.end()) return Error(Join(path, key), "missing");
    return &*it;
  }

  Result<uint64_t> Count(const Json& object, const std::string& path, std::string_view key) const {
    KEEL_ASSIGN_OR_RETURN(const Json* value, Field(object, path, key));
    return AsCount(*value, Join(path, key));
  }

  Result<uint64_t> AsCount(const Json& value, const std::string& path) const {
    if (!value.is_number_unsigned()) return Error(path, "expected a non-negative integer");
    return value.get<uint64_t>();
  }

  Result<double> Number(const Json& object, const std::string& path, std::string_view key) const {
    KEEL_ASSIGN_OR_RETURN(const Json* value, Field(object, path, key));
    return AsNumber(*value, Join(path, key));
  }

  Result<double> AsNumber(const Json& value, const std::string& path) const {
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      return Error(path, "expected a finite number");
    }
    return value.get<double>();
  }

  Result<std::string> String(const Json& object, const std::string& path,
                             std::string_view key) const {
    KEEL_ASSIGN_OR_RETURN(const Json* value, Field(object, path, key));
    if (!value->is_string()) return Error(Join(path, key), "expected a string");
    return value->get<std::string>();
  }

  // The array at `key`, which must have `size` entries.
  Result<const Json*> Array(const Json& object, const std::string& path, std::string_view key,
                            size_t size, std::string_view what) const {
    KEEL_ASSIGN_OR_RETURN(const Json* value, Field(object, path, key));
    if (!value->is_array() || value->size() != size) {
      return Error(Join(path, key), "expected " + std::to_string(size) + " " + std::string(what));
    }
    return value;
  }

 private:
  std::string_view source_;
};

Status ReadQuantiles(const Reader& r, const Json& column, const std::string& path,
                     NumericProfile* p) {
  const std::string quantiles_path = Join(path, "quantiles");
  KEEL_ASSIGN_OR_RETURN(const Json* quantiles, r.Field(column, path, "quantiles"));
  std::string levels;
  for (double level : kQuantileLevels) levels += (levels.empty() ? "" : ", ") + LevelKey(level);
  if (!quantiles->is_object() || quantiles->size() != kQuantileCount) {
    return r.Error(quantiles_path, "expected an object with the levels " + levels);
  }
  for (double level : kQuantileLevels) {
    const std::string key = LevelKey(level);
    if (!quantiles->contains(key)) {
      return r.Error(quantiles_path, "missing level \"" + key + "\" (expected " + levels + ")");
    }
    KEEL_ASSIGN_OR_RETURN(double value, r.Number(*quantiles, quantiles_path, key));
    if (value < p->min || value > p->max) {
      return r.Error(Join(quantiles_path, key), "outside [min, max]");
    }
    p->quantiles.push_back(value);
  }
  return Status::Ok();
}

Status ReadHistogram(const Reader& r, const Json& column, const std::string& path, uint64_t values,
                     NumericProfile* p) {
  const std::string histogram_path = Join(path, "histogram");
  KEEL_ASSIGN_OR_RETURN(const Json* histogram, r.Field(column, path, "histogram"));
  if (!histogram->is_object()) return r.Error(histogram_path, "expected an object");
  const size_t bins = p->min == p->max ? 1 : kHistogramBins;
  KEEL_ASSIGN_OR_RETURN(const Json* edges,
                        r.Array(*histogram, histogram_path, "edges", bins + 1, "numbers"));
  KEEL_ASSIGN_OR_RETURN(const Json* counts,
                        r.Array(*histogram, histogram_path, "counts", bins, "numbers"));
  const std::string edges_path = Join(histogram_path, "edges");
  for (size_t i = 0; i < edges->size(); ++i) {
    const std::string edge_path = edges_path + "[" + std::to_string(i) + "]";
    KEEL_ASSIGN_OR_RETURN(double edge, r.AsNumber((*edges)[i], edge_path));
    if (!p->bin_edges.empty() && edge < p->bin_edges.back()) {
      return r.Error(edge_path, "edges must ascend");
    }
    p->bin_edges.push_back(edge);
  }
  if (p->bin_edges.front() != p->min || p->bin_edges.back() != p->max) {
    return r.Error(edges_path, "must run from min to max");
  }
  const std::string counts_path = Join(histogram_path, "counts");
  uint64_t total = 0;
  for (size_t i = 0; i < counts->size(); ++i) {
    KEEL_ASSIGN_OR_RETURN(uint64_t count,
                          r.AsCount((*counts)[i], counts_path + "[" + std::to_string(i) + "]"));
    if (count > kMaxCount - total) return r.Error(counts_path, "sum beyond 2^64 - 1");
    p->counts.push_back(count);
    total += count;
  }
  if (total != values) {
    return r.Error(counts_path, "sum to " + std::to_string(total) + ", but count - missing is " +
                                    std::to_string(values));
  }
  return Status::Ok();
}

Status ReadNumeric(const Reader& r, const Json& column, const std::string& path, ColumnProfile* c) {
  static constexpr const char* kStats[] = {"min",    "max",       "mean",
                                           "stddev", "quantiles", "histogram"};
  const uint64_t values = c->count - c->missing;
  if (values == 0) {
    for (const char* key : kStats) {
      if (column.contains(key))
        return r.Error(Join(path, key), "present, but every value is missing");
    }
    return Status::Ok();
  }
  NumericProfile& p = c->numeric;
  KEEL_ASSIGN_OR_RETURN(p.min, r.Number(column, path, "min"));
  KEEL_ASSIGN_OR_RETURN(p.max, r.Number(column, path, "max"));
  if (p.min > p.max) return r.Error(Join(path, "max"), "less than min");
  KEEL_ASSIGN_OR_RETURN(p.mean, r.Number(column, path, "mean"));
  KEEL_ASSIGN_OR_RETURN(p.stddev, r.Number(column, path, "stddev"));
  if (p.stddev < 0) return r.Error(Join(path, "stddev"), "negative");
  KEEL_RETURN_IF_ERROR(ReadQuantiles(r, column, path, &p));
  return ReadHistogram(r, column, path, values, &p);
}

Status ReadCategorical(const Reader& r, const Json& column, const std::string& path,
                       ColumnProfile* c) {
  CategoricalProfile& p = c->categorical;
  KEEL_ASSIGN_OR_RETURN(p.distinct, r.Count(column, path, "distinct"));
  KEEL_ASSIGN_OR_RETURN(const Json* categories, r.Field(column, path, "categories"));
  const std::string list_path = Join(path, "categories");
  if (!categories->is_array() || categories->size() > kMaxCategories) {
    return r.Error(list_path, "expected a list of at most " + std::to_string(kMaxCategories) +
                                  " {\"value\", \"count\"} objects");
  }
  uint64_t total = 0;
  for (size_t i = 0; i < categories->size(); ++i) {
    const std::string item_path = list_path + "[" + std::to_string(i) + "]";
    const Json& item = (*categories)[i];
    if (!item.is_object()) return r.Error(item_path, "expected an object");
    CategoryCount category;
    KEEL_ASSIGN_OR_RETURN(category.value, r.String(item, item_path, "value"));
    KEEL_ASSIGN_OR_RETURN(category.count, r.Count(item, item_path, "count"));
    if (category.count == 0) return r.Error(Join(item_path, "count"), "must be at least 1");
    if (category.count > kMaxCount - total) return r.Error(list_path, "counts sum beyond 2^64 - 1");
    total += category.count;
    p.categories.push_back(std::move(category));
  }
  KEEL_ASSIGN_OR_RETURN(p.other, r.Count(column, path, "other"));
  // Every category seen is listed unless kMaxCategories are, the rest in `other`.
  const bool fits = p.other == 0 ? p.distinct == p.categories.size()
                                 : p.categories.size() == kMaxCategories &&
                                       p.distinct > p.categories.size() &&
                                       p.other >= p.distinct - p.categories.size();
  if (!fits) {
    return r.Error(Join(path, "distinct"), std::to_string(p.distinct) + " does not fit " +
                                               std::to_string(p.categories.size()) +
                                               " categories listed and other " +
                                               std::to_string(p.other));
  }
  if (p.other > kMaxCount - total) {
    return r.Error(list_path, "counts and other sum beyond 2^64 - 1");
  }
  if (total + p.other != c->count - c->missing) {
    return r.Error(list_path, "counts and other sum to " + std::to_string(total + p.other) +
                                  ", but count - missing is " +
                                  std::to_string(c->count - c->missing));
  }
  return Status::Ok();
}

Result<ColumnProfile> ReadColumn(const Reader& r, const Json& column, const std::string& path,
                                 uint64_t rows) {
  if (!column.is_object()) return r.Error(path, "expected an object");
  ColumnProfile c;
  KEEL_ASSIGN_OR_RETURN(c.name, r.String(column, path, "name"));
  KEEL_ASSIGN_OR_RETURN(std::string type, r.String(column, path, "type"));
  if (type == TypeName(table::ColumnType::kNumeric)) {
    c.type = table::ColumnType::kNumeric;
  } else if (type == TypeName(table::ColumnType::kCategorical)) {
    c.type = table::ColumnType::kCategorical;
  } else {
    return r.Error(Join(path, "type"), "'" + type + "' is not numeric or categorical");
  }
  KEEL_ASSIGN_OR_RETURN(c.count, r.Count(column, path, "count"));
  if (c.count != rows) {
    return r.Error(Join(path, "count"),
                   std::to_string(c.count) + ", but rows is " + std::to_string(rows));
  }
  KEEL_ASSIGN_OR_RETURN(c.missing, r.Count(column, path, "missing"));
  if (c.missing > c.count) return r.Error(Join(path, "missing"), "more than count");
  if (c.type == table::ColumnType::kNumeric) {
    KEEL_RETURN_IF_ERROR(ReadNumeric(r, column, path, &c));
  } else {
    KEEL_RETURN_IF_ERROR(ReadCategorical(r, column, path, &c));
  }
  return c;
}

Result<Profile> ReadProfile(const Reader& r, const Json& root) {
  if (!root.is_object()) return r.Error("(top level)", "expected an object");
  KEEL_ASSIGN_OR_RETURN(std::string format, r.String(root, "", "format"));
  if (format != kFormat) {
    return r.Error("format", "'" + format + "' is not " + kFormat);
  }
  Profile profile;
  KEEL_ASSIGN_OR_RETURN(profile.rows, r.Count(root, "", "rows"));
  KEEL_ASSIGN_OR_RETURN(const Json* columns, r.Field(root, "", "columns"));
  if (!columns->is_array()) return r.Error("columns", "expected a list");
  for (size_t i = 0; i < columns->size(); ++i) {
    KEEL_ASSIGN_OR_RETURN(
        ColumnProfile column,
        ReadColumn(r, (*columns)[i], "columns[" + std::to_string(i) + "]", profile.rows));
    profile.columns.push_back(std::move(column));
  }
  return profile;
}

}  // namespace

Profile ProfileTable(const table::Table& table) {
  Profile profile;
  profile.rows = table.rows;
  for (const table::Column& column : table.columns) {
    ColumnProfile c;
    c.name = column.name;
    c.type = column.type;
    c.count = column.size();
    if (column.type == table::ColumnType::kNumeric) {
      ProfileNumbers(column, &c);
    } else {
      ProfileCodes(column, &c);
    }
    profile.columns.push_back(std::move(c));
  }
  return profile;
}

std::string ProfileToJson(const Profile& profile) {
  Json root = Json::object();
  root["format"] = kFormat;
  root["rows"] = profile.rows;
  Json columns = Json::array();
  for (const ColumnProfile& column : profile.columns) columns.push_back(ColumnToJson(column));
  root["columns"] = std::move(columns);
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<Profile> ProfileFromJson(std::string_view json, std::string_view source) {
  Json root;
  try {
    root = Json::parse(json.begin(), json.end());
  } catch (const Json::exception& e) {  // parse_error, or out_of_range for a number like 1e999
    return CorruptError(std::string(source) + ": not JSON: " + e.what());
  }
  return ReadProfile(Reader(source), root);
}

}  // namespace keel::monitor
