#include "core/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, ConstructorsSetCodeAndMessage) {
  struct Case {
    Status status;
    StatusCode code;
    const char* name;
  };
  const Case cases[] = {
      {InvalidArgumentError("m"), StatusCode::kInvalidArgument, "invalid argument"},
      {NotFoundError("m"), StatusCode::kNotFound, "not found"},
      {AlreadyExistsError("m"), StatusCode::kAlreadyExists, "already exists"},
      {FailedPreconditionError("m"), StatusCode::kFailedPrecondition, "failed precondition"},
      {CorruptError("m"), StatusCode::kCorrupt, "corrupt"},
      {UnavailableError("m"), StatusCode::kUnavailable, "unavailable"},
      {InternalError("m"), StatusCode::kInternal, "internal"},
      {AbortedError("m"), StatusCode::kAborted, "aborted"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.name;
    EXPECT_EQ(c.status.code(), c.code) << c.name;
    EXPECT_EQ(c.status.message(), "m") << c.name;
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(c.status.ToString(), std::string(c.name) + ": m");
  }
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "ok");
}

TEST(StatusTest, WithPrefixPrependsAndKeepsCode) {
  Status s = NotFoundError("data/a.csv: No such file or directory");
  Status p = s.WithPrefix("keel data add");
  EXPECT_EQ(p.code(), StatusCode::kNotFound);
  EXPECT_EQ(p.message(), "keel data add: data/a.csv: No such file or directory");
  // The original is unchanged.
  EXPECT_EQ(s.message(), "data/a.csv: No such file or directory");
  // Prefixes nest outermost first.
  EXPECT_EQ(p.WithPrefix("outer").message(),
            "outer: keel data add: data/a.csv: No such file or directory");
}

TEST(StatusTest, WithPrefixKeepsOkOk) {
  Status p = Status::Ok().WithPrefix("anything");
  EXPECT_TRUE(p.ok());
  EXPECT_EQ(p.message(), "");
}

TEST(ErrnoErrorTest, MapsErrnoToCodes) {
  struct Case {
    int err;
    StatusCode code;
  };
  const Case cases[] = {
      {ENOENT, StatusCode::kNotFound},
      {ENOSPC, StatusCode::kUnavailable},
      {EDQUOT, StatusCode::kUnavailable},
      {EAGAIN, StatusCode::kUnavailable},
      {EEXIST, StatusCode::kAlreadyExists},
      {EACCES, StatusCode::kFailedPrecondition},
      {EPERM, StatusCode::kFailedPrecondition},
      {ENOTDIR, StatusCode::kFailedPrecondition},
      {EISDIR, StatusCode::kFailedPrecondition},
      {EIO, StatusCode::kInternal},
      {EBADF, StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    Status s = ErrnoError("/data/x.csv", c.err);
    EXPECT_EQ(s.code(), c.code) << std::strerror(c.err);
  }
}

TEST(ErrnoErrorTest, MessageNamesPathAndReason) {
  Status s = ErrnoError("/data/x.csv", ENOENT);
  EXPECT_EQ(s.message(), std::string("/data/x.csv: ") + std::strerror(ENOENT));
  EXPECT_THAT(ErrnoError(".keel/objects/ab", ENOSPC).message(),
              ::testing::AllOf(StartsWith(".keel/objects/ab: "), HasSubstr("No space left")));
  EXPECT_THAT(ErrnoError("keel.lock", EIO).ToString(),
              ::testing::AllOf(StartsWith("internal: keel.lock: "), HasSubstr("error")));
}

TEST(ResultTest, HoldsValue) {
  Result<std::string> r(std::string("abc"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, "abc");
  EXPECT_EQ(r->size(), 3u);
  EXPECT_EQ(r.value(), "abc");
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "abc");
}

TEST(ResultTest, HoldsError) {
  Result<int> r(NotFoundError("x"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "x");
}

TEST(ResultTest, MoveOnlyValue) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

// Helpers exercising the macros; `calls` counts how far each got.
Status Step(bool fail, int* calls) {
  ++*calls;
  return fail ? UnavailableError("step failed") : Status::Ok();
}

Status TwoSteps(bool fail_first, bool fail_second, int* calls) {
  KEEL_RETURN_IF_ERROR(Step(fail_first, calls));
  KEEL_RETURN_IF_ERROR(Step(fail_second, calls));
  return Status::Ok();
}

Result<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgumentError(std::to_string(n) + " is odd");
  return n / 2;
}

Result<int> Quarter(int n, int* reached) {
  KEEL_ASSIGN_OR_RETURN(int half, Half(n));
  ++*reached;
  KEEL_ASSIGN_OR_RETURN(int quarter, Half(half));
  ++*reached;
  return quarter;
}

Result<std::unique_ptr<int>> MakeBox(int v) {
  return std::make_unique<int>(v);
}

Result<int> Unbox(int v) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(v));
  return *box;
}

TEST(MacrosTest, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  EXPECT_TRUE(TwoSteps(false, false, &calls).ok());
  EXPECT_EQ(calls, 2);

  calls = 0;
  Status s = TwoSteps(true, false, &calls);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "step failed");
  EXPECT_EQ(calls, 1);

  calls = 0;
  EXPECT_EQ(TwoSteps(false, true, &calls).code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 2);
}

TEST(MacrosTest, AssignOrReturnAssignsOrPropagates) {
  int reached = 0;
  Result<int> ok = Quarter(12, &reached);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(reached, 2);

  reached = 0;
  Result<int> first = Quarter(7, &reached);
  EXPECT_EQ(first.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(first.status().message(), "7 is odd");
  EXPECT_EQ(reached, 0);

  reached = 0;
  Result<int> second = Quarter(6, &reached);
  EXPECT_EQ(second.status().message(), "3 is odd");
  EXPECT_EQ(reached, 1);
}

TEST(MacrosTest, AssignOrReturnMovesMoveOnlyValues) {
  Result<int> r = Unbox(42);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 42);
}

}  // namespace
}  // namespace keel
