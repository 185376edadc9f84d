#include "core/parallel.h"

#include <sched.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
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

// The affinity mask is per thread, so a thread of the test's own narrows it.
TEST(ParallelForTest, UsableCoresFollowsTheAffinityMask) {
  cpu_set_t all;
  CPU_ZERO(&all);
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  EXPECT_EQ(UsableCores(), static_cast<unsigned>(CPU_COUNT(&all)));
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  bool refused = false;
  unsigned narrowed = 0;
  std::thread([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    refused = sched_setaffinity(0, sizeof one, &one) != 0;
    if (!refused) narrowed = UsableCores();
  }).join();
  ASSERT_FALSE(refused) << "sched_setaffinity to one core was refused";
  EXPECT_EQ(narrowed, 1u);
  // This thread's mask is unchanged.
  EXPECT_EQ(UsableCores(), static_cast<unsigned>(CPU_COUNT(&all)));
}

}  // namespace
}  // namespace keel
