// `keel gc`.
#include <iostream>

#include "cli/commands.h"
#include "cli/progress.h"
#include "data/data_service.h"
#include "registry/registry_service.h"
#include "tracking/tracking_service.h"

namespace keel::cli {

namespace {
struct GcOptions {
  bool dry_run = false;
  bool workspace = false;
};

Status RunGc(Context& ctx, const GcOptions& opts) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<Project> project, Project::Open(ctx.env, ctx.cwd));
  std::unique_ptr<ProgressSink> progress = MakeProgress();
  DataService data(project.get(), progress.get());
  // Runs keep their stages' output and their artifacts until purged, model
  // versions their files until deleted.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<RunStore> runs, OpenProjectRunStore(*project));
  TrackingService tracking(project.get(), runs.get());
  // Live model versions keep their files; deleted ones release them.
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ModelStore> models, OpenProjectModelStore(*project));
  RegistryService registry(project.get(), models.get(), &tracking);
  auto keep = [&tracking, &registry]() -> Result<std::vector<Digest>> {
    KEEL_ASSIGN_OR_RETURN(std::vector<Digest> objects, tracking.ReferencedObjects());
    KEEL_ASSIGN_OR_RETURN(std::vector<Digest> model_objects, registry.ReferencedObjects());
    objects.insert(objects.end(), model_objects.begin(), model_objects.end());
    return objects;
  };
  KEEL_ASSIGN_OR_RETURN(GcReport report, data.Gc(opts.dry_run ? GcMode::kDryRun : GcMode::kDelete,
                                                 opts.workspace ? GcScope::kWorkspace : GcScope::kAllVersions,
                                                 keep));
  if (ctx.json) {
    nlohmann::json objects = nlohmann::json::array();
    for (const auto& [digest, size] : report.unreachable) {
      objects.push_back({{"hash", digest.ToString()}, {"size", size}});
    }
    PrintJson({{"dry_run", opts.dry_run}, {"unreachable", objects}, {"bytes", report.bytes},
               {"kept", report.kept}, {"temporaries_removed", report.temporaries}});
    return Status::Ok();
  }
  for (const auto& [digest, size] : report.unreachable) {
    std::cout << (opts.dry_run ? "would remove " : "removed ") << digest.ToString() << "  "
              << FormatBytes(size) << "\n";
  }
  std::cout << (opts.dry_run ? "Would remove " : "Removed ") << report.unreachable.size()
            << " unreachable objects (" << FormatBytes(report.bytes) << "); kept " << report.kept;
  if (report.temporaries > 0) std::cout << "; cleaned " << report.temporaries << " leftover temporary files";
  std::cout << "\n";
  return Status::Ok();
}
}  // namespace

void RegisterGcCommand(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<GcOptions>();
  CLI::App* cmd =
      app.add_subcommand("gc", "delete stored objects that no pointer, keel.lock, run or model version reaches");
  cmd->add_flag("--dry-run,-n", opts->dry_run, "list what would be deleted, delete nothing");
  cmd->add_flag("--workspace,-w", opts->workspace,
                "keep only what the workspace's pointers and keel.lock name (drop older data versions)");
  cmd->callback([&ctx, opts] { ctx.action = [&ctx, opts] { return RunGc(ctx, *opts); }; });
}

}  // namespace keel::cli
