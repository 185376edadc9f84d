#include "core/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace keel {
namespace {

TEST(ParallelForTest, CallsEveryIndexOnce) {
  std::vector<std::atomic<int>> calls(1000);
  ASSERT_TRUE(ParallelFor(calls.size(), 4, [&](size_t i) {
    ++calls[i];
    return Status::Ok();
  }).ok());
  for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
  EXPECT_TRUE(ParallelFor(0, 4, [](size_t) { return InternalError("never called"); }).ok());
}

TEST(ParallelForTest, ReturnsTheErrorAndSkipsUnstartedItems) {
  std::atomic<int> ran{0};
  Status s = ParallelFor(100000, 2, [&](size_t i) {
    ++ran;
    return i == 10 ? NotFoundError("item 10") : Status::Ok();
  });
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "item 10");
  EXPECT_LT(ran.load(), 100000);
}

TEST(ParallelForTest, WorkerThreadsIsBounded) {
  EXPECT_GE(WorkerThreads(), 2u);
  EXPECT_LE(WorkerThreads(), 8u);
}

}  // namespace
}  // namespace keel
