#include "tracking/event_log.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cmath>
#include <limits>
#include <future>
#include <map>
#include <optional>

namespace keel {
namespace {

constexpr size_t kMaxNameBytes = 250;

using simdjson::dom::element;
using simdjson::dom::element_type;

// Why `name` is not a valid metric, param or tag name; "" if it is.
std::string NameProblem(std::string_view name) {
  if (name.empty()) return "a name is empty";
  if (name.size() > kMaxNameBytes) return "name '" + std::string(name.substr(0, 40)) + "...' is over 250 bytes";
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "name '" + std::string(name) + "' has a control character";
  }
  return "";
}

std::string NumberText(element value) {
  char buf[32];
  std::to_chars_result r{};
  switch (value.type()) {
    case element_type::INT64: r = std::to_chars(buf, buf + sizeof buf, int64_t(value)); break;
    case element_type::UINT64: r = std::to_chars(buf, buf + sizeof buf, uint64_t(value)); break;
    default: r = std::to_chars(buf, buf + sizeof buf, double(value)); break;
  }
  return std::string(buf, r.ptr);
}

// A param or tag value as text; false for objects and arrays.
bool ScalarText(element value, std::string* out) {
  switch (value.type()) {
    case element_type::STRING: *out = std::string(std::string_view(value)); return true;
    case element_type::BOOL: *out = bool(value) ? "true" : "false"; return true;
    case element_type::NULL_VALUE: *out = "null"; return true;
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: *out = NumberText(value); return true;
    default: return false;
  }
}

bool MetricValue(element value, double* out) {
  switch (value.type()) {
    case element_type::INT64: *out = static_cast<double>(int64_t(value)); return true;
    case element_type::UINT64: *out = static_cast<double>(uint64_t(value)); return true;
    case element_type::DOUBLE: *out = double(value); return true;
    case element_type::STRING: {
      std::string_view s(value);
      if (s == "NaN") *out = std::numeric_limits<double>::quiet_NaN();
      else if (s == "Infinity") *out = std::numeric_limits<double>::infinity();
      else if (s == "-Infinity") *out = -std::numeric_limits<double>::infinity();
      else return false;
      return true;
    }
    default: return false;
  }
}

bool Integer(element value, int64_t* out) {
  if (value.type() == element_type::INT64) {
    *out = int64_t(value);
    return true;
  }
  if (value.type() == element_type::UINT64 && uint64_t(value) <= uint64_t(std::numeric_limits<int64_t>::max())) {
    *out = static_cast<int64_t>(uint64_t(value));
    return true;
  }
  return false;
}

std::string Shown(element value) {
  std::string text = simdjson::minify(value);
  return text.size() > 40 ? text.substr(0, 40) + "..." : text;
}

// The text of each float value of a param or tag in an event line, by
// name: the DOM keeps only the double, and "1.0" must stay "1.0". `line`
// must be followed by simdjson's padding.
std::map<std::string, std::string, std::less<>> RawFloats(std::string_view line) {
  std::map<std::string, std::string, std::less<>> out;
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object event;
  if (parser.iterate(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING).get(doc) ||
      doc.get_object().get(event)) {
    return out;
  }
  auto raw = [](simdjson::ondemand::value v) -> std::string {
    simdjson::ondemand::json_type type;
    std::string_view text;
    if (v.type().get(type) || type != simdjson::ondemand::json_type::number) return "";
    text = v.raw_json_token();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
    return std::string(text);
  };
  std::string name, value;
  bool seen_value = false;  // the DOM reads the first of repeated keys
  for (auto field : event) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return out;
    if (key == "param" || key == "tag") {
      std::string_view n;
      if (!field.value().get_string().get(n)) name = std::string(n);
    } else if (key == "value" && !seen_value) {
      seen_value = true;
      value = raw(field.value());
    } else if (key == "params" || key == "tags") {
      simdjson::ondemand::object values;
      if (field.value().get_object().get(values)) return out;
      for (auto entry : values) {
        std::string_view n;
        if (entry.unescaped_key().get(n)) return out;
        std::string text = raw(entry.value());
        if (!text.empty()) out[std::string(n)] = text;
      }
    }
  }
  if (!name.empty() && !value.empty()) out[name] = value;
  return out;
}

// One event object. Returns "" or what is wrong with it.
class EventParser {
 public:
  // `line` (padded) is the event's text.
  EventParser(simdjson::dom::object event, std::string_view line, int64_t now_ms, LoggedEvents* out)
      : event_(event), line_(line), now_ms_(now_ms), out_(out) {}

  std::string Parse() {
    static constexpr std::string_view kKinds[] = {"metric", "metrics", "param", "params", "tag", "tags", "artifact"};
    std::string_view kind;
    for (auto field : event_) {
      for (std::string_view k : kKinds) {
        if (field.key != k) continue;
        if (!kind.empty()) return "both '" + std::string(kind) + "' and '" + std::string(k) + "'";
        kind = k;
      }
    }
    if (kind.empty()) return "no event key (expected metric, metrics, param, params, tag, tags or artifact)";
    if (kind == "metric" || kind == "metrics") return Metrics(kind == "metric");
    if (kind == "param" || kind == "tag") return Pair(kind, kind == "param" ? &out_->params : &out_->tags);
    if (kind == "params" || kind == "tags") return Pairs(kind, kind == "params" ? &out_->params : &out_->tags);
    return Artifact();
  }

 private:
  // Fields other than the event's own and `allowed` are an error.
  std::string OnlyFields(std::string_view kind, std::initializer_list<std::string_view> allowed) {
    for (auto field : event_) {
      if (field.key == kind) continue;
      bool known = false;
      for (std::string_view a : allowed) known = known || field.key == a;
      if (!known) return "'" + std::string(kind) + "' event: unknown field '" + std::string(field.key) + "'";
    }
    return "";
  }

  std::string Metrics(bool single) {
    std::string_view kind = single ? "metric" : "metrics";
    std::string problem = single ? OnlyFields(kind, {"value", "step", "timestamp"}) : OnlyFields(kind, {"step", "timestamp"});
    if (!problem.empty()) return problem;
    MetricPoint p;
    p.timestamp_ms = now_ms_;
    element field;
    if (!event_["step"].get(field) && !Integer(field, &p.step)) return "step is " + Shown(field) + ", not an integer";
    if (!event_["timestamp"].get(field) && !Integer(field, &p.timestamp_ms)) {
      return "timestamp is " + Shown(field) + ", not an integer (ms since the Unix epoch)";
    }
    if (single) {
      std::string_view name;
      if (event_["metric"].get(name)) return "metric name is not a string";
      if (event_["value"].get(field)) return "metric '" + std::string(name) + "': no value";
      return AddMetric(name, field, p);
    }
    simdjson::dom::object values;
    if (event_["metrics"].get(values)) return "metrics is not an object of names to numbers";
    for (auto [name, value] : values) {
      problem = AddMetric(name, value, p);
      if (!problem.empty()) return problem;
    }
    return "";
  }

  std::string AddMetric(std::string_view name, element value, MetricPoint p) {
    std::string problem = NameProblem(name);
    if (!problem.empty()) return "metric: " + problem;
    if (!MetricValue(value, &p.value)) return "metric '" + std::string(name) + "': value is " + Shown(value) + ", not a number";
    p.key = std::string(name);
    out_->metrics.push_back(std::move(p));
    return "";
  }

  std::string Pair(std::string_view kind, std::map<std::string, std::string>* into) {
    std::string problem = OnlyFields(kind, {"value"});
    if (!problem.empty()) return problem;
    std::string_view name;
    if (event_[kind].get(name)) return std::string(kind) + " name is not a string";
    element value;
    if (event_["value"].get(value)) return std::string(kind) + " '" + std::string(name) + "': no value";
    return Put(kind, name, value, into);
  }

  std::string Pairs(std::string_view kind, std::map<std::string, std::string>* into) {
    std::string problem = OnlyFields(kind, {});
    if (!problem.empty()) return problem;
    simdjson::dom::object values;
    if (event_[kind].get(values)) return std::string(kind) + " is not an object";
    for (auto [name, value] : values) {
      problem = Put(kind.substr(0, kind.size() - 1), name, value, into);
      if (!problem.empty()) return problem;
    }
    return "";
  }

  std::string Put(std::string_view kind, std::string_view name, element value, std::map<std::string, std::string>* into) {
    std::string problem = NameProblem(name);
    if (!problem.empty()) return std::string(kind) + ": " + problem;
    std::string text;
    if (!ScalarText(value, &text)) {
      return std::string(kind) + " '" + std::string(name) + "': value must be a string, number, boolean or null";
    }
    if (value.type() == element_type::DOUBLE) {
      if (!raw_floats_) raw_floats_ = RawFloats(line_);
      auto it = raw_floats_->find(name);
      if (it != raw_floats_->end()) text = it->second;
    }
    (*into)[std::string(name)] = std::move(text);
    return "";
  }

  std::string Artifact() {
    std::string problem = OnlyFields("artifact", {"name"});
    if (!problem.empty()) return problem;
    std::string_view path;
    if (event_["artifact"].get(path) || path.empty()) return "artifact path is not a non-empty string";
    std::string_view name = path.substr(path.find_last_of('/') + 1);
    element field;
    if (!event_["name"].get(field) && field.get(name)) return "artifact name is not a string";
    problem = NameProblem(name);
    if (!problem.empty()) return "artifact: " + problem;
    out_->artifacts.push_back({std::string(path), std::string(name)});
    return "";
  }

  simdjson::dom::object event_;
  std::string_view line_;
  int64_t now_ms_;
  LoggedEvents* out_;
  std::optional<std::map<std::string, std::string, std::less<>>> raw_floats_;
};

}  // namespace

int64_t ParseEvents(std::string_view text, std::string_view file, int64_t first_line, int64_t now_ms,
                    LoggedEvents* out) {
  simdjson::dom::parser parser;
  simdjson::padded_string line_buf;
  int64_t line_number = first_line;
  for (size_t pos = 0; pos < text.size(); ++line_number) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (line_buf.size() < line.size()) line_buf = simdjson::padded_string(line.size() * 2);
    std::memcpy(line_buf.data(), line.data(), line.size());
    simdjson::dom::object event;
    std::string problem;
    auto error = parser.parse(line_buf.data(), line.size(), false).get(event);
    if (error == simdjson::INCORRECT_TYPE) {
      problem = "not a JSON object";
    } else if (error == simdjson::NUMBER_ERROR) {
      problem = "a number keel cannot read (out of range, or an integer beyond 64 bits: write it as a float)";
    } else if (error) {
      problem = std::string("not JSON (") + simdjson::error_message(error) + ")";
    } else {
      LoggedEvents one;
      problem = EventParser(event, std::string_view(line_buf.data(), line.size()), now_ms, &one).Parse();
      if (problem.empty()) {
        // Moved in only when the whole line is good: a bad line adds nothing.
        for (MetricPoint& p : one.metrics) out->metrics.push_back(std::move(p));
        for (auto& [k, v] : one.params) out->params[k] = std::move(v);
        for (auto& [k, v] : one.tags) out->tags[k] = std::move(v);
        for (ArtifactEvent& a : one.artifacts) out->artifacts.push_back(std::move(a));
      }
    }
    if (!problem.empty()) out->warnings.push_back(std::string(file) + ":" + std::to_string(line_number) + ": " + problem);
  }
  return line_number - first_line;
}

Result<bool> EventLogReader::ReadChunk(ReadableFile* file, bool final, size_t max_bytes, Chunk* chunk) {
  chunk->skipped = false;
  for (;;) {
    // Kept between calls: a fresh buffer is a fresh round of page faults.
    if (chunk->capacity < max_bytes) {
      chunk->data.reset(new char[max_bytes]);  // not zeroed: it is read into at once
      chunk->capacity = max_bytes;
    }
    KEEL_ASSIGN_OR_RETURN(size_t n, file->ReadAt(offset_, chunk->data.get(), max_bytes));
    std::string_view buf(chunk->data.get(), n);
    chunk->at_end = n < max_bytes;
    size_t usable = buf.rfind('\n');
    usable = usable == std::string_view::npos ? 0 : usable + 1;
    if (final && chunk->at_end) usable = n;
    if (usable == 0 && !chunk->at_end) {
      if (max_bytes >= kMaxLineBytes) return SkipLongLine(file, final, max_bytes, chunk);
      max_bytes *= 2;  // one line longer than max_bytes: take it whole
      continue;
    }
    chunk->size = usable;
    offset_ += usable;
    return usable > 0;
  }
}

// A line this long is no event: something wrote junk to the file. Its end
// is looked for without keeping it.
Result<bool> EventLogReader::SkipLongLine(ReadableFile* file, bool final, size_t read, Chunk* chunk) {
  uint64_t at = offset_ + read;  // the first `read` bytes had no newline
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(size_t n, file->ReadAt(at, chunk->data.get(), read));
    std::string_view buf(chunk->data.get(), n);
    size_t newline = buf.find('\n');
    if (newline != std::string_view::npos || (final && n < read)) {
      uint64_t end = newline != std::string_view::npos ? at + newline + 1 : at + n;
      chunk->size = static_cast<size_t>(end - offset_);
      chunk->skipped = true;
      chunk->at_end = false;
      offset_ = end;
      return true;
    }
    if (n < read) return false;  // its end is not written yet
    at += n;
  }
}

void EventLogReader::ParseChunk(Chunk* chunk, int64_t first_line, int64_t now_ms) {
  LoggedEvents& events = chunk->events;
  events.metrics.clear();  // keeps its capacity for the next chunk
  events.params.clear();
  events.tags.clear();
  events.artifacts.clear();
  events.warnings.clear();
  if (chunk->skipped) {
    events.warnings.push_back(file_ + ":" + std::to_string(first_line) + ": a line over " +
                              std::to_string(kMaxLineBytes >> 20) + " MiB; skipped");
    chunk->lines = 1;
    return;
  }
  events.metrics.reserve(chunk->size / 32);  // most lines are one metric value each
  chunk->lines = ParseEvents(std::string_view(chunk->data.get(), chunk->size), file_, first_line, now_ms, &events);
}

Status EventLogReader::ReadNew(bool final, int64_t now_ms, const std::function<Status(LoggedEvents&)>& consume,
                               size_t max_bytes) {
  if (max_bytes == 0) max_bytes = 1;
  Result<std::unique_ptr<ReadableFile>> file = env_->OpenForRead(path_);
  if (!file.ok() && file.status().code() == StatusCode::kNotFound) return Status::Ok();
  if (!file.ok()) return file.status();
  // Two chunks in turn: the next one is parsed on a thread of its own while
  // `consume` stores this one.
  Chunk* current = &chunks_[0];
  Chunk* next = &chunks_[1];
  KEEL_ASSIGN_OR_RETURN(bool more, ReadChunk(file->get(), final, max_bytes, current));
  if (!more) return Status::Ok();
  ParseChunk(current, next_line_, now_ms);
  for (;;) {
    next_line_ += current->lines;
    std::future<void> parsing;
    if (!current->at_end) {
      Result<bool> read = ReadChunk(file->get(), final, max_bytes, next);
      if (!read.ok()) {
        offset_ -= current->size;  // read `current` again next time
        next_line_ -= current->lines;
        return read.status();
      }
      more = *read;
      int64_t first_line = next_line_;
      if (more) parsing = std::async(std::launch::async, [=, this] { ParseChunk(next, first_line, now_ms); });
    } else {
      more = false;
    }
    Status consumed = consume(current->events);
    if (parsing.valid()) parsing.wait();
    if (!consumed.ok()) {
      // Unstored events are read again next time.
      offset_ -= current->size + (more ? next->size : 0);
      next_line_ -= current->lines;
      return consumed;
    }
    if (!more) return Status::Ok();
    std::swap(current, next);
  }
}

}  // namespace keel
