#include "server/access_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>
#include <thread>

namespace keel::server {
namespace {

// splitmix64 over a per-thread counter: cheap and uncorrelated enough to
// sample requests.
uint64_t Draw() {
  thread_local uint64_t state = std::hash<std::thread::id>{}(std::this_thread::get_id()) ^ 0x9e3779b97f4a7c15ULL;
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string UtcNow() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return buffer;
}

}  // namespace

uint64_t AccessLog::Threshold(double sample) {
  if (sample >= 1.0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(std::ldexp(sample, 64));
}

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& path, double sample) {
  if (!(sample > 0.0 && sample <= 1.0)) {
    return InvalidArgumentError("--access-log-sample " + std::to_string(sample) + " is not in (0, 1]");
  }
  if (path == "-") return std::unique_ptr<AccessLog>(new AccessLog(stderr, false, sample));
  std::FILE* file = std::fopen(path.c_str(), "ae");
  if (file == nullptr) return ErrnoError("cannot open the access log " + path, errno);
  return std::unique_ptr<AccessLog>(new AccessLog(file, true, sample));
}

AccessLog::~AccessLog() {
  if (owned_) std::fclose(file_);
}

void AccessLog::MaybeRecord(const HttpRequest& request, const HttpResponse& response, std::chrono::nanoseconds spent) {
  if (threshold_ != std::numeric_limits<uint64_t>::max() && Draw() >= threshold_) return;
  std::string line = UtcNow();
  line.append(" ").append(request.method).append(" ");
  for (char c : request.target) line.push_back(c > ' ' && c < 127 ? c : '?');  // one line, whatever the client sent
  line.append(" ").append(std::to_string(response.status)).append(" ");
  line.append(std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(spent).count())).append("us ");
  line.append(std::to_string(response.body.size())).append("B\n");
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace keel::server
