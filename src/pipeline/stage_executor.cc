#include "pipeline/stage_executor.h"

#include <chrono>
#include <csignal>
#include <system_error>

namespace keel {

ThreadStageRunner::~ThreadStageRunner() {
  for (auto& [stage, t] : threads_) t.join();
}

Status ThreadStageRunner::Start(size_t stage) {
  if (std::optional<bool> done = decide_(stage)) {
    std::lock_guard<std::mutex> lock(mu_);
    finished_.push_back({stage, *done});
    return Status::Ok();
  }
  try {
    threads_.emplace(stage, std::thread([this, stage] {
      bool ok = work_(stage);
      std::lock_guard<std::mutex> lock(mu_);
      finished_.push_back({stage, ok});
      cv_.notify_one();
    }));
  } catch (const std::system_error& e) {
    return UnavailableError(std::string("cannot start a thread for a stage: ") + e.what());
  }
  return Status::Ok();
}

Result<StageRunner::Finished> ThreadStageRunner::WaitAny() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !finished_.empty(); });
  Finished f = finished_.front();
  finished_.pop_front();
  lock.unlock();
  // Its thread has nothing left to do but return: join it now, so a long
  // pipeline does not keep one finished thread per stage.
  auto it = threads_.find(f.stage);
  if (it != threads_.end()) {
    it->second.join();
    threads_.erase(it);
  }
  return f;
}

Result<std::unique_ptr<ChildProcess>> ChildGroup::Start(Env* env, const ProcessOptions& options) {
  // Held across the start, so Stop() either sees the child or makes the
  // start fail: no command slips past an interrupt.
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return AbortedError("interrupted");
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, env->StartProcess(options));
  running_.insert(child.get());
  return child;
}

void ChildGroup::Release(ChildProcess* child) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(child);
  released_.notify_all();
}

bool ChildGroup::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopped_;
}

void ChildGroup::Stop(int signal, int grace_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  stopped_ = true;
  for (ChildProcess* c : running_) (void)c->Signal(signal);
  bool gone = released_.wait_for(lock, std::chrono::milliseconds(grace_ms), [this] { return running_.empty(); });
  if (gone) return;
  for (ChildProcess* c : running_) (void)c->Signal(SIGKILL);
  released_.wait(lock, [this] { return running_.empty(); });
}

Result<int> RunShellCommand(Env* env, ChildGroup* group, const std::string& command, ProcessOptions options,
                            const std::function<void(std::string_view)>& on_line) {
  options.argv = {"/bin/sh", "-c", command};
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ChildProcess> child, group->Start(env, options));
  std::string pending;
  char buf[8192];
  Status read_status;
  for (;;) {
    Result<size_t> n = child->ReadOutput(buf, sizeof buf);
    if (!n.ok()) {
      read_status = n.status();
      break;
    }
    if (*n == 0) break;
    pending.append(buf, *n);
    size_t start = 0;
    for (size_t nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
      on_line(std::string_view(pending).substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) on_line(pending);
  Result<int> code = child->Wait();
  group->Release(child.get());
  KEEL_RETURN_IF_ERROR(read_status);
  return code;
}

}  // namespace keel
