// Error values returned across every module boundary.
//
// A Status is either OK or a code plus a one-line message that names the
// file, field or value at fault. Result<T> holds a value or a non-OK Status.
// No exception crosses a module boundary: adapters around third-party code
// that throws catch and convert.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace keel {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is malformed or out of range
  kNotFound,            // a named file, object or record does not exist
  kAlreadyExists,       // creating something that exists
  kFailedPrecondition,  // the system is not in a state that allows this
  kCorrupt,             // stored data does not match its hash or format
  kUnavailable,         // a resource is temporarily unavailable (disk full, busy)
  kInternal,            // a bug or an unexpected system error
  kAborted,             // work that was started did not finish: a command failed or was interrupted
};

// Returns a stable lower-case name such as "invalid argument".
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "<prefix>: <message>"; OK stays OK.
  Status WithPrefix(std::string_view prefix) const;
  // "invalid argument: <message>" or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status FailedPreconditionError(std::string message);
Status CorruptError(std::string message);
Status UnavailableError(std::string message);
Status InternalError(std::string message);
Status AbortedError(std::string message);

// Maps an errno value from an operation on `what` (a path, usually) to a
// Status: ENOENT → not found, ENOSPC/EDQUOT/EAGAIN → unavailable, EEXIST →
// already exists, EACCES/EPERM/ENOTDIR/EISDIR → failed precondition, others
// internal. The message is "<what>: <strerror>".
Status ErrnoError(std::string_view what, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "Result built from an OK status has no value");
    if (status_.ok()) status_ = InternalError("Result constructed from OK status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok()
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace keel

#define KEEL_STATUS_CONCAT_INNER(a, b) a##b
#define KEEL_STATUS_CONCAT(a, b) KEEL_STATUS_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` (a Status) is not OK.
#define KEEL_RETURN_IF_ERROR(expr)              \
  do {                                          \
    ::keel::Status keel_status_ = (expr);       \
    if (!keel_status_.ok()) return keel_status_; \
  } while (0)

// `lhs = value of rexpr (a Result<T>)`, or returns its error.
#define KEEL_ASSIGN_OR_RETURN(lhs, rexpr) \
  KEEL_ASSIGN_OR_RETURN_IMPL(KEEL_STATUS_CONCAT(keel_result_, __LINE__), lhs, rexpr)
#define KEEL_ASSIGN_OR_RETURN_IMPL(result, lhs, rexpr) \
  auto result = (rexpr);                               \
  if (!result.ok()) return result.status();            \
  lhs = std::move(result).value()
