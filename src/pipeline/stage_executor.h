// The local executor's parts: a StageRunner that runs each stage's work on
// a thread of its own, the set of running commands that an interrupt ends,
// and running one shell command with its output split into lines.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/env.h"
#include "pipeline/scheduler.h"

namespace keel {

// Starts a stage by calling `decide(stage)` on the caller's thread: a value
// ends the stage at once (true: it succeeded) — most stages of a rerun are
// skipped, and need no thread. nullopt hands the stage to `work(stage)` on
// a new thread, whose result WaitAny reports. Joins every thread on
// destruction.
class ThreadStageRunner final : public StageRunner {
 public:
  ThreadStageRunner(std::function<std::optional<bool>(size_t)> decide, std::function<bool(size_t)> work)
      : decide_(std::move(decide)), work_(std::move(work)) {}
  ~ThreadStageRunner() override;

  Status Start(size_t stage) override;
  Result<Finished> WaitAny() override;

 private:
  std::function<std::optional<bool>(size_t)> decide_;
  std::function<bool(size_t)> work_;
  std::map<size_t, std::thread> threads_;  // by stage; used by the scheduler's thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Finished> finished_;  // guarded by mu_
};

// The commands running now. Stop() ends them all and refuses new ones.
// Thread-safe.
class ChildGroup {
 public:
  // Starts a command, unless Stop() was called (then aborted). The child is
  // tracked until Release.
  Result<std::unique_ptr<ChildProcess>> Start(Env* env, const ProcessOptions& options);
  // Stops tracking `child`, which its owner has waited for. REQUIRES: it
  // came from Start and is released once, before it is destroyed.
  void Release(ChildProcess* child);

  // Sends `signal` to every running command's process group and refuses
  // new ones; groups whose command is not released within `grace_ms` get
  // SIGKILL. Returns once every command has been released.
  void Stop(int signal, int grace_ms);
  bool stopped() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable released_;
  std::set<ChildProcess*> running_;  // guarded by mu_
  bool stopped_ = false;             // guarded by mu_
};

// Runs `command` with /bin/sh -c as `options` says (argv is set here),
// passing every line of its combined stdout and stderr (without the
// newline) to `on_line`. Returns its exit code (128 + signal if killed).
Result<int> RunShellCommand(Env* env, ChildGroup* group, const std::string& command, ProcessOptions options,
                            const std::function<void(std::string_view)>& on_line);

}  // namespace keel
