#include "core/git.h"

#include <git2.h>

#include <mutex>

#include "core/hash.h"

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

Result<std::string> ReadFileAtRevision(const std::string& work_tree, const std::string& rev,
                                       const std::string& path) {
  InitLibgit2();
  git_repository* repo = nullptr;
  if (git_repository_open(&repo, work_tree.c_str()) != 0) {
    return InternalError(work_tree + ": git: " + LastGitError());
  }
  git_object* commit = nullptr;
  if (git_revparse_single(&commit, repo, (rev + "^{commit}").c_str()) != 0) {
    git_repository_free(repo);
    return InvalidArgumentError("git revision '" + rev + "' not found");
  }
  git_tree* tree = nullptr;
  git_tree_entry* entry = nullptr;
  int rc = git_commit_tree(&tree, reinterpret_cast<git_commit*>(commit));
  if (rc == 0) rc = git_tree_entry_bypath(&entry, tree, path.c_str());
  Result<std::string> out = NotFoundError(path + ": not in git revision " + rev);
  if (rc == 0 && git_tree_entry_type(entry) == GIT_OBJECT_BLOB) {
    git_blob* blob = nullptr;
    if (git_blob_lookup(&blob, repo, git_tree_entry_id(entry)) == 0) {
      out = std::string(static_cast<const char*>(git_blob_rawcontent(blob)),
                        static_cast<size_t>(git_blob_rawsize(blob)));
      git_blob_free(blob);
    } else {
      out = InternalError(path + ": git: " + LastGitError());
    }
  }
  git_tree_entry_free(entry);
  git_tree_free(tree);
  git_object_free(commit);
  git_repository_free(repo);
  return out;
}

Status ExportRevision(const std::string& work_tree, const std::string& rev, const std::string& target) {
  InitLibgit2();
  git_repository* repo = nullptr;
  if (git_repository_open(&repo, work_tree.c_str()) != 0) {
    return InternalError(work_tree + ": git: " + LastGitError());
  }
  git_object* commit = nullptr;
  if (git_revparse_single(&commit, repo, (rev + "^{commit}").c_str()) != 0) {
    git_repository_free(repo);
    return InvalidArgumentError("git revision '" + rev + "' not found");
  }
  git_checkout_options options = GIT_CHECKOUT_OPTIONS_INIT;
  // A target folder outside the work tree: files are written there and
  // neither the index nor HEAD changes.
  options.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
  options.target_directory = target.c_str();
  options.disable_filters = 0;
  Status status;
  if (git_checkout_tree(repo, commit, &options) != 0) {
    status = InternalError(target + ": git checkout of " + rev + ": " + LastGitError());
  }
  git_object_free(commit);
  git_repository_free(repo);
  return status;
}

namespace {

// Feeds one line of a patch to the hasher, as git_diff_to_buf would print it.
int HashPatchLine(const git_diff_delta*, const git_diff_hunk*, const git_diff_line* line, void* payload) {
  auto* state = static_cast<std::pair<Sha256*, bool>*>(payload);
  char origin = line->origin;
  if (origin == GIT_DIFF_LINE_CONTEXT || origin == GIT_DIFF_LINE_ADDITION || origin == GIT_DIFF_LINE_DELETION) {
    state->first->Update(std::string_view(&origin, 1));
  }
  state->first->Update(std::string_view(line->content, line->content_len));
  state->second = true;
  return 0;
}

}  // namespace

Result<WorkTreeState> DescribeWorkTree(const std::string& work_tree) {
  InitLibgit2();
  git_repository* repo = nullptr;
  if (git_repository_open(&repo, work_tree.c_str()) != 0) {
    return InternalError(work_tree + ": git: " + LastGitError());
  }
  // HEAD's tree, or none before the first commit.
  git_object* head = nullptr;
  (void)git_revparse_single(&head, repo, "HEAD^{tree}");
  git_diff_options options = GIT_DIFF_OPTIONS_INIT;
  options.flags = GIT_DIFF_INCLUDE_UNTRACKED | GIT_DIFF_RECURSE_UNTRACKED_DIRS | GIT_DIFF_SHOW_UNTRACKED_CONTENT |
                  GIT_DIFF_SHOW_BINARY;
  git_diff* diff = nullptr;
  int rc = git_diff_tree_to_workdir_with_index(&diff, repo, reinterpret_cast<git_tree*>(head), &options);
  // The patch is hashed as libgit2 prints it, never held whole: an
  // untracked data file may be large.
  Sha256 hasher;
  std::pair<Sha256*, bool> state(&hasher, false);
  if (rc == 0) rc = git_diff_print(diff, GIT_DIFF_FORMAT_PATCH, HashPatchLine, &state);
  Status status = rc == 0 ? Status::Ok() : InternalError(work_tree + ": git diff: " + LastGitError());
  git_diff_free(diff);
  git_object_free(head);
  git_repository_free(repo);
  KEEL_RETURN_IF_ERROR(status);
  WorkTreeState out;
  out.dirty = state.second;
  if (out.dirty) out.diff_hash = hasher.Finish().ToString();
  return out;
}

std::string GitLibraryVersion() {
  int major = 0, minor = 0, rev = 0;
  git_libgit2_version(&major, &minor, &rev);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(rev);
}

}  // namespace keel
