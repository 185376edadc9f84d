// Why a stage is not up to date: its definition and inputs now, compared
// with its keel.lock entry, one reason a line ("param train.eta 0.1 → 0.2").
#pragma once

#include <string>
#include <vector>

#include "pipeline/lock_file.h"

namespace keel {

// The reasons `now` differs from `locked` (null: never run) in commands,
// wdir, env, deps, params and declared outs. `now` holds the stage's deps as
// hashed now (a dep absent from the workspace has an all-zero digest and is
// listed in `missing_deps`) and its outs as declared (hashes unset).
// `default_params_file` is named as a bare key in reasons, others as
// "FILE:KEY". Empty when they agree.
std::vector<std::string> ExplainChanges(const LockedStage& now, const LockedStage* locked,
                                        const std::vector<std::string>& missing_deps,
                                        const std::string& default_params_file);

}  // namespace keel
