// A model version loaded for serving, with the counters /metrics reports
// for it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/model.h"
#include "serving/batcher.h"
#include "serving/feature_layout.h"

namespace keel::serving {

// Latency histogram bucket bounds, in seconds (Prometheus `le`).
inline constexpr std::array<double, 14> kLatencyBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                           0.01,    0.025,  0.05,    0.1,   0.25,  0.5,   1.0};
// Batch size (rows per predict call) bucket bounds.
inline constexpr std::array<double, 9> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256};
// The HTTP statuses an inference can end with, counted per version.
inline constexpr std::array<int, 5> kCountedStatuses = {200, 400, 413, 500, 503};

// Lock-free counters; every member may be updated from any thread.
struct ModelStats {
  std::array<std::atomic<uint64_t>, kCountedStatuses.size()> requests{};
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> latency_buckets{};  // last: +Inf
  std::atomic<uint64_t> latency_sum_ns{0};
  std::array<std::atomic<uint64_t>, kBatchBuckets.size() + 1> batch_buckets{};
  std::atomic<uint64_t> batch_rows{0};
  std::atomic<uint64_t> shadow_requests{0};
  std::atomic<uint64_t> shadow_disagreements{0};  // rows whose predicted class or value differs
  std::atomic<uint64_t> shadow_errors{0};         // requests the shadow could not answer

  void CountRequest(int http_status, uint64_t latency_ns);
  // A request answered without being timed (refused from its header).
  void CountStatus(int http_status);
  void CountBatch(uint64_t rows);
};

struct ServedModel {
  // With batch.max_rows > 0, concurrent requests are merged (batcher).
  ServedModel(std::string name, std::string version, std::unique_ptr<runtime::Model> model, BatchOptions batch = {})
      : name(std::move(name)), version(std::move(version)), model(std::move(model)),
        layout(this->model->signature()),
        batcher(batch.max_rows == 0 ? nullptr
                                    : std::make_unique<Batcher>(this->model.get(), batch,
                                                                [this](size_t rows) { stats.CountBatch(rows); })) {}

  std::string id() const { return name + "@" + version; }

  const std::string name;     // "census"
  const std::string version;  // "8"
  const std::unique_ptr<runtime::Model> model;
  const FeatureLayout layout;
  mutable ModelStats stats;
  const std::unique_ptr<Batcher> batcher;  // null: each request predicts alone
};

}  // namespace keel::serving
