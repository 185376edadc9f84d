#include "core/git.h"

#include <git2.h>

#include <mutex>

namespace keel {
namespace {

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] { git_libgit2_init(); });
}

std::string LastGitError() {
  const git_error* err = git_error_last();
  return err != nullptr && err->message != nullptr ? err->message : "unknown libgit2 error";
}

}  // namespace

Result<GitInfo> DiscoverGit(const std::string& path) {
  InitLibgit2();
  GitInfo info;
  git_buf found = GIT_BUF_INIT;
  int rc = git_repository_discover(&found, path.c_str(), 0, nullptr);
  if (rc == GIT_ENOTFOUND) return info;
  if (rc != 0) return InternalError(path + ": git: " + LastGitError());
  git_repository* repo = nullptr;
  rc = git_repository_open(&repo, found.ptr);
  git_buf_dispose(&found);
  if (rc != 0) return InternalError(path + ": git: " + LastGitError());
  info.in_repository = true;
  if (const char* wd = git_repository_workdir(repo)) {
    info.work_tree = wd;
    while (info.work_tree.size() > 1 && info.work_tree.back() == '/') info.work_tree.pop_back();
  }
  git_oid oid;
  if (git_reference_name_to_id(&oid, repo, "HEAD") == 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof hex, &oid);
    info.head_commit = hex;
  }
  git_repository_free(repo);
  return info;
}

}  // namespace keel
