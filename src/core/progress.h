// ProgressSink: how long-running services report progress without knowing
// who shows it (a terminal bar in the CLI, nothing in tests).
#pragma once

#include <cstdint>
#include <string_view>

namespace keel {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // A new phase, e.g. "hashing", with `total` units of work (0: unknown).
  virtual void Begin(std::string_view label, uint64_t total) = 0;
  // `done` more units finished.
  virtual void Advance(uint64_t done) = 0;
  virtual void End() = 0;
};

// A sink that shows nothing.
class NullProgress final : public ProgressSink {
 public:
  void Begin(std::string_view, uint64_t) override {}
  void Advance(uint64_t) override {}
  void End() override {}
};

}  // namespace keel
