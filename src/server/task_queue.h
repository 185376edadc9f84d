// A thread of its own for slow work a request asks for (loading a model
// for POST /api/v1/deployments), so that the I/O thread that received the
// request goes on serving its other connections meanwhile.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace keel::server {

class TaskQueue {
 public:
  TaskQueue();
  // Runs every task already posted, then stops the thread.
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Runs `task` on the queue's thread after the tasks posted before it.
  // Thread-safe.
  void Post(std::function<void()> task);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool ending_ = false;                       // guarded by mu_
  std::thread thread_;
};

}  // namespace keel::server
