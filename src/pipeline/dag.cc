#include "pipeline/dag.h"

#include <algorithm>
#include <map>
#include <set>

#include "core/paths.h"

namespace keel {
namespace {

struct OutOwner {
  size_t stage;
  const OutSpec* out;
};

// Outs by path, refusing duplicates and outs nested in other outs.
Result<std::map<std::string, OutOwner>> IndexOuts(const PipelineSpec& spec) {
  std::map<std::string, OutOwner> outs;
  for (size_t i = 0; i < spec.stages.size(); ++i) {
    for (const OutSpec& o : spec.stages[i].outs) {
      auto [it, inserted] = outs.emplace(o.path, OutOwner{i, &o});
      if (!inserted) {
        const StageSpec& other = spec.stages[it->second.stage];
        return InvalidArgumentError(o.where + ": out '" + o.path + "' is declared by both stage '" + other.name +
                                    "' (" + it->second.out->where + ") and stage '" + spec.stages[i].name + "'");
      }
    }
  }
  // An out nested in another: look for each out's folders among the outs.
  for (const auto& [path, owner] : outs) {
    for (std::string dir = DirName(path); !dir.empty(); dir = DirName(dir)) {
      auto outer = outs.find(dir);
      if (outer == outs.end()) continue;
      return InvalidArgumentError(owner.out->where + ": out '" + path + "' of stage '" +
                                  spec.stages[owner.stage].name + "' lies inside out '" + dir + "' of stage '" +
                                  spec.stages[outer->second.stage].name + "' (" + outer->second.out->where + ")");
    }
  }
  return outs;
}

// The stages whose outs `dep` reads: an out equal to it, holding it, or inside it.
std::vector<OutOwner> Producers(const std::map<std::string, OutOwner>& outs, const std::string& dep) {
  std::vector<OutOwner> found;
  for (std::string p = dep; !p.empty(); p = DirName(p)) {
    auto it = outs.find(p);
    if (it != outs.end()) found.push_back(it->second);
  }
  const std::string prefix = dep + "/";
  for (auto it = outs.lower_bound(prefix); it != outs.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    found.push_back(it->second);
  }
  return found;
}

}  // namespace

Result<Dag> Dag::Build(const PipelineSpec& spec, const std::function<bool(const std::string&)>& exists) {
  Dag dag;
  dag.upstream_.resize(spec.stages.size());
  dag.downstream_.resize(spec.stages.size());
  KEEL_RETURN_IF_ERROR(dag.Link(spec, exists));
  KEEL_RETURN_IF_ERROR(dag.Sort(spec));
  return dag;
}

Status Dag::Link(const PipelineSpec& spec, const std::function<bool(const std::string&)>& exists) {
  KEEL_ASSIGN_OR_RETURN(auto outs, IndexOuts(spec));
  for (size_t i = 0; i < spec.stages.size(); ++i) {
    const StageSpec& stage = spec.stages[i];
    std::set<size_t> ups;
    for (const DepSpec& dep : stage.deps) {
      std::vector<OutOwner> producers = Producers(outs, dep.path);
      for (const OutOwner& p : producers) {
        if (p.stage == i) {
          return InvalidArgumentError(dep.where + ": stage '" + stage.name + "': '" + dep.path +
                                      "' is both a dep and an out (" + p.out->where +
                                      "); a stage cannot read what it writes");
        }
        ups.insert(p.stage);
      }
      if (producers.empty() && !exists(dep.path)) {
        return InvalidArgumentError(dep.where + ": stage '" + stage.name + "': dep '" + dep.path +
                                    "' neither exists nor is an out of any stage");
      }
    }
    upstream_[i].assign(ups.begin(), ups.end());
    for (size_t u : ups) downstream_[u].push_back(i);
  }
  for (auto& d : downstream_) std::sort(d.begin(), d.end());
  return Status::Ok();
}

Status Dag::Sort(const PipelineSpec& spec) {
  // Depth-first from each stage in file order, visiting upstream first; a
  // stage met again while still on the path closes a cycle.
  enum class Mark { kNew, kOnPath, kDone };
  std::vector<Mark> mark(size(), Mark::kNew);
  std::vector<size_t> path;
  std::function<Status(size_t)> visit = [&](size_t s) -> Status {
    if (mark[s] == Mark::kDone) return Status::Ok();
    if (mark[s] == Mark::kOnPath) {
      // `path` runs against the data's flow (each entry is upstream of the
      // one before); name the cycle along it.
      auto start = std::find(path.begin(), path.end(), s);
      std::string cycle = spec.stages[s].name;
      for (auto it = path.end(); it != start + 1; --it) cycle += " -> " + spec.stages[*(it - 1)].name;
      cycle += " -> " + spec.stages[s].name;
      return InvalidArgumentError(spec.stages[s].where + ": cycle: " + cycle +
                                  " (each stage reads an out of the one before it)");
    }
    mark[s] = Mark::kOnPath;
    path.push_back(s);
    for (size_t u : upstream_[s]) KEEL_RETURN_IF_ERROR(visit(u));
    path.pop_back();
    mark[s] = Mark::kDone;
    order_.push_back(s);
    return Status::Ok();
  };
  for (size_t s = 0; s < size(); ++s) KEEL_RETURN_IF_ERROR(visit(s));
  return Status::Ok();
}

std::vector<bool> Dag::Closure(const std::vector<size_t>& targets, Direction direction) const {
  std::vector<bool> in(size(), false);
  std::vector<size_t> stack(targets.begin(), targets.end());
  while (!stack.empty()) {
    size_t s = stack.back();
    stack.pop_back();
    if (in[s]) continue;
    in[s] = true;
    const auto& next = direction == Direction::kUpstream ? upstream_[s] : downstream_[s];
    stack.insert(stack.end(), next.begin(), next.end());
  }
  return in;
}

}  // namespace keel
