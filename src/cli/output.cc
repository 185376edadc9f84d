#include "cli/output.h"

#include <cstdio>
#include <iostream>

namespace keel::cli {

int ExitCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument: return kExitInvalidArgument;
    case StatusCode::kNotFound: return kExitNotFound;
    case StatusCode::kAlreadyExists: return kExitAlreadyExists;
    case StatusCode::kFailedPrecondition: return kExitFailedPrecondition;
    case StatusCode::kCorrupt: return kExitCorrupt;
    case StatusCode::kUnavailable: return kExitUnavailable;
    case StatusCode::kInternal: return kExitInternal;
    case StatusCode::kAborted: return kExitAborted;
  }
  return kExitInternal;
}

int ReportError(const Context& ctx, const Status& status) {
  std::fflush(stdout);
  std::cerr << "keel: error: " << status.message() << "\n";
  if (ctx.json && !ctx.printed_json) {
    PrintJson({{"error", status.message()}, {"code", std::string(StatusCodeName(status.code()))}});
  }
  return ExitCodeFor(status.code());
}

void PrintJson(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string FormatBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  return buf;
}

}  // namespace keel::cli
