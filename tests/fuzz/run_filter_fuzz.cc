// Fuzzes keel::ParseRunFilter and keel::ParseRunSort (`keel runs list
// --where` / `--sort`, docs/format/tracking.md). Properties: errors are
// invalid arguments naming the flag; parsed conditions are well typed
// (metrics and numeric attributes hold numbers and no like, tags and string
// attributes hold text, attributes are known); and conditions written back
// as text parse to the same conditions.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "tracking/run_filter.h"

namespace {

bool IsBare(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '/' || c == ':';
}

bool IsAttribute(const std::string& key) {
  const std::vector<std::string>& names = keel::RunAttributeNames();
  return std::find(names.begin(), names.end(), key) != names.end();
}

bool IsNumericAttribute(const std::string& key) {
  return key == "id" || key == "dirty" || key == "start_time" || key == "end_time";
}

bool IsLike(keel::CompareOp op) {
  return op == keel::CompareOp::kLike || op == keel::CompareOp::kILike;
}

void CheckCondition(const keel::RunCondition& c) {
  KEEL_FUZZ_CHECK(!c.key.empty(), "a condition names its key");
  bool number = std::holds_alternative<double>(c.value);
  switch (c.field) {
    case keel::RunField::kMetric:
      KEEL_FUZZ_CHECK(number && !IsLike(c.op), "metrics compare as numbers");
      break;
    case keel::RunField::kAttribute:
      KEEL_FUZZ_CHECK(IsAttribute(c.key), "attributes are known");
      KEEL_FUZZ_CHECK(number == IsNumericAttribute(c.key), "attributes hold values of their type");
      KEEL_FUZZ_CHECK(!number || !IsLike(c.op), "numeric attributes take no like");
      break;
    case keel::RunField::kTag:
      KEEL_FUZZ_CHECK(!number, "tags compare as text");
      break;
    case keel::RunField::kParam:
      KEEL_FUZZ_CHECK(!number || !IsLike(c.op), "like on a param takes text");
      break;
  }
}

std::string FieldText(keel::RunField field, const std::string& key) {
  bool bare = std::all_of(key.begin(), key.end(), IsBare);
  std::string name = bare ? key : "`" + key + "`";
  switch (field) {
    case keel::RunField::kAttribute:
      return "attributes." + name;
    case keel::RunField::kMetric:
      return "metrics." + name;
    case keel::RunField::kParam:
      return "params." + name;
    case keel::RunField::kTag:
      return "tags." + name;
  }
  return name;
}

const char* OpText(keel::CompareOp op) {
  static const char* const kOps[] = {"=", "!=", "<", "<=", ">", ">=", "LIKE", "ilike"};
  return kOps[static_cast<int>(op)];
}

std::string ValueText(const keel::FilterValue& value) {
  if (const auto* d = std::get_if<double>(&value)) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", *d);
    return buf;
  }
  std::string out = "'";
  for (char c : std::get<std::string>(value)) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

bool SameConditions(const std::vector<keel::RunCondition>& a,
                    const std::vector<keel::RunCondition>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.field == y.field && x.key == y.key && x.op == y.op && x.value == y.value;
  });
}

void CheckFilter(std::string_view text) {
  keel::Result<std::vector<keel::RunCondition>> where = keel::ParseRunFilter(text);
  if (!where.ok()) {
    KEEL_FUZZ_CHECK(where.status().code() == keel::StatusCode::kInvalidArgument,
                    "errors are invalid arguments");
    keel::CheckParseError(where.status(), "--where: ");
    return;
  }
  std::string written;
  for (const keel::RunCondition& c : *where) {
    CheckCondition(c);
    written += (written.empty() ? "" : " AND ") + FieldText(c.field, c.key) + " " + OpText(c.op) +
               " " + ValueText(c.value);
  }
  keel::Result<std::vector<keel::RunCondition>> again = keel::ParseRunFilter(written);
  if (!again.ok())
    std::fprintf(stderr, "%s\n%s\n", written.c_str(), again.status().ToString().c_str());
  KEEL_FUZZ_CHECK(again.ok(), "conditions written back parse");
  KEEL_FUZZ_CHECK(SameConditions(*where, *again), "conditions survive the round trip");
}

void CheckSort(std::string_view text) {
  keel::Result<keel::RunSort> sort = keel::ParseRunSort(text);
  if (!sort.ok()) {
    KEEL_FUZZ_CHECK(sort.status().code() == keel::StatusCode::kInvalidArgument,
                    "errors are invalid arguments");
    keel::CheckParseError(sort.status(), "--sort: ");
    return;
  }
  KEEL_FUZZ_CHECK(!sort->key.empty(), "a sort names its key");
  KEEL_FUZZ_CHECK(sort->field != keel::RunField::kAttribute || IsAttribute(sort->key),
                  "attributes are known");
  std::string written = FieldText(sort->field, sort->key) + (sort->descending ? " desc" : " asc");
  keel::Result<keel::RunSort> again = keel::ParseRunSort(written);
  KEEL_FUZZ_CHECK(again.ok(), "a sort written back parses");
  KEEL_FUZZ_CHECK(again->field == sort->field && again->key == sort->key &&
                      again->descending == sort->descending,
                  "a sort survives the round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckFilter(text);
  CheckSort(text);
  return 0;
}
