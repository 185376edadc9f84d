// One Register function per command group; main.cc only builds the table.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/output.h"

namespace keel::cli {

void RegisterVersionCommand(CLI::App& app, Context& ctx);
void RegisterInitCommand(CLI::App& app, Context& ctx);
void RegisterDataCommands(CLI::App& app, Context& ctx);
void RegisterGcCommand(CLI::App& app, Context& ctx);
// `keel run|status|dag|checkout` and `keel params diff`.
void RegisterPipelineCommands(CLI::App& app, Context& ctx);
// `keel runs ...`, `keel metrics history` and `keel exp list`.
void RegisterTrackingCommands(CLI::App& app, Context& ctx);
// `keel train xgboost` and `keel predict`.
void RegisterTrainCommands(CLI::App& app, Context& ctx);
void RegisterPredictCommand(CLI::App& app, Context& ctx);
// `keel model ...`.
void RegisterModelCommands(CLI::App& app, Context& ctx);
// `keel model reproduce`, a subcommand of `model`.
void RegisterModelReproduceCommand(CLI::App* model, Context& ctx);
// `keel serve`.
void RegisterServeCommand(CLI::App& app, Context& ctx);

}  // namespace keel::cli
