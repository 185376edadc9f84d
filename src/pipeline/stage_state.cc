#include "pipeline/stage_state.h"

#include <algorithm>

namespace keel {
namespace {

// Walks two path-sorted lists side by side.
template <typename OnlyOld, typename OnlyNew, typename Both>
void Merge(const std::vector<LockedPath>& old_list, const std::vector<LockedPath>& new_list, OnlyOld only_old,
           OnlyNew only_new, Both both) {
  size_t i = 0, j = 0;
  while (i < old_list.size() || j < new_list.size()) {
    if (j == new_list.size() || (i < old_list.size() && old_list[i].path < new_list[j].path)) {
      only_old(old_list[i++]);
    } else if (i == old_list.size() || new_list[j].path < old_list[i].path) {
      only_new(new_list[j++]);
    } else {
      both(old_list[i++], new_list[j++]);
    }
  }
}

void ExplainParams(const LockedStage& now, const LockedStage& locked, const std::string& default_file,
                   std::vector<std::string>* reasons) {
  auto name = [&](const std::string& file, const std::string& key) {
    return file == default_file ? key : file + ":" + key;
  };
  static const std::map<std::string, std::string> kNone;
  std::vector<std::string> files;
  for (const auto& [f, v] : now.params) files.push_back(f);
  for (const auto& [f, v] : locked.params) files.push_back(f);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  for (const std::string& file : files) {
    auto n = now.params.find(file);
    auto l = locked.params.find(file);
    const auto& new_values = n == now.params.end() ? kNone : n->second;
    const auto& old_values = l == locked.params.end() ? kNone : l->second;
    for (const auto& [key, value] : old_values) {
      auto it = new_values.find(key);
      if (it == new_values.end()) reasons->push_back("param " + name(file, key) + " removed");
      else if (it->second != value) reasons->push_back("param " + name(file, key) + " " + value + " → " + it->second);
    }
    for (const auto& [key, value] : new_values) {
      if (!old_values.count(key)) reasons->push_back("param " + name(file, key) + " added");
    }
  }
}

}  // namespace

std::vector<std::string> ExplainChanges(const LockedStage& now, const LockedStage* locked,
                                        const std::vector<std::string>& missing_deps,
                                        const std::string& default_params_file) {
  std::vector<std::string> reasons;
  if (locked == nullptr) return {"never run"};
  if (now.cmd != locked->cmd) reasons.push_back("cmd changed");
  if (now.wdir != locked->wdir) reasons.push_back("wdir changed");
  for (const auto& [k, v] : locked->env) {
    auto it = now.env.find(k);
    if (it == now.env.end() || it->second != v) reasons.push_back("env " + k + " changed");
  }
  for (const auto& [k, v] : now.env) {
    if (!locked->env.count(k)) reasons.push_back("env " + k + " changed");
  }
  auto is_missing = [&](const std::string& p) {
    return std::find(missing_deps.begin(), missing_deps.end(), p) != missing_deps.end();
  };
  Merge(
      locked->deps, now.deps, [&](const LockedPath& d) { reasons.push_back("dep " + d.path + " removed"); },
      [&](const LockedPath& d) {
        reasons.push_back("dep " + d.path + (is_missing(d.path) ? " missing" : " added"));
      },
      [&](const LockedPath& old_dep, const LockedPath& new_dep) {
        if (is_missing(new_dep.path)) reasons.push_back("dep " + new_dep.path + " missing");
        else if (old_dep.digest != new_dep.digest) reasons.push_back("dep " + new_dep.path + " changed");
      });
  ExplainParams(now, *locked, default_params_file, &reasons);
  Merge(
      locked->outs, now.outs, [&](const LockedPath& o) { reasons.push_back("out " + o.path + " removed"); },
      [&](const LockedPath& o) { reasons.push_back("out " + o.path + " added"); },
      [&](const LockedPath& old_out, const LockedPath& new_out) {
        if (old_out.cache != new_out.cache) reasons.push_back("out " + new_out.path + " cache setting changed");
      });
  return reasons;
}

}  // namespace keel
