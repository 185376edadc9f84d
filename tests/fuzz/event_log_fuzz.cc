// Fuzzes keel::ParseEvents (the event lines of KEEL_METRICS_FILE,
// docs/format/tracking.md "Events"), the input being the file's text.
//
// Properties:
//   - every metric, param and tag name recorded is non-empty, at most 250
//     bytes and holds no control character (byte < 0x20);
//   - every artifact recorded has a non-empty path and a valid name;
//   - at most one warning per line, each naming the file and a line number;
//   - lines are independent: parsed in two pieces split after any '\n'
//     (the second piece numbered from where the first ends, as
//     EventLogReader does), the text gives the same metrics (values compared
//     bitwise, NaN included), params, tags, artifacts and warnings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tracking/event_log.h"

namespace {

constexpr int64_t kNow = 1700000000000;
constexpr std::string_view kFile = "events.jsonl";

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 250) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

size_t LineCount(std::string_view text) {
  size_t newlines = 0;
  for (char c : text) newlines += c == '\n';
  return newlines + (!text.empty() && text.back() != '\n' ? 1 : 0);
}

keel::LoggedEvents Parse(std::string_view text, int64_t first_line) {
  keel::LoggedEvents out;
  keel::ParseEvents(text, kFile, first_line, kNow, &out);
  return out;
}

void CheckWellFormed(const keel::LoggedEvents& events, std::string_view text) {
  for (const keel::MetricPoint& p : events.metrics) KEEL_FUZZ_CHECK(ValidName(p.key), "metric names are valid");
  for (const auto& [name, value] : events.params) KEEL_FUZZ_CHECK(ValidName(name), "param names are valid");
  for (const auto& [name, value] : events.tags) KEEL_FUZZ_CHECK(ValidName(name), "tag names are valid");
  for (const keel::ArtifactEvent& a : events.artifacts) {
    KEEL_FUZZ_CHECK(!a.path.empty(), "artifact paths are non-empty");
    KEEL_FUZZ_CHECK(ValidName(a.name), "artifact names are valid");
  }
  KEEL_FUZZ_CHECK(events.warnings.size() <= LineCount(text), "at most one warning per line");
  for (const std::string& w : events.warnings) {
    KEEL_FUZZ_CHECK(std::string_view(w).substr(0, kFile.size() + 1) == std::string(kFile) + ":",
                    "a warning names the file");
  }
}

bool SameMetric(const keel::MetricPoint& a, const keel::MetricPoint& b) {
  return a.key == b.key && std::memcmp(&a.value, &b.value, sizeof a.value) == 0 && a.step == b.step &&
         a.timestamp_ms == b.timestamp_ms;
}

bool SameArtifact(const keel::ArtifactEvent& a, const keel::ArtifactEvent& b) {
  return a.path == b.path && a.name == b.name;
}

template <typename T, typename Eq>
bool SameList(const std::vector<T>& a, const std::vector<T>& b, Eq eq) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!eq(a[i], b[i])) return false;
  }
  return true;
}

void PrintWarnings(const char* what, const std::vector<std::string>& warnings) {
  std::fprintf(stderr, "%s:\n", what);
  for (const std::string& w : warnings) std::fprintf(stderr, "  %s\n", w.c_str());
}

// Parses `text` split after the '\n' at `cut` and compares with `whole`.
void CheckSplit(std::string_view text, size_t cut, const keel::LoggedEvents& whole) {
  std::string_view first = text.substr(0, cut + 1);
  std::string_view second = text.substr(cut + 1);
  keel::LoggedEvents split = Parse(first, 1);
  keel::ParseEvents(second, kFile, 1 + static_cast<int64_t>(LineCount(first)), kNow, &split);
  KEEL_FUZZ_CHECK(SameList(whole.metrics, split.metrics, SameMetric), "a split gives the same metrics");
  KEEL_FUZZ_CHECK(whole.params == split.params, "a split gives the same params");
  KEEL_FUZZ_CHECK(whole.tags == split.tags, "a split gives the same tags");
  KEEL_FUZZ_CHECK(SameList(whole.artifacts, split.artifacts, SameArtifact), "a split gives the same artifacts");
  if (whole.warnings != split.warnings) {
    std::fprintf(stderr, "split after byte %zu\n", cut);
    PrintWarnings("whole", whole.warnings);
    PrintWarnings("split", split.warnings);
  }
  KEEL_FUZZ_CHECK(whole.warnings == split.warnings, "a split gives the same warnings");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::LoggedEvents whole = Parse(text, 1);
  CheckWellFormed(whole, text);
  for (size_t cut = text.find('\n'); cut != std::string_view::npos; cut = text.find('\n', cut + 1)) {
    CheckSplit(text, cut, whole);
  }
  return 0;
}
