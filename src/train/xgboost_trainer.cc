#include "train/xgboost_trainer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/yaml.h"
#include "monitor/profile.h"
#include "pipeline/params.h"
#include "runtime/features.h"
#include "runtime/xgboost.h"
#include "table/csv.h"

namespace keel {
namespace {

using runtime::CategoricalEncoding;
using runtime::FeatureMatrix;
using runtime::Signature;
using runtime::Task;
using table::ColumnType;

struct XGBoostParams {
  std::vector<std::pair<std::string, std::string>> params;
  int rounds = 100;
};

void SetParam(std::vector<std::pair<std::string, std::string>>* params, const std::string& key,
              const std::string& value) {
  for (auto& [k, v] : *params) {
    if (k == key) {
      v = value;
      return;
    }
  }
  params->emplace_back(key, value);
}

std::string DefaultObjective(Task task) {
  switch (task) {
    case Task::kBinary: return "binary:logistic";
    case Task::kMulticlass: return "multi:softprob";
    case Task::kRegression: return "reg:squarederror";
  }
  return "";
}

// Objectives whose predictions are what keel's outputs mean for the task.
bool ObjectiveFits(Task task, const std::string& objective) {
  switch (task) {
    case Task::kBinary: return objective == "binary:logistic";
    case Task::kMulticlass: return objective == "multi:softprob";
    case Task::kRegression:
      return objective.rfind("reg:", 0) == 0 || objective == "count:poisson" ||
             objective == "reg:tweedie";
  }
  return false;
}

Result<XGBoostParams> LoadParams(Env* env, const XGBoostTrainOptions& o, size_t classes) {
  XGBoostParams p;
  SetParam(&p.params, "objective", DefaultObjective(o.task));
  SetParam(&p.params, "tree_method", "hist");
  SetParam(&p.params, "seed", std::to_string(o.seed));
  std::vector<std::pair<std::string, std::string>> given;
  if (!o.params_section.empty()) {
    KEEL_ASSIGN_OR_RETURN(std::string text, ReadFileToString(env, o.params_file));
    KEEL_ASSIGN_OR_RETURN(ParamsFile file, ParamsFile::Parse(text, o.params_file));
    ParamValues values;
    if (!file.Select(o.params_section, &values)) {
      std::vector<std::string> sections;
      for (const auto& [key, value] : file.values()) sections.push_back(key.substr(0, key.find('.')));
      return InvalidArgumentError(o.params_file + ": no section '" + o.params_section + "'" +
                                  DidYouMean(o.params_section, sections));
    }
    for (const auto& [key, value] : values) {
      std::string name = key.size() > o.params_section.size() ? key.substr(o.params_section.size() + 1) : key;
      if (!value.empty() && (value[0] == '[' || value[0] == '{')) {
        return InvalidArgumentError(o.params_file + ": " + key + ": XGBoost takes a single value, not " + value);
      }
      given.emplace_back(name, value);
    }
  }
  for (const auto& kv : o.overrides) given.push_back(kv);
  for (const auto& [name, value] : given) {
    if (name == "num_boost_round" || name == "n_estimators") {
      int rounds = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), rounds);
      if (ec != std::errc() || end != value.data() + value.size() || rounds < 1) {
        return InvalidArgumentError("param " + name + ": '" + value + "' is not a positive integer");
      }
      p.rounds = rounds;
      continue;
    }
    SetParam(&p.params, name, value);
  }
  const std::string& objective = p.params.front().second;
  if (!ObjectiveFits(o.task, objective)) {
    return InvalidArgumentError("param objective: '" + objective + "' does not fit --task " +
                                std::string(runtime::TaskName(o.task)) + " (use " +
                                DefaultObjective(o.task) + ")");
  }
  if (o.task == Task::kMulticlass) SetParam(&p.params, "num_class", std::to_string(classes));
  return p;
}

bool IsNumber(const std::string& s, double* value) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *value);
  return ec == std::errc() && end == s.data() + s.size();
}

// Class labels in index order: numerically when they are all numbers, else
// by bytes.
std::vector<std::string> SortClasses(std::vector<std::string> classes) {
  std::vector<double> numbers(classes.size());
  bool numeric = true;
  for (size_t i = 0; i < classes.size() && numeric; ++i) numeric = IsNumber(classes[i], &numbers[i]);
  if (!numeric) {
    std::sort(classes.begin(), classes.end());
    return classes;
  }
  std::vector<size_t> order(classes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return numbers[a] < numbers[b]; });
  std::vector<std::string> sorted;
  for (size_t i : order) sorted.push_back(classes[i]);
  return sorted;
}

table::CsvOptions ReadOptions(const XGBoostTrainOptions& o) {
  table::CsvOptions options;
  options.declared.emplace(o.target, o.task == Task::kRegression ? ColumnType::kNumeric
                                                                 : ColumnType::kCategorical);
  for (const std::string& c : o.categorical_columns) options.declared.emplace(c, ColumnType::kCategorical);
  return options;
}

// The training file's column names, from its first line, so that a
// misspelt --target is reported as such before the whole file is read.
Result<std::vector<std::string>> HeaderNames(Env* env, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, env->OpenForRead(path));
  std::string head(1 << 20, '\0');
  KEEL_ASSIGN_OR_RETURN(size_t n, file->Read(head.data(), head.size()));
  head.resize(n);
  size_t newline = head.find('\n');
  if (newline != std::string::npos) head.resize(newline + 1);
  table::CsvOptions options;
  options.missing_values.clear();
  Result<table::Table> header = table::ParseCsv(head, path, options);
  std::vector<std::string> names;
  if (!header.ok()) return names;  // the full read reports it
  for (const table::Column& c : header->columns) names.push_back(c.name);
  return names;
}

Status CheckColumns(const std::vector<std::string>& names, const XGBoostTrainOptions& o) {
  auto check = [&](const std::string& name, const char* what) -> Status {
    if (names.empty() || std::find(names.begin(), names.end(), name) != names.end()) return Status::Ok();
    return InvalidArgumentError(o.train_path + ": no column '" + name + "' (" + what + ")" +
                                DidYouMean(name, names));
  };
  KEEL_RETURN_IF_ERROR(check(o.target, "--target"));
  for (const std::string& c : o.exclude) KEEL_RETURN_IF_ERROR(check(c, "--exclude"));
  for (const std::string& c : o.categorical_columns) KEEL_RETURN_IF_ERROR(check(c, "--categorical-column"));
  return Status::Ok();
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// signature.json is JSON, so every name and category must be UTF-8.
Status CheckUtf8(const table::Table& t, const std::string& path) {
  for (const table::Column& c : t.columns) {
    if (!IsValidUtf8(c.name)) return InvalidArgumentError(path + ": a column name is not valid UTF-8");
    for (const std::string& category : c.categories) {
      if (!IsValidUtf8(category)) {
        return InvalidArgumentError(path + ": column '" + c.name + "': a value is not valid UTF-8 "
                                    "(convert the file to UTF-8, e.g. with iconv)");
      }
    }
  }
  return Status::Ok();
}

Result<Signature> MakeSignature(const table::Table& t, const XGBoostTrainOptions& o) {
  Signature s;
  s.task = o.task;
  s.target = o.target;
  s.encoding = o.encoding;
  for (const table::Column& c : t.columns) {
    if (c.name == o.target) continue;
    if (std::find(o.exclude.begin(), o.exclude.end(), c.name) != o.exclude.end()) continue;
    s.inputs.push_back({c.name, c.type, c.type == ColumnType::kCategorical ? c.categories
                                                                          : std::vector<std::string>{}});
  }
  if (s.inputs.empty()) return InvalidArgumentError(o.train_path + ": no input columns besides the target");
  if (o.task == Task::kRegression) return s;
  const table::Column& target = t.columns[t.ColumnIndex(o.target)];
  std::vector<bool> seen(target.categories.size());
  for (int32_t code : target.codes) {
    if (code != table::Column::kMissingCode) seen[code] = true;
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i]) s.classes.push_back(target.categories[i]);
  }
  s.classes = SortClasses(std::move(s.classes));
  if (o.task == Task::kBinary && s.classes.size() != 2) {
    std::string found;
    for (const std::string& c : s.classes) found += (found.empty() ? "'" : ", '") + c + "'";
    return InvalidArgumentError(o.train_path + ": column '" + o.target + "': --task binary needs 2 classes, found " +
                                std::to_string(s.classes.size()) + (found.empty() ? "" : " (" + found + ")"));
  }
  if (o.task == Task::kMulticlass && s.classes.size() < 2) {
    return InvalidArgumentError(o.train_path + ": column '" + o.target +
                                "': --task multiclass needs at least 2 classes");
  }
  return s;
}

struct Split {
  FeatureMatrix features;
  std::vector<float> labels;
};

Split TakeRows(const FeatureMatrix& m, const std::vector<float>& labels, const std::vector<size_t>& rows) {
  Split s;
  s.features.rows = rows.size();
  s.features.cols = m.cols;
  s.features.values.reserve(rows.size() * m.cols);
  for (size_t r : rows) {
    s.features.values.insert(s.features.values.end(), m.row(r), m.row(r) + m.cols);
    s.labels.push_back(labels[r]);
  }
  return s;
}

// A seeded shuffle that is the same on every platform (std::shuffle's
// algorithm is unspecified): Fisher-Yates over mt19937_64.
std::vector<size_t> Shuffled(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    size_t j = static_cast<size_t>(rng() % i);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

Result<std::pair<Split, Split>> SplitByFraction(const FeatureMatrix& m, const std::vector<float>& labels,
                                                const XGBoostTrainOptions& o) {
  if (!(o.valid_fraction > 0 && o.valid_fraction < 1)) {
    return InvalidArgumentError("--valid-fraction: " + std::to_string(o.valid_fraction) +
                                " is not between 0 and 1");
  }
  std::vector<size_t> order = Shuffled(m.rows, o.seed);
  size_t valid = static_cast<size_t>(std::llround(o.valid_fraction * static_cast<double>(m.rows)));
  if (valid == 0 || valid == m.rows) {
    return InvalidArgumentError(o.train_path + ": " + std::to_string(m.rows) + " rows are too few to keep " +
                                std::to_string(o.valid_fraction) + " of them for validation");
  }
  std::vector<size_t> valid_rows(order.begin(), order.begin() + static_cast<ptrdiff_t>(valid));
  std::vector<size_t> train_rows(order.begin() + static_cast<ptrdiff_t>(valid), order.end());
  std::sort(valid_rows.begin(), valid_rows.end());
  std::sort(train_rows.begin(), train_rows.end());
  return std::make_pair(TakeRows(m, labels, train_rows), TakeRows(m, labels, valid_rows));
}

Result<Split> ReadValid(const Signature& s, const XGBoostTrainOptions& o) {
  table::CsvOptions options = runtime::CsvOptionsFor(s);
  options.declared.emplace(o.target, o.task == Task::kRegression ? ColumnType::kNumeric
                                                                 : ColumnType::kCategorical);
  KEEL_ASSIGN_OR_RETURN(table::Table t, table::ReadCsv(o.valid_path, options));
  if (t.rows == 0) return InvalidArgumentError(o.valid_path + ": no rows");
  Split split;
  KEEL_ASSIGN_OR_RETURN(split.labels, runtime::TargetLabels(s, t, o.valid_path));
  KEEL_ASSIGN_OR_RETURN(split.features, runtime::BuildFeatures(s, t, o.valid_path));
  return split;
}

std::vector<std::string> FeatureNames(const Signature& s, std::vector<bool>* categorical) {
  std::vector<std::string> names = s.FeatureNames();
  for (const runtime::InputColumn& in : s.inputs) {
    bool native = in.type == ColumnType::kCategorical && s.encoding == CategoricalEncoding::kNative;
    size_t width = in.type == ColumnType::kCategorical && !native ? in.categories.size() : 1;
    categorical->insert(categorical->end(), width, native);
  }
  return names;
}

}  // namespace

Result<TrainReport> TrainXGBoostModel(Env* env, const XGBoostTrainOptions& o) {
  KEEL_ASSIGN_OR_RETURN(std::vector<std::string> names, HeaderNames(env, o.train_path));
  KEEL_RETURN_IF_ERROR(CheckColumns(names, o));
  KEEL_ASSIGN_OR_RETURN(table::Table t, table::ReadCsv(o.train_path, ReadOptions(o)));
  KEEL_RETURN_IF_ERROR(CheckUtf8(t, o.train_path));
  if (t.rows == 0) return InvalidArgumentError(o.train_path + ": no rows");
  KEEL_ASSIGN_OR_RETURN(Signature s, MakeSignature(t, o));
  KEEL_ASSIGN_OR_RETURN(XGBoostParams params, LoadParams(env, o, s.classes.size()));
  KEEL_ASSIGN_OR_RETURN(std::vector<float> labels, runtime::TargetLabels(s, t, o.train_path));
  KEEL_ASSIGN_OR_RETURN(FeatureMatrix all, runtime::BuildFeatures(s, t, o.train_path));
  Split train, valid;
  if (o.valid_path.empty()) {
    KEEL_ASSIGN_OR_RETURN(auto parts, SplitByFraction(all, labels, o));
    train = std::move(parts.first);
    valid = std::move(parts.second);
  } else {
    train = {std::move(all), std::move(labels)};
    KEEL_ASSIGN_OR_RETURN(valid, ReadValid(s, o));
  }
  runtime::XGBoostTraining training;
  training.params = params.params;
  training.rounds = params.rounds;
  training.feature_names = FeatureNames(s, &training.categorical);
  if (o.on_round) {
    training.on_round = [&](int round, const std::vector<std::pair<std::string, double>>& values) {
      for (const auto& [name, value] : values) o.on_round(round, name, value);
    };
  }
  KEEL_ASSIGN_OR_RETURN(std::string model_json,
                        runtime::TrainXGBoost(train.features, train.labels, valid.features, valid.labels, training));
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Model> model,
                        runtime::LoadXGBoostModel(model_json, s, "trained model"));
  std::vector<float> predictions;
  KEEL_RETURN_IF_ERROR(model->Predict(valid.features, &predictions));

  TrainReport report;
  report.train_rows = train.features.rows;
  report.valid_rows = valid.features.rows;
  report.features = s.FeatureCount();
  report.rounds = params.rounds;
  report.params = params.params;
  report.metrics = runtime::TaskMetrics(s, valid.labels, predictions);

  // Everything is computed before anything is written, and the file
  // outside the folder first, so a failure leaves the folder as it was
  // unless the disk itself fails midway.
  std::string signature = runtime::SignatureToJson(s);
  std::string metrics = runtime::MetricsToJson(report.metrics);
  std::string profile = monitor::ProfileToJson(monitor::ProfileTable(t));
  if (!o.metrics_path.empty()) KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, o.metrics_path, metrics));
  KEEL_RETURN_IF_ERROR(CreateDirs(env, o.out_dir));
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, o.out_dir + "/model.json", model_json));
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, o.out_dir + "/signature.json", signature));
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, o.out_dir + "/metrics.json", metrics));
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(env, o.out_dir + "/profile.json", profile));
  return report;
}

}  // namespace keel
