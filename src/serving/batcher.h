// Dynamic batching: concurrent requests for one model version merged into
// one predict call. A batch runs when it holds max_rows rows or when its
// first request has waited max_delay, whichever comes first; it never holds
// more than max_rows rows (a request larger than that runs alone, in
// max_rows-row calls).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "core/status.h"
#include "runtime/model.h"

namespace keel::serving {

struct BatchOptions {
  size_t max_rows = 0;  // 0: no batching
  std::chrono::microseconds max_delay{0};
};

class Batcher {
 public:
  // Called with the predict call's status once the request's outputs are
  // written; runs on the batcher's thread.
  using Done = std::function<void(Status)>;
  // Called with each predict call's row count (for the batch-size metric).
  using OnBatch = std::function<void(size_t rows)>;

  // REQUIRES: options.max_rows > 0. `model` must outlive the batcher.
  Batcher(const runtime::Model* model, BatchOptions options, OnBatch on_batch);
  // Runs what is queued, then stops its thread.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `rows` rows of `features` whose predictions go to `out` (rows x
  // OutputWidth()). Both spans must stay valid until `done` is called.
  // Thread-safe.
  void Submit(std::span<const float> features, size_t rows, std::span<float> out, Done done);

 private:
  struct Item {
    std::span<const float> features;
    size_t rows;
    std::span<float> out;
    Done done;
    std::chrono::steady_clock::time_point queued;
  };

  void Loop();
  std::vector<Item> TakeBatch(std::unique_lock<std::mutex>& lock);
  void Run(std::vector<Item>& batch);

  const runtime::Model* model_;
  const BatchOptions options_;
  const OnBatch on_batch_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queue_;  // guarded by mu_
  size_t queued_rows_ = 0;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::vector<float> features_;  // the batch thread's buffers
  std::vector<float> outputs_;
  std::thread thread_;
};

}  // namespace keel::serving
