// `keel predict MODEL --input FILE.csv --out PRED.csv`: batch scoring.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <iostream>

#include "cli/commands.h"
#include "cli/registry_open.h"
#include "runtime/features.h"
#include "runtime/model.h"
#include "table/csv.h"

namespace keel::cli {
namespace {

struct PredictArgs {
  std::string model;
  std::string input;
  std::string out;
  std::vector<std::string> keep;
  std::string metrics;
};

void AppendField(std::string_view value, std::string* out) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(value);
    return;
  }
  out->push_back('"');
  for (char c : value) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendFloat(float v, std::string* out) {
  if (std::isnan(v)) return;  // missing: an empty field
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

void AppendCell(const table::Column& column, size_t row, std::string* out) {
  if (column.type == table::ColumnType::kNumeric) {
    AppendFloat(column.numbers[row], out);
  } else if (column.codes[row] != table::Column::kMissingCode) {
    AppendField(column.categories[column.codes[row]], out);
  }
}

std::string PredictionsCsv(const runtime::Signature& s, const table::Table& input,
                           const std::vector<int>& keep, const std::vector<float>& out, size_t width) {
  std::string csv;
  csv.reserve(input.rows * (16 * (width + 1) + 8 * keep.size()) + 256);
  bool first = true;
  for (int k : keep) {
    if (!first) csv.push_back(',');
    AppendField(input.columns[k].name, &csv);
    first = false;
  }
  for (const std::string& name : s.OutputNames()) {
    if (!first) csv.push_back(',');
    AppendField(name, &csv);
    first = false;
  }
  csv.push_back('\n');
  for (size_t r = 0; r < input.rows; ++r) {
    for (int k : keep) {
      AppendCell(input.columns[k], r, &csv);
      csv.push_back(',');
    }
    const float* p = out.data() + r * width;
    for (size_t i = 0; i < width; ++i) {
      AppendFloat(p[i], &csv);
      csv.push_back(',');
    }
    if (s.task == runtime::Task::kRegression) {
      csv.pop_back();
    } else {
      AppendField(s.classes[runtime::PredictedClass(s, p)], &csv);
    }
    csv.push_back('\n');
  }
  return csv;
}

// A model folder when `id` names one, else a registered version.
Result<std::unique_ptr<runtime::Model>> LoadModel(Context& ctx, const std::string& id) {
  Result<FileInfo> info = ctx.env->Stat(id);
  if (info.ok() && info->type == FileType::kDirectory) return runtime::LoadModelDir(ctx.env, id);
  if (id.find('@') == std::string::npos && id.rfind("sha256:", 0) != 0) {
    return NotFoundError("no model folder '" + id + "' (a registered model is NAME@VERSION or NAME@ALIAS)");
  }
  KEEL_ASSIGN_OR_RETURN(Registry registry, OpenRegistry(ctx));
  KEEL_ASSIGN_OR_RETURN(ModelVersion version, registry.service->Resolve(id));
  KEEL_ASSIGN_OR_RETURN(std::string model_json, registry.service->ReadFile(version, "model.json"));
  KEEL_ASSIGN_OR_RETURN(std::string signature_json, registry.service->ReadFile(version, "signature.json"));
  return runtime::LoadModelFiles(model_json, signature_json, version.model + "@" + std::to_string(version.version));
}

Status Predict(Context& ctx, const PredictArgs& args) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<runtime::Model> model, LoadModel(ctx, args.model));
  const runtime::Signature& s = model->signature();
  table::CsvOptions options = runtime::CsvOptionsFor(s);
  // Kept columns that are not inputs are copied as their text ("007" and
  // long ids stay as written).
  for (const std::string& name : args.keep) options.declared.emplace(name, table::ColumnType::kCategorical);
  if (!args.metrics.empty()) {
    options.declared.emplace(s.target, s.task == runtime::Task::kRegression ? table::ColumnType::kNumeric
                                                                            : table::ColumnType::kCategorical);
  }
  KEEL_ASSIGN_OR_RETURN(table::Table input, table::ReadCsv(args.input, options));
  std::vector<int> keep;
  for (const std::string& name : args.keep) {
    int index = input.ColumnIndex(name);
    if (index < 0) return InvalidArgumentError(args.input + ": no column '" + name + "' (--keep)");
    keep.push_back(index);
  }
  KEEL_ASSIGN_OR_RETURN(runtime::FeatureMatrix features, runtime::BuildFeatures(s, input, args.input));
  std::vector<float> out;
  KEEL_RETURN_IF_ERROR(model->Predict(features, &out));
  std::vector<runtime::MetricValue> metrics;
  if (!args.metrics.empty()) {
    if (input.rows == 0) return InvalidArgumentError(args.input + ": no rows to score (--metrics)");
    KEEL_ASSIGN_OR_RETURN(std::vector<float> labels, runtime::TargetLabels(s, input, args.input));
    metrics = runtime::TaskMetrics(s, labels, out);
  }
  std::string csv = PredictionsCsv(s, input, keep, out, model->OutputWidth());
  KEEL_RETURN_IF_ERROR(WriteFileAtomic(ctx.env, args.out, csv));
  if (!args.metrics.empty()) {
    KEEL_RETURN_IF_ERROR(WriteFileAtomic(ctx.env, args.metrics, runtime::MetricsToJson(metrics)));
  }
  if (ctx.json) {
    nlohmann::json j = {{"model", args.model}, {"rows", input.rows}, {"out", args.out}};
    if (!args.metrics.empty()) j["metrics"] = nlohmann::json::parse(runtime::MetricsToJson(metrics));
    PrintJson(j);
    return Status::Ok();
  }
  std::cout << "predicted " << input.rows << " rows -> " << args.out << "\n";
  if (!args.metrics.empty()) {
    std::cout << "metrics (" << args.metrics << "):";
    for (const runtime::MetricValue& m : metrics) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", m.value);
      std::cout << " " << m.name << " " << buf;
    }
    std::cout << "\n";
  }
  return Status::Ok();
}

}  // namespace

void RegisterPredictCommand(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "score a CSV file with a model (batch)");
  cmd->add_option("model", args->model, "a model folder, or a registered model ID (census@3, census@production)")
      ->required();
  cmd->add_option("--input", args->input, "rows to score (CSV with a header row)")->required();
  cmd->add_option("--out", args->out, "where to write the predictions (CSV)")->required();
  cmd->add_option("--metrics", args->metrics,
                  "also score the predictions against the input's target column into this JSON file");
  cmd->add_option("--keep", args->keep, "an input column to copy into the output, e.g. an id (repeatable)");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return Predict(ctx, *args); }; });
}

}  // namespace keel::cli
