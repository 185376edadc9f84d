#include "serving/batcher.h"

#include <algorithm>

namespace keel::serving {

Batcher::Batcher(const runtime::Model* model, BatchOptions options, OnBatch on_batch)
    : model_(model), options_(options), on_batch_(std::move(on_batch)) {
  thread_ = std::thread([this] { Loop(); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Batcher::Submit(std::span<const float> features, size_t rows, std::span<float> out, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({features, rows, out, std::move(done), std::chrono::steady_clock::now()});
    queued_rows_ += rows;
  }
  wake_.notify_one();
}

void Batcher::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Wait for the batch to fill, up to the first request's deadline.
    const auto deadline = queue_.front().queued + options_.max_delay;
    wake_.wait_until(lock, deadline, [this] { return stopping_ || queued_rows_ >= options_.max_rows; });
    std::vector<Item> batch = TakeBatch(lock);
    lock.unlock();
    Run(batch);
    lock.lock();
  }
}

// The oldest requests whose rows fit max_rows together; at least one.
std::vector<Batcher::Item> Batcher::TakeBatch(std::unique_lock<std::mutex>&) {
  std::vector<Item> batch;
  size_t rows = 0;
  while (!queue_.empty() && (batch.empty() || rows + queue_.front().rows <= options_.max_rows)) {
    rows += queue_.front().rows;
    queued_rows_ -= queue_.front().rows;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void Batcher::Run(std::vector<Item>& batch) {
  const size_t width = model_->OutputWidth();
  const size_t features = model_->signature().FeatureCount();
  if (batch.size() == 1) {
    // Alone (possibly over max_rows): in max_rows-row calls, in place.
    Item& item = batch[0];
    Status status;
    for (size_t start = 0; start < item.rows && status.ok(); start += options_.max_rows) {
      const size_t rows = std::min(options_.max_rows, item.rows - start);
      status = model_->PredictInto(item.features.subspan(start * features, rows * features), rows,
                                   item.out.subspan(start * width, rows * width));
      on_batch_(rows);
    }
    item.done(status);
    return;
  }
  size_t rows = 0;
  features_.clear();
  for (const Item& item : batch) {
    features_.insert(features_.end(), item.features.begin(), item.features.end());
    rows += item.rows;
  }
  outputs_.resize(rows * width);
  const Status status = model_->PredictInto(features_, rows, outputs_);
  on_batch_(rows);
  size_t offset = 0;
  for (Item& item : batch) {
    if (status.ok()) std::copy_n(outputs_.begin() + offset, item.rows * width, item.out.begin());
    offset += item.rows * width;
    item.done(status);
  }
}

}  // namespace keel::serving
