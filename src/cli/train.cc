// `keel train xgboost` and `keel predict`.
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "core/yaml.h"
#include "runtime/features.h"
#include "runtime/model.h"
#include "table/csv.h"
#include "train/xgboost_trainer.h"

namespace keel::cli {
namespace {

struct TrainArgs {
  XGBoostTrainOptions options;
  std::string task = "binary";
  std::string encoding = "native";
  std::vector<std::string> params;  // KEY=VALUE
};

// Appends each round's validation metrics to the run's event file, as the
// series "valid.<metric>" (docs/format/tracking.md), when keel run gave one.
class RoundLogger {
 public:
  RoundLogger() {
    const char* path = std::getenv("KEEL_METRICS_FILE");
    if (path != nullptr && *path != '\0') fd_ = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  }
  ~RoundLogger() {
    if (fd_ >= 0) ::close(fd_);
  }
  RoundLogger(const RoundLogger&) = delete;
  RoundLogger& operator=(const RoundLogger&) = delete;

  bool active() const { return fd_ >= 0; }

  void Log(int round, const std::string& name, double value) {
    if (!std::isfinite(value)) return;
    char line[512];
    int n = std::snprintf(line, sizeof line, "{\"metric\": \"valid.%s\", \"value\": %.17g, \"step\": %d}\n",
                          name.c_str(), value, round);
    if (n > 0 && static_cast<size_t>(n) < sizeof line && ::write(fd_, line, n) != n) {
      std::cerr << "keel: warning: could not log metric valid." << name << "\n";
    }
  }

 private:
  int fd_ = -1;
};

Status ParseOverrides(const std::vector<std::string>& given, XGBoostTrainOptions* o) {
  for (const std::string& kv : given) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgumentError("--param '" + kv + "': expected KEY=VALUE");
    }
    o->overrides.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return Status::Ok();
}

std::string FormatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

Status Train(Context& ctx, TrainArgs& args) {
  XGBoostTrainOptions& o = args.options;
  KEEL_ASSIGN_OR_RETURN(o.task, runtime::ParseTask(args.task));
  Result<runtime::CategoricalEncoding> encoding = runtime::ParseCategoricalEncoding(args.encoding);
  if (!encoding.ok()) return encoding.status().WithPrefix("--categorical");
  o.encoding = *encoding;
  KEEL_RETURN_IF_ERROR(ParseOverrides(args.params, &o));
  RoundLogger logger;
  if (logger.active()) {
    o.on_round = [&logger](int round, const std::string& name, double value) { logger.Log(round, name, value); };
  }
  KEEL_ASSIGN_OR_RETURN(TrainReport report, TrainXGBoostModel(ctx.env, o));
  if (ctx.json) {
    nlohmann::json metrics = nlohmann::json::object();
    for (const runtime::MetricValue& m : report.metrics) {
      metrics[m.name] = std::isfinite(m.value) ? nlohmann::json(m.value) : nlohmann::json(nullptr);
    }
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, v] : report.params) params[k] = v;
    PrintJson({{"out", o.out_dir},
               {"train_rows", report.train_rows},
               {"valid_rows", report.valid_rows},
               {"features", report.features},
               {"rounds", report.rounds},
               {"params", params},
               {"metrics", metrics}});
    return Status::Ok();
  }
  std::cout << "trained " << report.rounds << " rounds on " << report.train_rows << " rows, "
            << report.features << " features -> " << o.out_dir << "/model.json\n";
  std::cout << "validation (" << report.valid_rows << " rows):";
  for (const runtime::MetricValue& m : report.metrics) std::cout << " " << m.name << " " << FormatValue(m.value);
  std::cout << "\n";
  return Status::Ok();
}

void RegisterTrainXGBoost(CLI::App* train, Context& ctx) {
  auto args = std::make_shared<TrainArgs>();
  XGBoostTrainOptions& o = args->options;
  CLI::App* cmd = train->add_subcommand("xgboost", "gradient-boosted trees on a CSV table with XGBoost");
  cmd->add_option("--train", o.train_path, "training data (CSV with a header row)")->required();
  cmd->add_option("--valid", o.valid_path, "validation data (CSV); default: --valid-fraction of --train");
  cmd->add_option("--valid-fraction", o.valid_fraction, "share of --train rows kept for validation")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the validation split and of XGBoost")->capture_default_str();
  cmd->add_option("--target", o.target, "the column to predict")->required();
  cmd->add_option("--task", args->task, "binary | multiclass | regression")->capture_default_str();
  cmd->add_option("--params", o.params_section, "a section of the params file passed to XGBoost (e.g. train)");
  cmd->add_option("--params-file", o.params_file, "the params file")->capture_default_str();
  cmd->add_option("--param", args->params, "an XGBoost parameter KEY=VALUE (after --params; repeatable)");
  cmd->add_option("--categorical", args->encoding,
                  "how categorical columns reach the trees: native (XGBoost's categorical splits) | onehot")
      ->capture_default_str();
  cmd->add_option("--categorical-column", o.categorical_columns,
                  "read this column as categories even if it looks numeric (repeatable)");
  cmd->add_option("--exclude", o.exclude, "a column that is not an input, e.g. an id (repeatable)");
  cmd->add_option("--out", o.out_dir, "the model folder to write")->required();
  cmd->add_option("--metrics", o.metrics_path, "also write the validation metrics to this JSON file");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return Train(ctx, *args); }; });
}

}  // namespace

void RegisterTrainCommands(CLI::App& app, Context& ctx) {
  CLI::App* train = app.add_subcommand("train", "built-in trainers that write a model folder");
  train->require_subcommand(1);
  RegisterTrainXGBoost(train, ctx);
  RegisterPredictCommand(app, ctx);
}

}  // namespace keel::cli
