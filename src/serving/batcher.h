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
#include <memory>
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

  // REQUIRES: options.max_rows > 0. `model` must outlive the batcher and
  // every request queued on it.
  Batcher(const runtime::Model* model, BatchOptions options, OnBatch on_batch);
  // Runs what is queued, then stops its thread. On a batcher's thread (a
  // done callback let go of the last owner of this batcher or of another)
  // it cannot wait for a thread to finish: it lets the thread stop by
  // itself, running what is still queued after the destructor returned.
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

  // What the batcher's thread uses, shared with it so that the thread can
  // outlive the batcher (see ~Batcher).
  struct State {
    State(const runtime::Model* model, BatchOptions options, OnBatch on_batch)
        : model(model), options(options), on_batch(std::move(on_batch)) {}
    void Loop();
    std::vector<Item> TakeBatch();  // REQUIRES: mu held
    void Run(std::vector<Item>& batch);

    const runtime::Model* model;
    const BatchOptions options;
    const OnBatch on_batch;
    std::mutex mu;
    std::condition_variable wake;
    std::deque<Item> queue;  // guarded by mu
    size_t queued_rows = 0;  // guarded by mu
    bool stopping = false;   // guarded by mu
    std::vector<float> features;  // the batch thread's buffers
    std::vector<float> outputs;
  };

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace keel::serving
