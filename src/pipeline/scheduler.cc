#include "pipeline/scheduler.h"

#include <algorithm>

namespace keel {

Result<std::vector<StageFate>> Schedule(const Dag& dag, const std::vector<bool>& selected, size_t jobs,
                                        StageRunner* runner, const std::atomic<bool>* stop) {
  const size_t n = dag.size();
  jobs = std::max<size_t>(jobs, 1);
  std::vector<StageFate> fate(n, StageFate::kNotSelected);
  std::vector<size_t> waiting_on(n, 0);  // selected upstream stages not yet succeeded
  std::vector<bool> started(n, false);
  for (size_t s = 0; s < n; ++s) {
    if (!selected[s]) continue;
    fate[s] = StageFate::kNotStarted;
    for (size_t u : dag.upstream(s)) waiting_on[s] += selected[u] ? 1 : 0;
  }
  size_t running = 0;
  // A failure blocks everything downstream, transitively.
  auto block = [&](size_t failed) {
    std::vector<size_t> stack(dag.downstream(failed).begin(), dag.downstream(failed).end());
    while (!stack.empty()) {
      size_t s = stack.back();
      stack.pop_back();
      if (!selected[s] || fate[s] == StageFate::kBlocked) continue;
      fate[s] = StageFate::kBlocked;
      stack.insert(stack.end(), dag.downstream(s).begin(), dag.downstream(s).end());
    }
  };
  for (;;) {
    bool stopping = stop != nullptr && stop->load();
    // Start what is ready, in topological order (keel.yaml's order on ties).
    for (size_t s : dag.order()) {
      if (stopping || running >= jobs) break;
      if (fate[s] != StageFate::kNotStarted || started[s] || waiting_on[s] > 0) continue;
      KEEL_RETURN_IF_ERROR(runner->Start(s));
      started[s] = true;
      ++running;
    }
    if (running == 0) break;
    KEEL_ASSIGN_OR_RETURN(StageRunner::Finished done, runner->WaitAny());
    --running;
    if (done.ok) {
      fate[done.stage] = StageFate::kSucceeded;
      for (size_t d : dag.downstream(done.stage)) {
        if (selected[d]) --waiting_on[d];
      }
    } else {
      fate[done.stage] = StageFate::kFailed;
      block(done.stage);
    }
  }
  return fate;
}

}  // namespace keel
