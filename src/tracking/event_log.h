// The events a stage's commands log to KEEL_METRICS_FILE: one JSON object a
// line (docs/format/tracking.md), read while the stage runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "store/run_store.h"

namespace keel {

// A longer line in an event file is skipped with a warning.
inline constexpr size_t kMaxLineBytes = size_t{16} << 20;

struct ArtifactEvent {
  std::string path;  // as logged; relative paths are from the stage's wdir
  std::string name;
};

struct LoggedEvents {
  std::vector<MetricPoint> metrics;  // in the order logged
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
  std::vector<ArtifactEvent> artifacts;
  // One per skipped line: "FILE:LINE: what is wrong".
  std::vector<std::string> warnings;

  bool empty() const { return metrics.empty() && params.empty() && tags.empty() && artifacts.empty(); }
};

// Parses the lines of `text` (each ending in '\n', except perhaps the last)
// into `out`; the first line is number `first_line` in `file`. Events
// without a timestamp get `now_ms`. Bad lines become warnings. Returns the
// number of lines.
int64_t ParseEvents(std::string_view text, std::string_view file, int64_t first_line, int64_t now_ms,
                 LoggedEvents* out);

// Follows one event file as it grows. Not thread-safe.
class EventLogReader {
 public:
  // `path` is the file; `file` names it in warnings.
  EventLogReader(Env* env, std::string path, std::string file)
      : env_(env), path_(std::move(path)), file_(std::move(file)) {}

  // Calls `consume` with the events of the complete lines appended since
  // the last call, at most `max_bytes` of the file at a time (the next
  // piece is parsed on another thread meanwhile); with `final`, a last line
  // without '\n' counts too. A line over kMaxLineBytes is skipped with a
  // warning. A file that does not exist has no events.
  // Stops at the first error `consume` returns; the events it did not
  // store are read again by the next call.
  Status ReadNew(bool final, int64_t now_ms, const std::function<Status(LoggedEvents&)>& consume,
                 size_t max_bytes = size_t{4} << 20);

 private:
  Env* env_;
  std::string path_;
  std::string file_;
  // A piece of the file and its events.
  struct Chunk {
    std::unique_ptr<char[]> data;  // kept between calls: fresh memory is fresh page faults
    size_t capacity = 0;
    size_t size = 0;     // bytes of complete lines
    bool at_end = false;  // the read reached the end of the file
    int64_t lines = 0;
    bool skipped = false;  // one line over kMaxLineBytes, not kept
    LoggedEvents events;
  };

  // Reads the lines at offset_ into `chunk` and moves offset_ past them;
  // false if there are none yet.
  Result<bool> ReadChunk(ReadableFile* file, bool final, size_t max_bytes, Chunk* chunk);
  // Moves offset_ past a line over kMaxLineBytes, once its end is written.
  // `read` bytes from offset_ were read without finding one.
  Result<bool> SkipLongLine(ReadableFile* file, bool final, size_t read, Chunk* chunk);
  void ParseChunk(Chunk* chunk, int64_t first_line, int64_t now_ms);

  uint64_t offset_ = 0;     // of the first byte not yet read
  int64_t next_line_ = 1;   // the number of the line at offset_ once the chunks read are consumed
  Chunk chunks_[2];
};

}  // namespace keel
