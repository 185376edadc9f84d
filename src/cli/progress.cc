#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace keel::cli {
namespace {
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);
// Work shorter than this never shows a bar.
constexpr auto kShowAfter = std::chrono::milliseconds(300);
constexpr int kBarWidth = 30;
}  // namespace

void TerminalProgress::Begin(std::string_view label, uint64_t total) {
  std::lock_guard lock(mu_);
  label_ = label;
  total_ = total;
  done_ = 0;
  started_ = std::chrono::steady_clock::now();
  last_draw_ = started_;
  drawn_ = false;
}

void TerminalProgress::Advance(uint64_t done) {
  done_ += done;
  auto now = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || now - started_ < kShowAfter || now - last_draw_ < kRedrawEvery) return;
  last_draw_ = now;
  Draw(false);
}

void TerminalProgress::End() {
  std::lock_guard lock(mu_);
  if (drawn_) Draw(true);
  drawn_ = false;
}

void TerminalProgress::Draw(bool final) {
  uint64_t done = done_.load();
  double fraction = total_ > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total_)) : 0;
  int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '.');
  std::fprintf(stderr, "\r\033[K%s [%s] %3d%%%s", label_.c_str(), bar.c_str(),
               static_cast<int>(fraction * 100), final ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

std::unique_ptr<ProgressSink> MakeProgress() {
  if (::isatty(2)) return std::make_unique<TerminalProgress>();
  return std::make_unique<NullProgress>();
}

}  // namespace keel::cli
