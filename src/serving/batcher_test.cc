#include "serving/batcher.h"

#include <atomic>
#include <future>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

namespace keel::serving {
namespace {

// out = the first feature + 1; records each call's row count.
class CountingModel : public runtime::Model {
 public:
  CountingModel() {
    signature_.task = runtime::Task::kRegression;
    signature_.inputs = {{"x", table::ColumnType::kNumeric, {}}, {"y", table::ColumnType::kNumeric, {}}};
  }
  const runtime::Signature& signature() const override { return signature_; }
  std::string_view Backend() const override { return "counting"; }
  Status PredictInto(std::span<const float> features, size_t rows, std::span<float> out) const override {
    EXPECT_EQ(features.size(), rows * 2);
    EXPECT_EQ(out.size(), rows);
    for (size_t r = 0; r < rows; ++r) out[r] = features[2 * r] + 1;
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back(rows);
    return Status::Ok();
  }
  std::vector<size_t> Calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls;
  }

 private:
  runtime::Signature signature_;
  mutable std::mutex mu_;
  mutable std::vector<size_t> calls;
};

struct Request {
  explicit Request(std::vector<float> f) : features(std::move(f)), out(features.size() / 2) {}
  std::vector<float> features;
  std::vector<float> out;
  std::promise<Status> done;
};

void Submit(Batcher& batcher, Request& r) {
  batcher.Submit(r.features, r.out.size(), r.out, [&r](Status s) { r.done.set_value(s); });
}

TEST(BatcherTest, AFullBatchRunsAtOnceAsOneCall) {
  CountingModel model;
  std::atomic<size_t> batched_rows{0};
  // A delay no test waits for: the batch must run because it is full.
  Batcher batcher(&model, {.max_rows = 4, .max_delay = std::chrono::hours(1)}, [&](size_t rows) { batched_rows += rows; });
  Request a({1, 0, 2, 0}), b({3, 0}), c({4, 0});
  Submit(batcher, a);
  Submit(batcher, b);
  Submit(batcher, c);
  for (Request* r : {&a, &b, &c}) EXPECT_TRUE(r->done.get_future().get().ok());
  EXPECT_EQ(model.Calls(), std::vector<size_t>{4});
  EXPECT_EQ(a.out, (std::vector<float>{2, 3}));
  EXPECT_EQ(b.out, std::vector<float>{4});
  EXPECT_EQ(c.out, std::vector<float>{5});
  EXPECT_EQ(batched_rows.load(), 4u);
}

TEST(BatcherTest, NeverMoreThanMaxRowsAndTheDelayEndsAPartialBatch) {
  CountingModel model;
  Batcher batcher(&model, {.max_rows = 4, .max_delay = std::chrono::milliseconds(20)}, [](size_t) {});
  Request a({1, 0, 1, 0, 1, 0}), b({2, 0, 2, 0});
  Submit(batcher, a);
  Submit(batcher, b);
  EXPECT_TRUE(a.done.get_future().get().ok());
  EXPECT_TRUE(b.done.get_future().get().ok());
  EXPECT_EQ(model.Calls(), (std::vector<size_t>{3, 2}));  // 3 + 2 > 4: two calls, the second after its delay
  EXPECT_EQ(b.out, (std::vector<float>{3, 3}));
}

TEST(BatcherTest, ARequestOverMaxRowsRunsAloneInMaxRowCalls) {
  CountingModel model;
  Batcher batcher(&model, {.max_rows = 4, .max_delay = std::chrono::microseconds(0)}, [](size_t) {});
  std::vector<float> features;
  for (int i = 0; i < 10; ++i) features.insert(features.end(), {static_cast<float>(i), 0});
  Request big(features);
  Submit(batcher, big);
  EXPECT_TRUE(big.done.get_future().get().ok());
  EXPECT_EQ(model.Calls(), (std::vector<size_t>{4, 4, 2}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(big.out[i], i + 1);
}

TEST(BatcherTest, DestructionRunsWhatIsQueued) {
  CountingModel model;
  Request a({1, 0});
  std::future<Status> done = a.done.get_future();
  {
    Batcher batcher(&model, {.max_rows = 8, .max_delay = std::chrono::hours(1)}, [](size_t) {});
    Submit(batcher, a);
  }
  EXPECT_TRUE(done.get().ok());
  EXPECT_EQ(a.out, std::vector<float>{2});
}

// A served version owns its batcher, and each queued request holds the
// version: the last request's callback may let go of the batcher's owner
// on the batcher's own thread. The batcher is then destroyed there without
// deadlocking or waiting for itself.
TEST(BatcherTest, ABatcherItsOwnRequestReleasesEndsOnItsThread) {
  struct Owner {
    // Declared first, destroyed last: tells the test the owner is gone.
    struct Gone {
      std::promise<void> promise;
      ~Gone() { promise.set_value(); }
    } gone;
    CountingModel model;
    std::unique_ptr<Batcher> batcher;
  };
  auto owner = std::make_shared<Owner>();
  std::future<void> gone = owner->gone.promise.get_future();
  owner->batcher = std::make_unique<Batcher>(&owner->model, BatchOptions{.max_rows = 4, .max_delay = {}}, [](size_t) {});
  Request a({1, 0});
  owner->batcher->Submit(a.features, 1, a.out, [&a, held = owner](Status s) { a.done.set_value(s); });
  owner.reset();  // only the queued request holds the owner now
  EXPECT_TRUE(a.done.get_future().get().ok());
  EXPECT_EQ(a.out, std::vector<float>{2});
  EXPECT_EQ(gone.wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

}  // namespace
}  // namespace keel::serving
