// The stage graph: which stage's outs another stage reads, in a checked,
// acyclic order.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pipeline/pipeline_file.h"

namespace keel {

enum class Direction { kUpstream, kDownstream };

class Dag {
 public:
  // Builds the graph of `spec`: stage B depends on stage A when one of B's
  // deps is, lies inside or holds one of A's outs. Fails, naming the place
  // in keel.yaml, on two stages declaring the same (or nested) outs, an out
  // that is also a dep of its own stage, a cycle ("cycle: a -> b -> a"), or
  // a dep that no stage produces and for which `exists(path)` is false.
  static Result<Dag> Build(const PipelineSpec& spec, const std::function<bool(const std::string&)>& exists);

  size_t size() const { return upstream_.size(); }
  // Stage indices into spec.stages, sorted.
  const std::vector<size_t>& upstream(size_t stage) const { return upstream_[stage]; }
  const std::vector<size_t>& downstream(size_t stage) const { return downstream_[stage]; }
  // Every stage, each after all its upstream; ties keep keel.yaml's order.
  const std::vector<size_t>& order() const { return order_; }

  // `targets` together with everything upstream (or downstream) of them.
  std::vector<bool> Closure(const std::vector<size_t>& targets, Direction direction) const;

 private:
  Status Link(const PipelineSpec& spec, const std::function<bool(const std::string&)>& exists);
  Status Sort(const PipelineSpec& spec);

  std::vector<std::vector<size_t>> upstream_;
  std::vector<std::vector<size_t>> downstream_;
  std::vector<size_t> order_;
};

}  // namespace keel
