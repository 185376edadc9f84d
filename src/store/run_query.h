// Listing runs: a RunQuery turned into one SQL statement over the runs
// tables. Only store/ uses it.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/run_store.h"
#include "store/sqlite.h"

namespace keel {

// The runs matching `query`, sorted and limited as it says.
Result<std::vector<RunInfo>> QueryRuns(SqliteDb* db, const RunQuery& query);

// `text` as a number when all of it is one ("6", "0.1", "-1e3"), else nullopt.
std::optional<double> ParseFilterNumber(std::string_view text);

}  // namespace keel
