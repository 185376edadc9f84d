// Shared by the libFuzzer targets in this folder: a failed property prints
// what broke and traps, so that libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <string_view>

#include "core/status.h"

// Traps unless `cond` holds; `what` says which property broke.
#define KEEL_FUZZ_CHECK(cond, what)                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "fuzz property failed: %s (%s)\n", what, #cond); \
      __builtin_trap();                                                 \
    }                                                                   \
  } while (0)

namespace keel {

// A parser's error must name its input first (the parsers' contract: `what`
// or `file` names the input in errors) and must not claim an internal bug.
inline void CheckParseError(const Status& status, std::string_view name) {
  KEEL_FUZZ_CHECK(!status.ok(), "a failed parse has an error");
  KEEL_FUZZ_CHECK(status.code() != StatusCode::kInternal, "bad input is not an internal error");
  KEEL_FUZZ_CHECK(std::string_view(status.message()).substr(0, name.size()) == name,
                  "the error message starts with the input's name");
}

}  // namespace keel
