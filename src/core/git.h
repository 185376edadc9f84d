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

// The contents of `path` (relative to the work tree) as committed at
// revision `rev` ("HEAD", "HEAD~2", a tag, a commit id) in the repository
// whose work tree is `work_tree`. Not found if the file is absent there;
// invalid argument if git does not know `rev`.
Result<std::string> ReadFileAtRevision(const std::string& work_tree, const std::string& rev,
                                       const std::string& path);

// How the work tree differs from HEAD.
struct WorkTreeState {
  bool dirty = false;      // changed, staged or untracked files (ignored ones aside)
  std::string diff_hash;   // "sha256:..." of that difference as a patch; empty if clean
};

// Compares the work tree at `work_tree` (with its index) to HEAD's tree; an
// unborn HEAD compares to an empty tree. Untracked files count, with their
// contents in the patch.
Result<WorkTreeState> DescribeWorkTree(const std::string& work_tree);

// Writes the files of commit `rev` into the folder `target` (created if
// missing), as `git archive | tar x` would: the repository, its index and
// its work tree are not touched. Invalid argument if git does not know
// `rev`.
Status ExportRevision(const std::string& work_tree, const std::string& rev, const std::string& target);

// "1.5.1": the libgit2 keel runs with.
std::string GitLibraryVersion();

}  // namespace keel
