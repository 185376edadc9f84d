// An optional, sampled access log: one line per logged request,
//   2026-11-27T06:20:00.123Z POST /v2/models/census/infer 200 182us 412B
// (UTC time the response was ready, method, target, status, time spent in
// keel, response bytes).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "server/http_server.h"

namespace keel::server {

class AccessLog {
 public:
  // Appends to `path` ("-": stderr), logging each request with probability
  // `sample` (0..1]. kInvalidArgument for a sample outside that range;
  // kUnavailable when the file cannot be opened.
  static Result<std::unique_ptr<AccessLog>> Open(const std::string& path, double sample);
  ~AccessLog();

  // Thread-safe.
  void MaybeRecord(const HttpRequest& request, const HttpResponse& response, std::chrono::nanoseconds spent);

 private:
  AccessLog(std::FILE* file, bool owned, double sample) : file_(file), owned_(owned), threshold_(Threshold(sample)) {}
  static uint64_t Threshold(double sample);

  std::FILE* file_;
  bool owned_;
  uint64_t threshold_;  // a request is logged when a uniform 64-bit draw is below it
  std::mutex mu_;       // one line at a time
};

}  // namespace keel::server
