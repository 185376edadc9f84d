// `keel runs list|show|compare|log|tag|untag|note|delete|restore|purge`,
// `keel metrics history` and `keel exp list`.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "tracking/tracking_service.h"

namespace keel::cli {
namespace {

struct Tracking {
  std::unique_ptr<Project> project;
  std::unique_ptr<RunStore> store;
  std::unique_ptr<TrackingService> service;
};

Result<Tracking> OpenTracking(Context& ctx) {
  Tracking t;
  KEEL_ASSIGN_OR_RETURN(t.project, Project::Open(ctx.env, ctx.cwd));
  KEEL_ASSIGN_OR_RETURN(t.store, OpenProjectRunStore(*t.project));
  t.service = std::make_unique<TrackingService>(t.project.get(), t.store.get());
  return t;
}

std::string FormatDuration(const RunInfo& r) {
  if (r.end_ns == 0) return "-";
  double s = static_cast<double>(r.end_ns - r.start_ns) / 1e9;
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

std::string ShortCommit(const RunInfo& r) {
  if (r.git_commit.empty()) return r.git_dirty ? "*" : "-";
  return r.git_commit.substr(0, 7) + (r.git_dirty ? "*" : "");
}

nlohmann::json MetricJson(double v) {
  if (std::isfinite(v)) return v;
  return FormatMetric(v);
}

nlohmann::json InfoJson(const RunInfo& r) {
  return {{"id", r.id},
          {"experiment", r.experiment},
          {"status", std::string(RunStatusName(r.status))},
          {"start_time", r.start_ns / 1000000},
          {"end_time", r.end_ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(r.end_ns / 1000000)},
          {"git_commit", r.git_commit},
          {"git_dirty", r.git_dirty},
          {"diff_hash", r.diff_hash},
          {"host", r.host},
          {"pid", r.pid},
          {"command", r.command},
          {"note", r.note},
          {"deleted", r.deleted}};
}

nlohmann::json RunJson(const RunRecord& r, bool full, const std::vector<int64_t>& data_versions = {}) {
  nlohmann::json j = InfoJson(r.info);
  j["params"] = r.params;
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [k, p] : r.metrics) {
    metrics[k] = {{"value", MetricJson(p.value)}, {"step", p.step}, {"timestamp", p.timestamp_ms}};
  }
  j["metrics"] = metrics;
  j["tags"] = r.tags;
  if (!full) return j;
  nlohmann::json stages = nlohmann::json::array();
  for (const RunStage& s : r.stages) {
    stages.push_back({{"name", s.name}, {"action", s.action}, {"exit_code", s.exit_code}, {"error", s.error},
                      {"log", s.log_hash}, {"log_size", s.log_size}});
  }
  nlohmann::json inputs = nlohmann::json::array();
  for (size_t k = 0; k < r.inputs.size(); ++k) {
    const RunInput& i = r.inputs[k];
    int64_t version = k < data_versions.size() ? data_versions[k] : 0;
    inputs.push_back({{"stage", i.stage}, {"role", i.role}, {"path", i.path}, {"hash", i.hash}, {"size", i.size},
                      {"files", i.files},
                      {"data_version", version == 0 ? nlohmann::json(nullptr) : nlohmann::json(version)}});
  }
  nlohmann::json artifacts = nlohmann::json::array();
  for (const RunArtifact& a : r.artifacts) {
    artifacts.push_back({{"stage", a.stage}, {"name", a.name}, {"hash", a.hash}, {"size", a.size}});
  }
  j["stages"] = stages;
  j["inputs"] = inputs;
  j["artifacts"] = artifacts;
  j["environment"] = r.environment;
  return j;
}

// A --columns entry's value in `r`: "params.X", "metrics.X" or "tags.X".
std::string ColumnValue(const RunRecord& r, const std::string& column) {
  auto lookup = [](const std::map<std::string, std::string>& values, const std::string& key) {
    auto it = values.find(key);
    return it == values.end() ? std::string("-") : it->second;
  };
  if (column.rfind("params.", 0) == 0) return lookup(r.params, column.substr(7));
  if (column.rfind("tags.", 0) == 0) return lookup(r.tags, column.substr(5));
  auto it = r.metrics.find(column.substr(8));
  return it == r.metrics.end() ? "-" : FormatMetric(it->second.value);
}

Status CheckColumns(const std::vector<std::string>& columns) {
  for (const std::string& c : columns) {
    bool known = (c.rfind("params.", 0) == 0 && c.size() > 7) || (c.rfind("metrics.", 0) == 0 && c.size() > 8) ||
                 (c.rfind("tags.", 0) == 0 && c.size() > 5);
    if (!known) {
      return InvalidArgumentError("--columns: '" + c + "' is not params.NAME, metrics.NAME or tags.NAME");
    }
  }
  return Status::Ok();
}

struct ListFlags {
  std::string where;
  std::string sort;
  size_t limit = 0;
  std::vector<std::string> experiments;
  std::vector<std::string> columns;
  bool deleted = false;
};

Status ListRuns(Context& ctx, const ListFlags& flags) {
  KEEL_RETURN_IF_ERROR(CheckColumns(flags.columns));
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  ListRunsRequest request{flags.where, flags.sort, flags.limit, flags.experiments, flags.deleted};
  KEEL_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, t.service->ListRuns(request));
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const RunRecord& r : runs) out.push_back(RunJson(r, false));
    PrintJson({{"runs", out}});
    return Status::Ok();
  }
  if (runs.empty()) {
    std::cout << "No runs" << (flags.where.empty() ? "" : " match") << ".\n";
    return Status::Ok();
  }
  std::vector<std::string> columns = flags.columns.empty() ? DifferingColumns(runs) : flags.columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"id", "experiment", "status", "started (UTC)", "duration", "commit"};
  header.insert(header.end(), columns.begin(), columns.end());
  rows.push_back(header);
  for (const RunRecord& r : runs) {
    std::vector<std::string> row = {std::to_string(r.info.id), r.info.experiment,
                                    std::string(RunStatusName(r.info.status)) + (r.info.deleted ? " (deleted)" : ""),
                                    FormatUtcTime(r.info.start_ns / 1000000000), FormatDuration(r.info), ShortCommit(r.info)};
    for (const std::string& c : columns) row.push_back(ColumnValue(r, c));
    rows.push_back(std::move(row));
  }
  PrintTable(rows);
  return Status::Ok();
}

void PrintSection(const std::string& title, const std::map<std::string, std::string>& values) {
  if (values.empty()) return;
  std::cout << title << ":\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : values) rows.push_back({"  " + k, v});
  PrintTable(rows);
}

Status ShowRun(Context& ctx, const std::string& id) {
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  KEEL_ASSIGN_OR_RETURN(RunRecord r, t.service->GetRun(id));
  KEEL_ASSIGN_OR_RETURN(std::vector<int64_t> versions, t.service->DataVersionsOf(r));
  if (ctx.json) {
    PrintJson(RunJson(r, true, versions));
    return Status::Ok();
  }
  const RunInfo& i = r.info;
  std::cout << "run " << i.id << " (experiment " << i.experiment << ")" << (i.deleted ? ", deleted" : "") << "\n";
  std::vector<std::vector<std::string>> head = {
      {"status", std::string(RunStatusName(i.status))},
      {"started", FormatUtcTime(i.start_ns / 1000000000) + " UTC"},
      {"ended", i.end_ns == 0 ? "-" : FormatUtcTime(i.end_ns / 1000000000) + " UTC (" + FormatDuration(i) + ")"},
      {"git", i.git_commit.empty() ? "-" : i.git_commit},
      {"tree", !i.git_dirty ? "clean" : "dirty (" + i.diff_hash + ")"},
      {"host", i.host + " (pid " + std::to_string(i.pid) + ")"},
      {"command", i.command}};
  if (!i.note.empty()) head.push_back({"note", i.note});
  PrintTable(head);
  PrintSection("params", r.params);
  std::map<std::string, std::string> metrics;
  for (const auto& [k, p] : r.metrics) {
    metrics[k] = FormatMetric(p.value) + (p.step != 0 ? " (step " + std::to_string(p.step) + ")" : "");
  }
  PrintSection("metrics", metrics);
  PrintSection("tags", r.tags);
  if (!r.stages.empty()) {
    std::cout << "stages:\n";
    std::vector<std::vector<std::string>> rows;
    for (const RunStage& s : r.stages) {
      std::string log = s.log_hash.empty() ? "" : "output " + FormatBytes(s.log_size);
      rows.push_back({"  " + s.name, s.action, s.error.empty() ? log : s.error});
    }
    PrintTable(rows);
  }
  if (!r.inputs.empty()) {
    std::cout << "inputs:\n";
    std::vector<std::vector<std::string>> rows;
    for (size_t k = 0; k < r.inputs.size(); ++k) {
      const RunInput& in = r.inputs[k];
      rows.push_back({"  " + in.stage, in.role, in.path, in.hash.substr(0, 19), FormatBytes(in.size),
                      versions[k] == 0 ? "" : "data version " + std::to_string(versions[k])});
    }
    PrintTable(rows);
  }
  if (!r.artifacts.empty()) {
    std::cout << "artifacts:\n";
    std::vector<std::vector<std::string>> rows;
    for (const RunArtifact& a : r.artifacts) rows.push_back({"  " + a.stage, a.name, a.hash, FormatBytes(a.size)});
    PrintTable(rows);
  }
  PrintSection("environment", r.environment);
  return Status::Ok();
}

Status CompareRunsCommand(Context& ctx, const std::vector<std::string>& ids, bool only_differences) {
  if (ids.size() < 2) return InvalidArgumentError("compare needs at least two run ids");
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  std::vector<RunRecord> runs;
  for (const std::string& id : ids) {
    KEEL_ASSIGN_OR_RETURN(RunRecord r, t.service->GetRun(id));
    runs.push_back(std::move(r));
  }
  std::vector<ComparisonRow> rows = CompareRuns(runs);
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ComparisonRow& row : rows) {
      if (only_differences && !row.differs) continue;
      nlohmann::json values = nlohmann::json::array();
      for (const auto& v : row.values) values.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
      out.push_back({{"section", row.section}, {"key", row.key}, {"values", values}, {"differs", row.differs}});
    }
    nlohmann::json run_ids = nlohmann::json::array();
    for (const RunRecord& r : runs) run_ids.push_back(r.info.id);
    PrintJson({{"runs", run_ids}, {"rows", out}});
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> header = {"", ""};
  for (const RunRecord& r : runs) header.push_back("run " + std::to_string(r.info.id));
  table.push_back(header);
  std::string section;
  for (const ComparisonRow& row : rows) {
    if (only_differences && !row.differs) continue;
    if (row.section != section) {
      section = row.section;
      table.push_back({"", section + ":"});
    }
    std::vector<std::string> line = {row.differs ? "*" : "", "  " + row.key};
    for (const auto& v : row.values) {
      std::string text = v ? *v : "-";
      if (row.section == "inputs" && v) text = text.substr(0, 19);
      line.push_back(text);
    }
    table.push_back(std::move(line));
  }
  PrintTable(table);
  size_t differing = std::count_if(rows.begin(), rows.end(), [](const ComparisonRow& r) { return r.differs; });
  std::cout << differing << " of " << rows.size() << " values differ (marked *)\n";
  return Status::Ok();
}

// A sparkline of `points`, `width` cells wide: each cell the mean of its
// share of the points, scaled between their min and max.
std::string Sparkline(const std::vector<SeriesPoint>& points, size_t width) {
  static const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  std::vector<double> finite;
  for (const SeriesPoint& p : points) {
    if (std::isfinite(p.value)) finite.push_back(p.value);
  }
  if (finite.empty()) return "";
  width = std::min(width, finite.size());
  std::vector<double> cells(width, 0);
  for (size_t c = 0; c < width; ++c) {
    size_t from = c * finite.size() / width, to = (c + 1) * finite.size() / width;
    double sum = 0;
    for (size_t k = from; k < to; ++k) sum += finite[k];
    cells[c] = sum / static_cast<double>(to - from);
  }
  auto [lo, hi] = std::minmax_element(cells.begin(), cells.end());
  std::string out;
  for (double v : cells) {
    int level = *hi > *lo ? static_cast<int>((v - *lo) / (*hi - *lo) * 7.0 + 0.5) : 3;
    out += kBlocks[std::clamp(level, 0, 7)];
  }
  return out;
}

// Writes text to stdout in large pieces: a history can be a million lines.
class BufferedOut {
 public:
  ~BufferedOut() { Flush(); }
  std::string& buf() { return buf_; }
  void MaybeFlush() {
    if (buf_.size() > (1 << 20)) Flush();
  }
  void Flush() {
    std::fwrite(buf_.data(), 1, buf_.size(), stdout);
    buf_.clear();
  }

 private:
  std::string buf_;
};

// FormatUtcTime of ms timestamps, remembering the last second formatted.
class TimeFormatter {
 public:
  const std::string& Format(int64_t ms) {
    int64_t second = ms / 1000;
    if (second != second_ || text_.empty()) {
      second_ = second;
      text_ = FormatUtcTime(second);
    }
    return text_;
  }

 private:
  int64_t second_ = 0;
  std::string text_;
};

void AppendInt(int64_t v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// FormatMetric's text; quoted for JSON when it is not a JSON number.
void AppendMetric(double v, bool json, std::string* out) {
  if (!std::isfinite(v)) {
    if (json) out->push_back('"');
    out->append(FormatMetric(v));
    if (json) out->push_back('"');
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void PrintHistoryJson(const std::string& id, const std::string& name, const std::vector<SeriesPoint>& points) {
  BufferedOut out;
  out.buf() = "{\"run\":" + std::to_string(std::stoll(id)) + ",\"metric\":" + nlohmann::json(name).dump() +
              ",\"history\":[";
  std::string& buf = out.buf();
  for (size_t i = 0; i < points.size(); ++i) {
    const SeriesPoint& p = points[i];
    buf.append(i == 0 ? "{\"step\":" : ",{\"step\":");
    AppendInt(p.step, &buf);
    buf.append(",\"value\":");
    AppendMetric(p.value, /*json=*/true, &buf);
    buf.append(",\"timestamp\":");
    AppendInt(p.timestamp_ms, &buf);
    buf.push_back('}');
    out.MaybeFlush();
  }
  out.buf() += "]}\n";
}

Status MetricHistory(Context& ctx, const std::string& id, const std::string& name, bool plot_only) {
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  KEEL_ASSIGN_OR_RETURN(std::vector<SeriesPoint> points, t.service->MetricHistory(id, name));
  std::cout.flush();
  if (ctx.json) {
    PrintHistoryJson(id, name, points);
    return Status::Ok();
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const SeriesPoint& p : points) {
    if (std::isfinite(p.value)) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  }
  BufferedOut out;
  out.buf() = name + " of run " + id + ": " + std::to_string(points.size()) + " values";
  if (lo <= hi) out.buf() += ", min " + FormatMetric(lo) + ", max " + FormatMetric(hi);
  if (!points.empty()) out.buf() += ", last " + FormatMetric(points.back().value);
  out.buf() += "\n";
  std::string line = Sparkline(points, 60);
  if (!line.empty()) out.buf() += line + "\n";
  if (plot_only) return Status::Ok();
  out.buf() += "step\tvalue\ttime\n";
  TimeFormatter times;
  std::string& buf = out.buf();
  for (const SeriesPoint& p : points) {
    AppendInt(p.step, &buf);
    buf.push_back('\t');
    AppendMetric(p.value, /*json=*/false, &buf);
    buf.push_back('\t');
    buf.append(times.Format(p.timestamp_ms));
    buf.push_back('\n');
    out.MaybeFlush();
  }
  return Status::Ok();
}

Status StageLog(Context& ctx, const std::string& id, const std::string& stage) {
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  KEEL_ASSIGN_OR_RETURN(std::string log, t.service->StageLog(id, stage));
  if (ctx.json) {
    PrintJson({{"run", std::stoll(id)}, {"stage", stage}, {"output", log}});
  } else {
    std::cout << log;
  }
  return Status::Ok();
}

Status ListExperiments(Context& ctx) {
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  KEEL_ASSIGN_OR_RETURN(std::vector<ExperimentSummary> experiments, t.service->Experiments());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ExperimentSummary& e : experiments) {
      nlohmann::json last = e.last_start_ns == 0 ? nlohmann::json(nullptr) : nlohmann::json(e.last_start_ns / 1000000);
      out.push_back({{"name", e.name}, {"runs", e.runs}, {"last_run_time", last}});
    }
    PrintJson({{"experiments", out}});
    return Status::Ok();
  }
  if (experiments.empty()) {
    std::cout << "No experiments yet: `keel run` starts one.\n";
    return Status::Ok();
  }
  std::vector<std::vector<std::string>> rows = {{"experiment", "runs", "last run"}};
  for (const ExperimentSummary& e : experiments) {
    rows.push_back({e.name, std::to_string(e.runs), FormatUtcTime(e.last_start_ns / 1000000000)});
  }
  PrintTable(rows);
  return Status::Ok();
}

// Runs `change` and prints `done` (or {"ok": true, ...} under --json).
Status Change(Context& ctx, const std::function<Status(TrackingService&)>& change, const std::string& done) {
  KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
  KEEL_RETURN_IF_ERROR(change(*t.service));
  if (ctx.json) PrintJson({{"ok", true}, {"message", done}});
  else std::cout << done << "\n";
  return Status::Ok();
}

struct RunArgs {
  std::string id;
  std::vector<std::string> ids;
  std::string key;
  std::string value;
  bool flag = false;
};

void RegisterRunsList(CLI::App* runs, Context& ctx) {
  auto flags = std::make_shared<ListFlags>();
  CLI::App* cmd = runs->add_subcommand("list", "list runs, newest first; columns: the params and metrics that differ");
  cmd->add_option("--where,-w", flags->where, "a filter: 'metrics.auc > 0.9 and params.train.max_depth = 6'");
  cmd->add_option("--sort,-s", flags->sort, "sort key: -metrics.auc (descending), params.lr (ascending)");
  cmd->add_option("--limit,-n", flags->limit, "at most this many runs");
  cmd->add_option("--experiment,-e", flags->experiments, "only runs of this experiment (repeatable)");
  cmd->add_option("--columns,-c", flags->columns, "show these columns (params.X, metrics.Y, tags.Z) instead")
      ->delimiter(',');
  cmd->add_flag("--deleted", flags->deleted, "include deleted runs");
  cmd->callback([&ctx, flags] { ctx.action = [&ctx, flags] { return ListRuns(ctx, *flags); }; });
}

void RegisterRunsChanges(CLI::App* runs, Context& ctx) {
  auto a = std::make_shared<RunArgs>();
  CLI::App* cmd = runs->add_subcommand("tag", "set a tag on a run");
  cmd->add_option("id", a->id, "run id")->required();
  cmd->add_option("key", a->key, "tag name")->required();
  cmd->add_option("value", a->value, "tag value")->required();
  cmd->callback([&ctx, a] {
    ctx.action = [&ctx, a] {
      return Change(ctx, [a](TrackingService& s) { return s.SetTag(a->id, a->key, a->value); },
                    "run " + a->id + ": tag " + a->key + " = " + a->value);
    };
  });

  auto u = std::make_shared<RunArgs>();
  cmd = runs->add_subcommand("untag", "remove a tag from a run");
  cmd->add_option("id", u->id, "run id")->required();
  cmd->add_option("key", u->key, "tag name")->required();
  cmd->callback([&ctx, u] {
    ctx.action = [&ctx, u] {
      return Change(ctx, [u](TrackingService& s) { return s.RemoveTag(u->id, u->key); },
                    "run " + u->id + ": tag " + u->key + " removed");
    };
  });

  auto n = std::make_shared<RunArgs>();
  cmd = runs->add_subcommand("note", "set a run's note (an empty text clears it)");
  cmd->add_option("id", n->id, "run id")->required();
  cmd->add_option("text", n->value, "the note")->required();
  cmd->callback([&ctx, n] {
    ctx.action = [&ctx, n] {
      return Change(ctx, [n](TrackingService& s) { return s.SetNote(n->id, n->value); }, "run " + n->id + ": note set");
    };
  });

  auto d = std::make_shared<RunArgs>();
  cmd = runs->add_subcommand("delete", "hide runs from lists (restore brings them back; purge removes them)");
  cmd->add_option("ids", d->ids, "run ids")->required();
  cmd->callback([&ctx, d] {
    ctx.action = [&ctx, d] {
      std::string ids;
      for (const std::string& id : d->ids) ids += (ids.empty() ? "" : ", ") + id;
      return Change(ctx, [d](TrackingService& s) {
        for (const std::string& id : d->ids) KEEL_RETURN_IF_ERROR(s.Delete(id));
        return Status::Ok();
      }, "deleted run " + ids);
    };
  });

  auto r = std::make_shared<RunArgs>();
  cmd = runs->add_subcommand("restore", "bring deleted runs back");
  cmd->add_option("ids", r->ids, "run ids")->required();
  cmd->callback([&ctx, r] {
    ctx.action = [&ctx, r] {
      std::string ids;
      for (const std::string& id : r->ids) ids += (ids.empty() ? "" : ", ") + id;
      return Change(ctx, [r](TrackingService& s) {
        for (const std::string& id : r->ids) KEEL_RETURN_IF_ERROR(s.Restore(id));
        return Status::Ok();
      }, "restored run " + ids);
    };
  });

  cmd = runs->add_subcommand("purge", "remove deleted runs for good");
  cmd->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      KEEL_ASSIGN_OR_RETURN(Tracking t, OpenTracking(ctx));
      KEEL_ASSIGN_OR_RETURN(int64_t purged, t.service->PurgeDeleted());
      if (ctx.json) PrintJson({{"purged", purged}});
      else std::cout << "purged " << purged << " deleted run" << (purged == 1 ? "" : "s")
                     << "; `keel gc` frees their output and artifacts\n";
      return Status::Ok();
    };
  });
}

}  // namespace

void RegisterTrackingCommands(CLI::App& app, Context& ctx) {
  CLI::App* runs = app.add_subcommand("runs", "tracked runs: every `keel run` with its params, metrics and inputs");
  runs->require_subcommand(1);
  RegisterRunsList(runs, ctx);

  auto show = std::make_shared<RunArgs>();
  CLI::App* cmd = runs->add_subcommand("show", "everything recorded about a run");
  cmd->add_option("id", show->id, "run id")->required();
  cmd->callback([&ctx, show] { ctx.action = [&ctx, show] { return ShowRun(ctx, show->id); }; });

  auto compare = std::make_shared<RunArgs>();
  cmd = runs->add_subcommand("compare", "params, metrics and inputs of runs side by side; differences marked *");
  cmd->add_option("ids", compare->ids, "two or more run ids")->required();
  cmd->add_flag("--only-differences,-d", compare->flag, "show only the values that differ");
  cmd->callback([&ctx, compare] {
    ctx.action = [&ctx, compare] { return CompareRunsCommand(ctx, compare->ids, compare->flag); };
  });

  auto log = std::make_shared<RunArgs>();
  cmd = runs->add_subcommand("log", "print a stage's recorded output");
  cmd->add_option("id", log->id, "run id")->required();
  cmd->add_option("stage", log->key, "stage name")->required();
  cmd->callback([&ctx, log] { ctx.action = [&ctx, log] { return StageLog(ctx, log->id, log->key); }; });
  RegisterRunsChanges(runs, ctx);

  CLI::App* metrics = app.add_subcommand("metrics", "metrics of tracked runs");
  metrics->require_subcommand(1);
  auto history = std::make_shared<RunArgs>();
  cmd = metrics->add_subcommand("history", "every logged value of a metric, with a plot");
  cmd->add_option("id", history->id, "run id")->required();
  cmd->add_option("name", history->key, "metric name")->required();
  cmd->add_flag("--plot", history->flag, "only the summary and the plot, not the table");
  cmd->callback([&ctx, history] {
    ctx.action = [&ctx, history] { return MetricHistory(ctx, history->id, history->key, history->flag); };
  });

  CLI::App* exp = app.add_subcommand("exp", "experiments: named groups of runs");
  exp->require_subcommand(1);
  cmd = exp->add_subcommand("list", "experiments with their run counts");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return ListExperiments(ctx); }; });
}

}  // namespace keel::cli
