#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace keel {

unsigned WorkerThreads() {
  return std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
}

Status ParallelFor(size_t n, unsigned threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;
  auto worker = [&] {
    for (size_t i = next++; i < n && !failed.load(std::memory_order_relaxed); i = next++) {
      Status s = fn(i);
      if (s.ok()) continue;
      std::lock_guard lock(mu);
      if (first_error.ok()) first_error = s;
      failed = true;
    }
  };
  size_t count = std::min<size_t>(std::max(1u, threads), n);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < count; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return first_error;
}

}  // namespace keel
