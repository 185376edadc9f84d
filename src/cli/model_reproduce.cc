// `keel model reproduce ID`: rebuild a version from its lineage and compare.
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "cli/registry_open.h"
#include "registry/reproduce.h"

namespace keel::cli {
namespace {

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "keel";
}

// Runs this keel binary in `dir`, with its folder first on PATH so that
// stage commands calling `keel` run the same one; its output goes to
// stderr, indented.
Status RunSelf(Env* env, const std::string& dir, const std::vector<std::string>& args) {
  std::string self = SelfPath();
  ProcessOptions options;
  options.argv = {self};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.cwd = dir;
  const char* path = std::getenv("PATH");
  options.env.emplace_back("PATH", self.substr(0, self.rfind('/')) + (path ? std::string(":") + path : ""));
  std::cerr << "  $ keel";
  for (const std::string& a : args) std::cerr << " " << a;
  std::cerr << "\n";
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, env->StartProcess(options));
  char buf[8192];
  bool line_start = true;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(size_t n, child->ReadOutput(buf, sizeof buf));
    if (n == 0) break;
    for (size_t i = 0; i < n; ++i) {
      if (line_start) std::cerr << "  | ";
      std::cerr << buf[i];
      line_start = buf[i] == '\n';
    }
  }
  KEEL_ASSIGN_OR_RETURN(int code, child->Wait());
  if (code != 0) return AbortedError("`keel " + args.front() + "` exited with " + std::to_string(code));
  return Status::Ok();
}

std::string Value(const std::optional<std::string>& v) { return v ? *v : "-"; }

Status Reproduce(Context& ctx, const std::string& id, bool keep) {
  KEEL_ASSIGN_OR_RETURN(Registry r, OpenRegistry(ctx));
  KeelRunner runner = [&ctx](const std::string& dir, const std::vector<std::string>& args) {
    return RunSelf(ctx.env, dir, args);
  };
  KEEL_ASSIGN_OR_RETURN(ReproduceReport report,
                        keel::Reproduce(r.project.get(), r.service.get(), id,
                                        runner, keep ? KeepWorkDir::kYes : KeepWorkDir::kNo));
  std::string name = report.original.model + "@" + std::to_string(report.original.version);
  if (ctx.json) {
    nlohmann::json differences = nlohmann::json::array();
    for (const ComparisonRow& row : report.differences) {
      differences.push_back({{"section", row.section}, {"key", row.key},
                             {"registered", Value(row.values[0])}, {"rebuilt", Value(row.values[1])}});
    }
    PrintJson({{"model", name},
               {"identical", report.identical},
               {"model_file_identical", report.model_file_identical},
               {"digest", report.original.digest},
               {"rebuilt_digest", report.rebuilt.digest},
               {"differing_files", report.differing_files},
               {"model_file", report.original.model_file},
               {"registered_hash", report.original.model_hash},
               {"rebuilt_hash", report.rebuilt.model_hash},
               {"differences", differences},
               {"warnings", report.warnings},
               {"work_dir", keep ? nlohmann::json(report.work_dir) : nlohmann::json(nullptr)}});
  } else {
    for (const std::string& w : report.warnings) std::cerr << "keel: warning: " << w << "\n";
    if (report.identical) {
      std::cout << name << " reproduced: every file is bit-identical (" << report.original.digest << ")\n";
    } else {
      std::cout << name << " NOT reproduced: the rebuilt folder is " << report.rebuilt.digest << ", registered "
                << report.original.digest << "\n";
      if (!report.original.model_file.empty()) {
        std::cout << "  model file " << report.original.model_file
                  << (report.model_file_identical ? ": identical" : ": differs") << "\n";
      }
      for (const std::string& f : report.differing_files) std::cout << "  file " << f << ": differs\n";
    }
    for (const ComparisonRow& row : report.differences) {
      std::cout << "  " << row.section << " " << row.key << ": registered " << Value(row.values[0])
                << ", rebuilt " << Value(row.values[1]) << "\n";
    }
    if (keep) std::cout << "rebuilt in " << report.work_dir << "\n";
  }
  if (!report.identical) {
    ctx.printed_json = ctx.json;
    ctx.exit_code = kExitNotReproduced;
    return AbortedError(name + " was not reproduced bit for bit");
  }
  return Status::Ok();
}

}  // namespace

void RegisterModelReproduceCommand(CLI::App* model, Context& ctx) {
  struct Args {
    std::string id;
    bool keep = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = model->add_subcommand(
      "reproduce", "rebuild a version from its commit and data versions; say if it is bit-identical");
  cmd->add_option("id", args->id, "model ID: census@7, census@production")->required();
  cmd->add_flag("--keep", args->keep, "keep the folder it was rebuilt in");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return Reproduce(ctx, args->id, args->keep); }; });
}

}  // namespace keel::cli
