// keel: the command table. Each group lives in its own file.
#include <unistd.h>

#include <climits>
#include <iostream>

#include "cli/commands.h"

namespace {

// CLI11 reports a mistyped command as "A subcommand is required"; name the
// word and the choices instead.
std::string UnknownCommand(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  std::string path = "keel";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    std::vector<CLI::App*> subs = current->get_subcommands({});
    if (subs.empty()) return "";
    CLI::App* next = nullptr;
    std::string choices;
    for (CLI::App* sub : subs) {
      if (sub->get_name() == arg) next = sub;
      choices += (choices.empty() ? "" : ", ") + sub->get_name();
    }
    if (next == nullptr) {
      return "unknown command '" + arg + "' for `" + path + "` (expected one of: " + choices + ")";
    }
    current = next;
    path += " " + arg;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace keel::cli;
  Context ctx;
  ctx.env = keel::DefaultEnv();
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) {
    std::cerr << "keel: error: cannot read the current folder\n";
    return kExitInternal;
  }
  ctx.cwd = cwd;
  for (int i = 0; i < argc; ++i) ctx.command_line += (i == 0 ? "keel" : " " + std::string(argv[i]));

  CLI::App app{"keel: versioned data, pipelines, experiments, models and serving in one binary", "keel"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_flag("--json", ctx.json, "print machine-readable JSON on stdout");
  RegisterVersionCommand(app, ctx);
  RegisterInitCommand(app, ctx);
  RegisterDataCommands(app, ctx);
  RegisterGcCommand(app, ctx);
  RegisterPipelineCommands(app, ctx);
  RegisterTrackingCommands(app, ctx);
  RegisterTrainCommands(app, ctx);
  RegisterModelCommands(app, ctx);
  RegisterServeCommand(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string unknown = UnknownCommand(app, argc, argv);
    std::cerr << "keel: error: " << (unknown.empty() ? e.what() : unknown) << "\n";
    std::cerr << "run `keel --help` for usage\n";
    return kExitInvalidArgument;
  }
  if (!ctx.action) return kExitOk;
  keel::Status status = ctx.action();
  if (!status.ok()) {
    int code = ReportError(ctx, status);
    return ctx.exit_code != 0 ? ctx.exit_code : code;
  }
  return kExitOk;
}
