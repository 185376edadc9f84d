// `keel data add|status|checkout|verify`.
#include <ctime>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "cli/progress.h"
#include "core/paths.h"
#include "data/data_service.h"

namespace keel::cli {
namespace {

struct DataOptions {
  std::vector<std::string> paths;
  bool force = false;
};

// Opens the project and a progress bar for one command.
struct Session {
  std::unique_ptr<Project> project;
  std::unique_ptr<ProgressSink> progress;
  std::unique_ptr<DataService> data;
};

Result<Session> OpenSession(Context& ctx) {
  Session s;
  KEEL_ASSIGN_OR_RETURN(s.project, Project::Open(ctx.env, ctx.cwd));
  s.progress = MakeProgress();
  s.data = std::make_unique<DataService>(s.project.get(), s.progress.get());
  return s;
}

nlohmann::json PointerJson(const Pointer& p) {
  return {{"kind", std::string(DataKindName(p.kind))}, {"hash", p.digest.ToString()},
          {"size", p.size}, {"files", p.files}};
}

Status RunAdd(Context& ctx, const DataOptions& opts) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx));
  KEEL_ASSIGN_OR_RETURN(std::vector<AddResult> results, s.data->Add(ctx.cwd, opts.paths));
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const AddResult& r : results) {
      nlohmann::json j = PointerJson(r.pointer);
      j["path"] = r.path;
      j["pointer"] = r.pointer_path;
      j["objects_stored"] = r.objects_stored;
      j["version_id"] = r.version_id;
      out.push_back(j);
    }
    PrintJson(out);
    return Status::Ok();
  }
  for (const AddResult& r : results) {
    std::cout << "added " << r.path << "  " << r.pointer.digest.ToString().substr(0, 19) << "  "
              << FormatBytes(r.pointer.size);
    if (r.pointer.kind == DataKind::kDir) std::cout << ", " << r.pointer.files << " files";
    std::cout << "  (" << r.objects_stored << " new objects) -> " << r.pointer_path << "\n";
  }
  if (!results.empty()) {
    std::set<std::string> files;
    for (const AddResult& r : results) {
      files.insert(r.pointer_path);
      files.insert(JoinPath(DirName(r.path), ".gitignore"));
    }
    std::cout << "To track the changes with git, run:\n    git add";
    for (const std::string& f : files) std::cout << " " << f;
    std::cout << "\n";
  }
  return Status::Ok();
}

Status RunStatus(Context& ctx, const DataOptions& opts) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx));
  KEEL_ASSIGN_OR_RETURN(std::vector<DataStatus> statuses, s.data->StatusOf(ctx.cwd, opts.paths));
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const DataStatus& st : statuses) {
      nlohmann::json changes = nlohmann::json::array();
      for (const FileChange& c : st.changes) {
        changes.push_back({{"change", std::string(FileChangeKindName(c.kind))}, {"path", c.path}});
      }
      nlohmann::json j = PointerJson(st.pointer);
      j["path"] = st.path;
      j["pointer"] = st.pointer_path;
      j["state"] = std::string(DataStateName(st.state));
      j["changes"] = changes;
      out.push_back(j);
    }
    PrintJson(out);
    return Status::Ok();
  }
  if (statuses.empty()) std::cout << "no data tracked (add some with `keel data add PATH`)\n";
  for (const DataStatus& st : statuses) {
    std::string state(DataStateName(st.state));
    state.resize(17, ' ');
    std::cout << state << st.path << "\n";
    for (const FileChange& c : st.changes) {
      std::string kind(FileChangeKindName(c.kind));
      kind.resize(10, ' ');
      std::cout << "    " << kind << c.path << "\n";
    }
  }
  return Status::Ok();
}

Status RunCheckout(Context& ctx, const DataOptions& opts) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx));
  KEEL_ASSIGN_OR_RETURN(std::vector<CheckoutResult> results,
                        s.data->Checkout(ctx.cwd, opts.paths,
                                         opts.force ? CheckoutMode::kForce : CheckoutMode::kSafe));
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const CheckoutResult& r : results) {
      out.push_back({{"path", r.path}, {"changed", r.changed}, {"written", r.written}, {"removed", r.removed}});
    }
    PrintJson(out);
    return Status::Ok();
  }
  for (const CheckoutResult& r : results) {
    if (!r.changed) {
      std::cout << "unchanged  " << r.path << "\n";
    } else {
      std::cout << "restored   " << r.path << "  (" << r.written << " written, " << r.removed << " removed)\n";
    }
  }
  return Status::Ok();
}

Status RunVerify(Context& ctx) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx));
  KEEL_ASSIGN_OR_RETURN(VerifyReport report, s.data->Verify());
  if (ctx.json) {
    PrintJson({{"objects", report.objects}, {"bytes", report.bytes}, {"problems", report.problems},
               {"ok", report.problems.empty()}});
    ctx.printed_json = true;
  } else {
    for (const std::string& p : report.problems) std::cout << p << "\n";
    std::cout << "verified " << report.objects << " objects (" << FormatBytes(report.bytes) << "): "
              << (report.problems.empty() ? "all intact" : std::to_string(report.problems.size()) + " problems")
              << "\n";
  }
  if (report.problems.empty()) return Status::Ok();
  return CorruptError(std::to_string(report.problems.size()) + " problems in the store; first: " +
                      report.problems.front());
}

std::string FormatTime(int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1000000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

Status RunLog(Context& ctx, const DataOptions& opts) {
  KEEL_ASSIGN_OR_RETURN(Session s, OpenSession(ctx));
  std::string path = opts.paths.empty() ? "" : opts.paths.front();
  KEEL_ASSIGN_OR_RETURN(auto versions, s.data->Log(ctx.cwd, path));
  if (ctx.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [v, stored] : versions) {
      out.push_back({{"id", v.id}, {"path", v.path}, {"kind", v.kind}, {"hash", v.digest.ToString()},
                     {"size", v.size}, {"files", v.files}, {"created_at", FormatTime(v.created_at_ns)},
                     {"git_commit", v.git_commit}, {"stored", stored}});
    }
    PrintJson(out);
    return Status::Ok();
  }
  for (const auto& [v, stored] : versions) {
    std::cout << std::to_string(v.id) << "  " << FormatTime(v.created_at_ns) << "  " << v.path << "  "
              << v.digest.ToString().substr(0, 19) << "  " << FormatBytes(v.size);
    if (v.kind == "dir") std::cout << ", " << v.files << " files";
    if (!v.git_commit.empty()) std::cout << "  git " << v.git_commit.substr(0, 10);
    if (!stored) std::cout << "  (not in the store)";
    std::cout << "\n";
  }
  return Status::Ok();
}

}  // namespace

void RegisterDataCommands(CLI::App& app, Context& ctx) {
  CLI::App* data = app.add_subcommand("data", "version data files and folders");
  data->require_subcommand(1);

  auto add = std::make_shared<DataOptions>();
  CLI::App* cmd = data->add_subcommand("add", "store files or folders and write PATH.keel pointers");
  cmd->add_option("path", add->paths, "files or folders to track")->required();
  cmd->callback([&ctx, add] { ctx.action = [&ctx, add] { return RunAdd(ctx, *add); }; });

  auto status = std::make_shared<DataOptions>();
  cmd = data->add_subcommand("status", "compare tracked data with its pointers");
  cmd->add_option("pointer", status->paths, "pointers (PATH or PATH.keel); default: all");
  cmd->callback([&ctx, status] { ctx.action = [&ctx, status] { return RunStatus(ctx, *status); }; });

  auto checkout = std::make_shared<DataOptions>();
  cmd = data->add_subcommand("checkout", "restore the data that pointers name");
  cmd->add_option("pointer", checkout->paths, "pointers (PATH or PATH.keel); default: all");
  cmd->add_flag("--force,-f", checkout->force, "overwrite changes that are not in the store");
  cmd->callback([&ctx, checkout] { ctx.action = [&ctx, checkout] { return RunCheckout(ctx, *checkout); }; });

  auto log = std::make_shared<DataOptions>();
  cmd = data->add_subcommand("log", "list the recorded versions of tracked data, newest first");
  cmd->add_option("path", log->paths, "a tracked path (default: all)")->expected(0, 1);
  cmd->callback([&ctx, log] { ctx.action = [&ctx, log] { return RunLog(ctx, *log); }; });

  cmd = data->add_subcommand("verify", "rehash every stored object and check every pointer's objects");
  cmd->callback([&ctx] { ctx.action = [&ctx] { return RunVerify(ctx); }; });
}

}  // namespace keel::cli
