// Running a DAG's selected stages in dependency order, several at once,
// through a StageRunner (as ninja's Builder drives a CommandRunner), so the
// ordering logic is tested with a fake runner.
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

#include "core/status.h"
#include "pipeline/dag.h"

namespace keel {

class StageRunner {
 public:
  virtual ~StageRunner() = default;
  // Starts stage `stage`; a later WaitAny reports its end. An error here is
  // an error of keel itself and ends the schedule.
  virtual Status Start(size_t stage) = 0;
  struct Finished {
    size_t stage = 0;
    bool ok = false;
  };
  // Blocks until a started stage ends.
  virtual Result<Finished> WaitAny() = 0;
};

enum class StageFate {
  kNotSelected,
  kSucceeded,
  kFailed,
  kBlocked,     // not started: a stage it needs failed
  kNotStarted,  // not started: the schedule was stopped
};

// Starts every selected stage once all its selected upstream stages
// succeeded, at most `jobs` at a time, until none is left. A failed stage
// blocks its downstream; independent stages go on. Once `*stop` is set no
// new stage starts, and running ones are waited for. Unselected upstream
// stages count as done. Returns each stage's fate.
Result<std::vector<StageFate>> Schedule(const Dag& dag, const std::vector<bool>& selected, size_t jobs,
                                        StageRunner* runner, const std::atomic<bool>* stop);

}  // namespace keel
