// `keel run|status|dag|checkout` and `keel params diff`.
#include <pthread.h>

#include <csignal>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/progress.h"
#include "core/parallel.h"
#include "pipeline/pipeline_service.h"
#include "registry/registry_service.h"
#include "tracking/run_recorder.h"
#include "tracking/tracking_service.h"

namespace keel::cli {
namespace {

struct Session {
  std::unique_ptr<Project> project;
  std::unique_ptr<ProgressSink> progress;
  std::unique_ptr<PipelineService> pipeline;
};

Result<Session> OpenSession(Context& ctx, ProgressSink* progress, RunObserver* observer) {
  Session s;
  KEEL_ASSIGN_OR_RETURN(s.project, Project::Open(ctx.env, ctx.cwd));
  s.pipeline = std::make_unique<PipelineService>(s.project.get(), progress, observer);
  return s;
}

std::string JoinReasons(const std::vector<std::string>& reasons) {
  std::string out;
  for (const std::string& r : reasons) out += (out.empty() ? "" : "; ") + r;
  return out;
}

// Prints a run as it happens. Stage output goes to stdout, or to stderr
// under --json so that stdout stays one JSON document.
class PrintingObserver final : public RunObserver {
 public:
  explicit PrintingObserver(bool json) : json_(json) {}

  void StageStarting(const StageReport& r) override {
    if (json_) return;
    std::lock_guard<std::mutex> lock(mu_);
    switch (r.action) {
      case StageAction::kSkipped: std::cout << r.name << ": up to date\n"; break;
      case StageAction::kRestored:
        std::cout << r.name << ": restored from run-cache (" << JoinReasons(r.reasons) << ")\n";
        break;
      default: std::cout << r.name << ": running (" << JoinReasons(r.reasons) << ")\n"; break;
    }
    std::cout.flush();
  }

  void StageOutput(const std::string& stage, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::ostream& out = json_ ? std::cerr : std::cout;
    out << "[" << stage << "] " << line << "\n";
    out.flush();
  }

  void StageDone(const StageReport& r) override {
    if (json_ || r.action != StageAction::kFailed) return;
    std::lock_guard<std::mutex> lock(mu_);
    std::cout.flush();
    std::cerr << r.name << ": " << r.error << "\n";
  }

 private:
  const bool json_;
  std::mutex mu_;
};

// Turns SIGINT, SIGTERM and SIGHUP into a call on a thread of its own, so that the
// run can end its commands cleanly. Construct before starting any thread:
// threads inherit the blocked mask.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void(int)> on_signal) {
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR2}) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this, fn = std::move(on_signal)] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0 || sig == SIGUSR2) return;
        received_ = sig;
        fn(sig);
      }
    });
  }
  ~SignalWatcher() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  int received() const { return received_.load(); }

 private:
  sigset_t set_;
  sigset_t old_;
  std::atomic<int> received_{0};
  std::thread thread_;
};

struct RunFlags {
  std::vector<std::string> targets;
  bool downstream = false;
  bool force = false;
  bool dry_run = false;
  bool no_run_cache = false;
  size_t jobs = 0;
  std::string experiment;
};

nlohmann::json ReportJson(const StageReport& r) {
  nlohmann::json j = {{"name", r.name}, {"action", std::string(StageActionName(r.action))}, {"reasons", r.reasons}};
  if (r.action == StageAction::kFailed) {
    j["exit_code"] = r.exit_code;
    j["error"] = r.error;
  }
  return j;
}

void PrintSummary(const RunReport& report) {
  std::map<std::string, int> counts;
  for (const StageReport& r : report.stages) ++counts[std::string(StageActionName(r.action))];
  std::string line;
  for (const auto& [action, n] : counts) line += (line.empty() ? "" : ", ") + std::to_string(n) + " " + action;
  std::cout << line << "\n";
  for (const StageReport& r : report.stages) {
    if (r.action == StageAction::kNotRun) std::cout << r.name << ": not run\n";
  }
}

// What the run's record says at the end.
keel::RunStatus FinalStatus(const RunReport& report) {
  if (report.interrupted) return keel::RunStatus::kKilled;
  for (const StageReport& r : report.stages) {
    if (r.action == StageAction::kFailed) return keel::RunStatus::kFailed;
  }
  return keel::RunStatus::kFinished;
}

keel::RunStatus FinalStatus(const Result<RunReport>& report) {
  return report.ok() ? FinalStatus(*report) : keel::RunStatus::kFailed;
}

// A tracked run around a pipeline run: the recorder observes the stages
// and passes what it sees on to the printer.
struct TrackedRun {
  std::unique_ptr<RunStore> store;
  std::unique_ptr<RunRecorder> recorder;
};

Result<TrackedRun> StartTracking(Context& ctx, Project* project, RunObserver* printer, const RunFlags& flags) {
  TrackedRun t;
  KEEL_ASSIGN_OR_RETURN(t.store, OpenProjectRunStore(*project));
  RecorderOptions options;
  options.experiment = flags.experiment;
  options.command = ctx.command_line;
  options.keel_version = KEEL_VERSION;
  TrackingService tracking(project, t.store.get());
  KEEL_ASSIGN_OR_RETURN(t.recorder, tracking.StartRecording(printer, std::move(options)));
  return t;
}

RunOptions OptionsOf(const RunFlags& flags) {
  RunOptions options;
  options.targets = flags.targets;
  options.selection = flags.downstream ? Selection::kWithDownstream : Selection::kWithUpstream;
  options.force = flags.force;
  options.dry_run = flags.dry_run;
  options.use_run_cache = !flags.no_run_cache;
  options.jobs = flags.jobs > 0 ? flags.jobs : UsableCores();
  return options;
}

nlohmann::json ModelsJson(const std::vector<PipelineModelResult>& models) {
  nlohmann::json out = nlohmann::json::array();
  for (const PipelineModelResult& m : models) {
    if (!m.status.ok()) {
      out.push_back({{"name", m.name}, {"error", m.status.message()}});
      continue;
    }
    const ModelVersion& v = m.result.version;
    out.push_back({{"name", m.name}, {"id", VersionId(v.model, v.version)}, {"version", v.version},
                   {"registered", m.result.registered}, {"digest", v.digest}});
  }
  return out;
}

void PrintModels(const std::vector<PipelineModelResult>& models) {
  for (const PipelineModelResult& m : models) {
    if (!m.status.ok()) continue;  // reported as the command's error
    std::string id = VersionId(m.name, m.result.version.version);
    if (m.result.registered) std::cout << "registered " << id << "\n";
    else std::cout << "model " << m.name << " unchanged (" << id << ")\n";
  }
}

// Registers keel.yaml's `model:` entries after a run that finished. The
// run's record is complete by then; a failure names the model and the run.
Status RegisterModels(Project* project, RunStore* runs, int64_t run_id, std::vector<PipelineModelResult>* out) {
  std::string context = "run " + std::to_string(run_id) + " finished, but ";
  Result<std::vector<ModelSpec>> specs = ReadPipelineModels(*project);
  if (!specs.ok()) return specs.status().WithPrefix(context + "its models could not be read");
  if (specs->empty()) return Status::Ok();
  Result<std::unique_ptr<ModelStore>> models = OpenProjectModelStore(*project);
  if (!models.ok()) return models.status().WithPrefix(context + "no model was registered");
  TrackingService tracking(project, runs);
  RegistryService registry(project, models->get(), &tracking);
  *out = registry.RegisterPipelineModels(*specs, run_id, CurrentUserName());
  for (const PipelineModelResult& m : *out) {
    if (!m.status.ok()) return m.status.WithPrefix(context + "model '" + m.name + "' was not registered");
  }
  return Status::Ok();
}

// Prints the report of a run (or dry run) that got through, on stdout.
void PrintRunResult(Context& ctx, const RunOptions& options, const RunReport& report, int64_t run_id,
                    const std::vector<PipelineModelResult>& models) {
  if (ctx.json) {
    nlohmann::json stages = nlohmann::json::array();
    for (const StageReport& r : report.stages) stages.push_back(ReportJson(r));
    nlohmann::json out = {{"stages", stages}, {"interrupted", report.interrupted}};
    if (run_id != 0) out["run_id"] = run_id;
    if (!models.empty()) out["models"] = ModelsJson(models);
    PrintJson(out);
    ctx.printed_json = true;
  } else if (options.dry_run) {
    for (const StageReport& r : report.stages) {
      std::cout << r.name << ": " << StageActionName(r.action);
      if (!r.reasons.empty()) std::cout << " (" << JoinReasons(r.reasons) << ")";
      std::cout << "\n";
    }
  } else {
    PrintSummary(report);
    if (run_id != 0) std::cout << "run " << run_id << ": " << RunStatusName(FinalStatus(report)) << "\n";
    PrintModels(models);
  }
}

// The error keel exits with after a run that was interrupted or had a
// stage fail; OK otherwise.
Status RunOutcome(const Context& ctx, const RunReport& report) {
  if (report.interrupted) {
    int sig = ctx.exit_code - 128;
    const char* name = sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM";
    return AbortedError(std::string("interrupted by ") + name + "; keel.lock records the stages that finished");
  }
  std::string failed;
  for (const StageReport& r : report.stages) {
    if (r.action == StageAction::kFailed) failed += (failed.empty() ? "" : "; ") + r.error;
  }
  return failed.empty() ? Status::Ok() : AbortedError(failed);
}

Status RunRun(Context& ctx, const RunFlags& flags) {
  RunOptions options = OptionsOf(flags);
  PrintingObserver printer(ctx.json);
  NullProgress progress;  // stages run side by side: one bar would be a mess
  // The watcher comes first: threads started later (the recorder's) inherit
  // its blocked signals. A signal before the pipeline exists is kept for it.
  std::mutex signal_mu;
  PipelineService* interruptible = nullptr;  // guarded by signal_mu
  int early_signal = 0;                      // guarded by signal_mu
  SignalWatcher watcher([&](int sig) {
    std::lock_guard<std::mutex> lock(signal_mu);
    if (interruptible != nullptr) interruptible->Interrupt(sig);
    else early_signal = sig;
  });
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Project> project, Project::Open(ctx.env, ctx.cwd));
  TrackedRun tracked;
  if (!flags.dry_run) {
    KEEL_ASSIGN_OR_RETURN(tracked, StartTracking(ctx, project.get(), &printer, flags));
    RunRecorder* recorder = tracked.recorder.get();
    options.stage_env = [recorder](const StageSpec& stage) { return recorder->StageEnv(stage); };
  }
  RunObserver* observer = tracked.recorder != nullptr ? static_cast<RunObserver*>(tracked.recorder.get()) : &printer;
  PipelineService pipeline(project.get(), &progress, observer);
  {
    std::lock_guard<std::mutex> lock(signal_mu);
    interruptible = &pipeline;
    if (early_signal != 0) pipeline.Interrupt(early_signal);
  }
  Result<RunReport> report = pipeline.Run(options);
  {
    std::lock_guard<std::mutex> lock(signal_mu);
    interruptible = nullptr;
  }
  if (watcher.received() != 0) ctx.exit_code = 128 + watcher.received();
  int64_t run_id = 0;
  if (tracked.recorder != nullptr) {
    Status recorded = tracked.recorder->Finish(FinalStatus(report), report.ok() ? &*report : nullptr);
    if (!recorded.ok()) std::cerr << "keel: warning: " << recorded.message() << "\n";
    run_id = tracked.recorder->run_id();
  }
  if (!report.ok()) return report.status();
  std::vector<PipelineModelResult> models;
  Status registered;
  if (run_id != 0 && FinalStatus(*report) == keel::RunStatus::kFinished) {
    registered = RegisterModels(project.get(), tracked.store.get(), run_id, &models);
  }
  PrintRunResult(ctx, options, *report, run_id, models);
  KEEL_RETURN_IF_ERROR(RunOutcome(ctx, *report));
  return registered;
}

Status ShowStatus(Context& ctx) {
  std::unique_ptr<ProgressSink> progress = MakeProgress();
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, progress.get(), nullptr));
  KEEL_ASSIGN_OR_RETURN(std::vector<StageStatus> stages, s.pipeline->StageStatuses());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const StageStatus& st : stages) {
      out.push_back({{"name", st.name}, {"state", st.up_to_date ? "up to date" : "stale"}, {"reasons", st.reasons}});
    }
    PrintJson({{"stages", out}});
    return Status::Ok();
  }
  bool all = true;
  for (const StageStatus& st : stages) {
    if (st.up_to_date) continue;
    all = false;
    std::cout << st.name << ": stale\n";
    for (const std::string& r : st.reasons) std::cout << "  " << r << "\n";
  }
  if (all) std::cout << "Pipeline is up to date (" << stages.size() << " stages).\n";
  return Status::Ok();
}

Status RunDag(Context& ctx, bool dot) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, nullptr, nullptr));
  KEEL_ASSIGN_OR_RETURN(std::vector<DagNode> nodes, s.pipeline->Graph());
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const DagNode& n : nodes) out.push_back({{"name", n.name}, {"upstream", n.upstream}});
    PrintJson({{"stages", out}});
  } else if (dot) {
    std::cout << "digraph keel {\n";
    for (const DagNode& n : nodes) {
      std::cout << "  \"" << n.name << "\";\n";
      for (const std::string& u : n.upstream) std::cout << "  \"" << u << "\" -> \"" << n.name << "\";\n";
    }
    std::cout << "}\n";
  } else {
    for (const DagNode& n : nodes) {
      std::cout << n.name;
      for (size_t i = 0; i < n.upstream.size(); ++i) std::cout << (i == 0 ? " <- " : ", ") << n.upstream[i];
      std::cout << "\n";
    }
  }
  return Status::Ok();
}

Status RunCheckout(Context& ctx, bool force) {
  std::unique_ptr<ProgressSink> progress = MakeProgress();
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, progress.get(), nullptr));
  KEEL_ASSIGN_OR_RETURN(PipelineCheckout result,
                        s.pipeline->Checkout(force ? CheckoutMode::kForce : CheckoutMode::kSafe));
  auto list = [](const std::vector<CheckoutResult>& results) {
    nlohmann::json out = nlohmann::json::array();
    for (const CheckoutResult& r : results) out.push_back({{"path", r.path}, {"changed", r.changed}});
    return out;
  };
  if (ctx.json) {
    PrintJson({{"outs", list(result.outs)}, {"data", list(result.data)}});
    return Status::Ok();
  }
  size_t unchanged = 0;
  for (const auto* results : {&result.outs, &result.data}) {
    for (const CheckoutResult& r : *results) {
      if (r.changed) std::cout << "restored " << r.path << "\n";
      else ++unchanged;
    }
  }
  std::cout << unchanged << " outs and data paths were already up to date\n";
  return Status::Ok();
}

Status RunParamsDiff(Context& ctx, const std::string& rev) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx, nullptr, nullptr));
  KEEL_ASSIGN_OR_RETURN(std::vector<ParamChange> changes, s.pipeline->ParamsDiff(rev));
  auto text = [](const std::optional<std::string>& v) { return v ? *v : std::string("-"); };
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const ParamChange& c : changes) {
      nlohmann::json j = {{"file", c.file}, {"key", c.key}, {"old", nullptr}, {"new", nullptr}};
      if (c.old_value) j["old"] = *c.old_value;
      if (c.new_value) j["new"] = *c.new_value;
      out.push_back(j);
    }
    PrintJson({{"changes", out}});
    return Status::Ok();
  }
  if (changes.empty()) {
    std::cout << "No param changed since " << rev << ".\n";
    return Status::Ok();
  }
  size_t width = 0;
  for (const ParamChange& c : changes) width = std::max(width, c.file.size() + 1 + c.key.size());
  for (const ParamChange& c : changes) {
    std::string name = c.file + " " + c.key;
    std::cout << name << std::string(width - name.size() + 2, ' ') << text(c.old_value) << " → "
              << text(c.new_value) << "\n";
  }
  return Status::Ok();
}

}  // namespace

void RegisterPipelineCommands(CLI::App& app, Context& ctx) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* run = app.add_subcommand("run", "run the pipeline in keel.yaml; unchanged stages are skipped");
  run->add_option("stages", flags->targets, "stages to run, with the stages they need (default: all)");
  run->add_flag("--downstream", flags->downstream, "run the named stages and every stage downstream of them");
  run->add_flag("--force,-f", flags->force, "run every selected stage, even if up to date");
  run->add_flag("--dry-run,-n", flags->dry_run, "say what would run and why; change nothing");
  run->add_flag("--no-run-cache", flags->no_run_cache, "run stages rather than restore their outs from earlier runs");
  run->add_option("--jobs,-j", flags->jobs,
                  "stages to run at once (default: the cores keel may run on)")
      ->check(CLI::PositiveNumber);
  run->add_option("--experiment,-e", flags->experiment, "the experiment the run belongs to (default: the project folder's name)");
  run->callback([&ctx, flags] { ctx.action = [&ctx, flags] { return RunRun(ctx, *flags); }; });

  CLI::App* status = app.add_subcommand("status", "say which stages are stale and why");
  status->callback([&ctx] { ctx.action = [&ctx] { return ShowStatus(ctx); }; });

  auto dot = std::make_shared<bool>(false);
  CLI::App* dag = app.add_subcommand("dag", "print the stage graph");
  dag->add_flag("--dot", *dot, "print it in Graphviz dot format");
  dag->callback([&ctx, dot] { ctx.action = [&ctx, dot] { return RunDag(ctx, *dot); }; });

  auto force = std::make_shared<bool>(false);
  CLI::App* checkout = app.add_subcommand("checkout", "restore every out keel.lock names and all tracked data");
  checkout->add_flag("--force,-f", *force, "overwrite changes that are not in the store");
  checkout->callback([&ctx, force] { ctx.action = [&ctx, force] { return RunCheckout(ctx, *force); }; });

  auto rev = std::make_shared<std::string>("HEAD");
  CLI::App* params = app.add_subcommand("params", "hyperparameters in params files");
  params->require_subcommand(1);
  CLI::App* diff = params->add_subcommand("diff", "show params changed since a git revision");
  diff->add_option("rev", *rev, "git revision to compare with (default: HEAD)");
  diff->callback([&ctx, rev] { ctx.action = [&ctx, rev] { return RunParamsDiff(ctx, *rev); }; });
}

}  // namespace keel::cli
