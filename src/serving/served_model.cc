#include "serving/served_model.h"

#include <algorithm>

namespace keel::serving {

void ModelStats::CountStatus(int http_status) {
  auto status = std::find(kCountedStatuses.begin(), kCountedStatuses.end(), http_status);
  if (status == kCountedStatuses.end()) status = std::find(kCountedStatuses.begin(), kCountedStatuses.end(), 500);
  requests[status - kCountedStatuses.begin()].fetch_add(1, std::memory_order_relaxed);
}

void ModelStats::CountRequest(int http_status, uint64_t latency_ns) {
  CountStatus(http_status);
  const double seconds = static_cast<double>(latency_ns) * 1e-9;
  const size_t bucket = std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds) - kLatencyBuckets.begin();
  latency_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns.fetch_add(latency_ns, std::memory_order_relaxed);
}

void ModelStats::CountBatch(uint64_t rows) {
  const size_t bucket =
      std::lower_bound(kBatchBuckets.begin(), kBatchBuckets.end(), static_cast<double>(rows)) - kBatchBuckets.begin();
  batch_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  batch_rows.fetch_add(rows, std::memory_order_relaxed);
}

}  // namespace keel::serving
