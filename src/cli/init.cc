// `keel init` and `keel version`.
#include <iostream>

#include "cli/commands.h"
#include "data/project.h"

namespace keel::cli {

void RegisterVersionCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("version", "print keel's version");
  cmd->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      if (ctx.json) {
        PrintJson({{"version", KEEL_VERSION}});
      } else {
        std::cout << "keel " << KEEL_VERSION << "\n";
      }
      return Status::Ok();
    };
  });
}

void RegisterInitCommand(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand("init", "make the current folder a keel project (.keel/)");
  cmd->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      KEEL_ASSIGN_OR_RETURN(Project::InitResult r, Project::Init(ctx.env, ctx.cwd));
      if (ctx.json) {
        PrintJson({{"root", r.root}, {"created", r.created}, {"git", r.in_git}});
      } else if (r.created) {
        std::cout << "Initialized keel project in " << r.root << "/.keel"
                  << (r.in_git ? "" : " (not a git repository: pointer files will not be versioned until you `git init`)")
                  << "\n";
      } else {
        std::cout << "keel project already initialized in " << r.root << "/.keel\n";
      }
      return Status::Ok();
    };
  });
}

}  // namespace keel::cli
