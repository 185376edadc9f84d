#include "serving/batcher.h"

#include <algorithm>

namespace keel::serving {

namespace {

// Set on batcher threads: their ~Batcher cannot join a thread.
thread_local bool on_batcher_thread = false;

}  // namespace

Batcher::Batcher(const runtime::Model* model, BatchOptions options, OnBatch on_batch)
    : state_(std::make_shared<State>(model, options, std::move(on_batch))) {
  thread_ = std::thread([state = state_] {
    on_batcher_thread = true;
    state->Loop();
  });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
  }
  state_->wake.notify_one();
  if (on_batcher_thread) {
    thread_.detach();
  } else {
    thread_.join();
  }
}

void Batcher::Submit(std::span<const float> features, size_t rows, std::span<float> out, Done done) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->queue.push_back({features, rows, out, std::move(done), std::chrono::steady_clock::now()});
    state_->queued_rows += rows;
  }
  state_->wake.notify_one();
}

void Batcher::State::Loop() {
  for (;;) {
    // The batch's requests (and whatever their callbacks hold) are let go
    // of without the lock: that may destroy this batcher (see ~Batcher).
    std::vector<Item> batch;
    {
      std::unique_lock<std::mutex> lock(mu);
      wake.wait(lock, [this] { return stopping || !queue.empty(); });
      if (queue.empty()) return;  // stopping, nothing left
      // Wait for the batch to fill, up to the first request's deadline.
      const auto deadline = queue.front().queued + options.max_delay;
      wake.wait_until(lock, deadline, [this] { return stopping || queued_rows >= options.max_rows; });
      batch = TakeBatch();
    }
    Run(batch);
  }
}

// The oldest requests whose rows fit max_rows together; at least one.
std::vector<Batcher::Item> Batcher::State::TakeBatch() {
  std::vector<Item> batch;
  size_t rows = 0;
  while (!queue.empty() && (batch.empty() || rows + queue.front().rows <= options.max_rows)) {
    rows += queue.front().rows;
    queued_rows -= queue.front().rows;
    batch.push_back(std::move(queue.front()));
    queue.pop_front();
  }
  return batch;
}

void Batcher::State::Run(std::vector<Item>& batch) {
  const size_t width = model->OutputWidth();
  const size_t feature_count = model->signature().FeatureCount();
  if (batch.size() == 1) {
    // Alone (possibly over max_rows): in max_rows-row calls, in place.
    Item& item = batch[0];
    Status status;
    for (size_t start = 0; start < item.rows && status.ok(); start += options.max_rows) {
      const size_t rows = std::min(options.max_rows, item.rows - start);
      status = model->PredictInto(item.features.subspan(start * feature_count, rows * feature_count), rows,
                                  item.out.subspan(start * width, rows * width));
      on_batch(rows);
    }
    item.done(status);
    return;
  }
  size_t rows = 0;
  features.clear();
  for (const Item& item : batch) {
    features.insert(features.end(), item.features.begin(), item.features.end());
    rows += item.rows;
  }
  outputs.resize(rows * width);
  const Status status = model->PredictInto(features, rows, outputs);
  on_batch(rows);
  size_t offset = 0;
  for (Item& item : batch) {
    if (status.ok()) std::copy_n(outputs.begin() + offset, item.rows * width, item.out.begin());
    offset += item.rows * width;
    item.done(status);
  }
}

}  // namespace keel::serving
