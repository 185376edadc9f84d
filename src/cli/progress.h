// A progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/progress.h"

namespace keel::cli {

class TerminalProgress final : public ProgressSink {
 public:
  // Thread-safe: Advance may be called from hashing threads.
  void Begin(std::string_view label, uint64_t total) override;
  void Advance(uint64_t done) override;
  void End() override;

 private:
  void Draw(bool final);

  std::mutex mu_;
  std::string label_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

// A TerminalProgress when stderr is a terminal, otherwise a sink that draws
// nothing.
std::unique_ptr<ProgressSink> MakeProgress();

}  // namespace keel::cli
