// The one adapter over libgit2: what keel records about the git repository
// a project lives in.
#pragma once

#include <string>

#include "core/status.h"

namespace keel {

struct GitInfo {
  bool in_repository = false;
  std::string work_tree;    // absolute, without a trailing '/'
  std::string head_commit;  // 40 hex digits; empty before the first commit
};

// Finds the git repository holding `path` (searching upwards). Outside any
// repository returns in_repository == false, not an error.
Result<GitInfo> DiscoverGit(const std::string& path);

}  // namespace keel
