// What the CLI prints and which exit code it returns: both decided here,
// in one place for every command.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/env.h"
#include "core/status.h"

namespace keel::cli {

// Exit codes, documented in docs/cli.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitInvalidArgument = 2,  // also usage errors
  kExitNotFound = 3,
  kExitAlreadyExists = 4,
  kExitFailedPrecondition = 5,
  kExitCorrupt = 6,
  kExitUnavailable = 7,
  kExitAborted = 8,  // a pipeline stage failed
  kExitNotReproduced = 9,  // `keel model reproduce` rebuilt something different
};
int ExitCodeFor(StatusCode code);

// Shared by every command's handler.
struct Context {
  Env* env = nullptr;
  std::string cwd;
  std::string command_line;  // as typed, for the run's record
  bool json = false;
  // Set by the parsed subcommand; run after parsing.
  std::function<Status()> action;
  // Set by a command that printed its JSON result before failing, so that
  // stdout stays one JSON document.
  bool printed_json = false;
  // Set by a command whose failure has an exit code of its own (an
  // interrupted `keel run`: 128 + the signal).
  int exit_code = 0;
};

// Prints `status` to stderr as "keel: error: <message>" (and, with --json,
// {"error": ..., "code": ...} to stdout). Returns its exit code.
int ReportError(const Context& ctx, const Status& status);
void PrintJson(const nlohmann::json& value);
// "1.5 MiB", "312 B".
std::string FormatBytes(uint64_t bytes);
// "2026-11-26 23:40:12": seconds since the epoch in UTC; "-" for 0 (never).
std::string FormatUtcTime(int64_t seconds);
// Prints rows of cells to stdout, columns padded to their widest cell
// (counted in UTF-8 code points), trailing spaces trimmed.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace keel::cli
