// `keel runs list --where` and `--sort`: the text a user types, parsed into
// the store's RunCondition and RunSort (docs/format/tracking.md, "Filter
// expressions"). Only syntax and types are checked here; whether any run has
// a metric or param of that name is the tracking service's question.
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/run_store.h"

namespace keel {

// Parses `CONDITION [and CONDITION]...`. Errors are invalid arguments that
// start with "--where: " and name the column (1-based) and the offending
// token, e.g.
//   --where: column 14: unknown operator '=='; expected =, !=, <, <=, >, >=, like or ilike
//   --where: unknown field 'metric.auc' (did you mean 'metrics.auc'?)
//   --where: metrics.auc is a number, but 'high' is a string
//   --where: like compares strings, but metrics.auc is a number
// An empty or all-blank text is no condition.
Result<std::vector<RunCondition>> ParseRunFilter(std::string_view text);

// Parses a sort key: "metrics.auc" or "+metrics.auc" (ascending),
// "-metrics.auc" (descending), also "metrics.auc desc" / "metrics.auc asc"
// as MLflow writes it. Errors start with "--sort: ".
Result<RunSort> ParseRunSort(std::string_view text);

// The attributes a filter or sort may name, in the order the docs list them.
const std::vector<std::string>& RunAttributeNames();

}  // namespace keel
