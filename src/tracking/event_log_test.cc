#include "tracking/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace keel {

// Shows codes and points readably in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

[[maybe_unused]] static void PrintTo(const MetricPoint& p, std::ostream* os) {
  *os << "{" << p.key << " = " << p.value << " step " << p.step << " at " << p.timestamp_ms << "}";
}

[[maybe_unused]] static void PrintTo(const ArtifactEvent& a, std::ostream* os) {
  *os << "{" << a.path << " as " << a.name << "}";
}

static bool operator==(const MetricPoint& a, const MetricPoint& b) {
  return a.key == b.key && a.value == b.value && a.step == b.step && a.timestamp_ms == b.timestamp_ms;
}

static bool operator==(const ArtifactEvent& a, const ArtifactEvent& b) {
  return a.path == b.path && a.name == b.name;
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

constexpr int64_t kNow = 1700000000000;

MetricPoint Point(std::string key, double value, int64_t step = 0, int64_t timestamp_ms = kNow) {
  MetricPoint p;
  p.key = std::move(key);
  p.value = value;
  p.step = step;
  p.timestamp_ms = timestamp_ms;
  return p;
}

LoggedEvents Parse(std::string_view text, int64_t first_line = 1) {
  LoggedEvents out;
  ParseEvents(text, "train.jsonl", first_line, kNow, &out);
  return out;
}

// The one warning `line` gives; a bad line records nothing.
std::string Warning(std::string_view line) {
  LoggedEvents out = Parse(line);
  EXPECT_TRUE(out.empty()) << line;
  EXPECT_EQ(out.warnings.size(), 1u) << line;
  if (out.warnings.size() != 1) return "";
  EXPECT_THAT(out.warnings[0], StartsWith("train.jsonl:1: ")) << line;
  return out.warnings[0];
}

// The value `line` records for the param `name`.
std::string ParamText(std::string_view line, const std::string& name) {
  LoggedEvents out = Parse(line);
  EXPECT_THAT(out.warnings, IsEmpty()) << line;
  auto it = out.params.find(name);
  EXPECT_NE(it, out.params.end()) << line;
  return it == out.params.end() ? "<none>" : it->second;
}

// --- metric and metrics ---

TEST(EventLogTest, MetricTakesStepAndTimestamp) {
  LoggedEvents out = Parse(R"({"metric": "loss", "value": 0.25, "step": 7, "timestamp": 1600000000123})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("loss", 0.25, 7, 1600000000123)));
}

TEST(EventLogTest, MetricDefaultsToStepZeroAndNow) {
  LoggedEvents out = Parse(R"({"metric": "loss", "value": 3})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("loss", 3, 0, kNow)));
}

TEST(EventLogTest, MetricWithStepOnlyOrTimestampOnly) {
  LoggedEvents out = Parse(
      "{\"metric\": \"acc\", \"value\": -1.5, \"step\": 12}\n"
      "{\"timestamp\": 5, \"value\": 2, \"metric\": \"acc\"}\n");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("acc", -1.5, 12, kNow), Point("acc", 2, 0, 5)));
}

TEST(EventLogTest, MetricTakesNegativeStepAndLargeIntegerValue) {
  LoggedEvents out = Parse(R"({"metric": "m", "value": 12345678901234, "step": -3})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("m", 12345678901234.0, -3)));
}

TEST(EventLogTest, MetricsLogsSeveralAtOneStep) {
  LoggedEvents out = Parse(R"({"metrics": {"loss": 0.5, "acc": 0.75, "f1": 1}, "step": 4, "timestamp": 99})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("loss", 0.5, 4, 99), Point("acc", 0.75, 4, 99), Point("f1", 1, 4, 99)));
}

TEST(EventLogTest, MetricsDefaultsToStepZeroAndNow) {
  LoggedEvents out = Parse(R"({"metrics": {"loss": 0.5}})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("loss", 0.5, 0, kNow)));
}

TEST(EventLogTest, MetricsAreKeptInTheOrderLogged) {
  LoggedEvents out = Parse(
      "{\"metric\": \"b\", \"value\": 1, \"step\": 2}\n"
      "{\"metric\": \"a\", \"value\": 2, \"step\": 1}\n"
      "{\"metric\": \"b\", \"value\": 3, \"step\": 1}\n");
  EXPECT_THAT(out.metrics, ElementsAre(Point("b", 1, 2), Point("a", 2, 1), Point("b", 3, 1)));
}

TEST(EventLogTest, MetricValueMayBeNaNOrInfinityStrings) {
  LoggedEvents out = Parse(
      "{\"metric\": \"a\", \"value\": \"NaN\"}\n"
      "{\"metric\": \"b\", \"value\": \"Infinity\"}\n"
      "{\"metrics\": {\"c\": \"-Infinity\", \"d\": \"NaN\"}}\n");
  EXPECT_THAT(out.warnings, IsEmpty());
  ASSERT_EQ(out.metrics.size(), 4u);
  EXPECT_EQ(out.metrics[0].key, "a");
  EXPECT_TRUE(std::isnan(out.metrics[0].value));
  EXPECT_EQ(out.metrics[1].key, "b");
  EXPECT_EQ(out.metrics[1].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(out.metrics[2].key, "c");
  EXPECT_EQ(out.metrics[2].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(out.metrics[3].key, "d");
  EXPECT_TRUE(std::isnan(out.metrics[3].value));
}

TEST(EventLogTest, MetricValueOtherStringsAreWarnings) {
  EXPECT_EQ(Warning(R"({"metric": "loss", "value": "high"})"),
            "train.jsonl:1: metric 'loss': value is \"high\", not a number");
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": "nan"})"), HasSubstr("'loss': value is \"nan\", not a number"));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": "inf"})"), HasSubstr("not a number"));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": "0.5"})"), HasSubstr("not a number"));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": ""})"), HasSubstr("not a number"));
}

TEST(EventLogTest, MetricValueOfOtherTypesIsAWarning) {
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": true})"), HasSubstr("metric 'loss': value is true, not a number"));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": null})"), HasSubstr("not a number"));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": [1]})"), HasSubstr("not a number"));
  EXPECT_THAT(Warning(R"({"metric": "loss"})"), HasSubstr("metric 'loss': no value"));
  EXPECT_THAT(Warning(R"({"metric": 3, "value": 1})"), HasSubstr("metric name is not a string"));
  EXPECT_THAT(Warning(R"({"metrics": [1, 2]})"), HasSubstr("metrics is not an object"));
}

// The spec: integers beyond 64 bits are not read (the Python client writes
// them as floats); the warning says what to do.
TEST(EventLogTest, IntegerBeyond64BitsIsAWarning) {
  LoggedEvents out = Parse(R"({"metric": "m", "value": 100000000000000000000})");
  EXPECT_THAT(out.metrics, IsEmpty());
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_THAT(out.warnings[0], HasSubstr("beyond 64 bits"));
}

TEST(EventLogTest, MetricsWithOneBadValueAddsNone) {
  LoggedEvents out = Parse(R"({"metrics": {"loss": 0.5, "acc": "high", "f1": 1}})");
  EXPECT_THAT(out.metrics, IsEmpty());
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_EQ(out.warnings[0], "train.jsonl:1: metric 'acc': value is \"high\", not a number");
}

// --- param, params, tag, tags ---

TEST(EventLogTest, ParamStringValue) {
  EXPECT_EQ(ParamText(R"({"param": "optimizer", "value": "adam"})", "optimizer"), "adam");
  EXPECT_EQ(ParamText(R"({"param": "empty", "value": ""})", "empty"), "");
}

TEST(EventLogTest, ParamNumbersBooleansAndNullKeepTheirJsonText) {
  EXPECT_EQ(ParamText(R"({"param": "lr", "value": 0.1})", "lr"), "0.1");
  EXPECT_EQ(ParamText(R"({"param": "depth", "value": 6})", "depth"), "6");
  EXPECT_EQ(ParamText(R"({"param": "neg", "value": -42})", "neg"), "-42");
  EXPECT_EQ(ParamText(R"({"param": "big", "value": 12345678901234})", "big"), "12345678901234");
  EXPECT_EQ(ParamText(R"({"param": "max", "value": 9223372036854775807})", "max"), "9223372036854775807");
  EXPECT_EQ(ParamText(R"({"param": "umax", "value": 18446744073709551615})", "umax"), "18446744073709551615");
  EXPECT_EQ(ParamText(R"({"param": "on", "value": true})", "on"), "true");
  EXPECT_EQ(ParamText(R"({"param": "off", "value": false})", "off"), "false");
  EXPECT_EQ(ParamText(R"({"param": "none", "value": null})", "none"), "null");
}

// The spec keeps a number "as its JSON text": 1.0 stays "1.0" (as MLflow,
// which stores str(1.0), shows it), not "1".
TEST(EventLogTest, ParamFloatKeepsItsJsonTextExactly) {
  EXPECT_EQ(ParamText(R"({"param": "lr", "value": 1.0})", "lr"), "1.0");
  EXPECT_EQ(ParamText(R"({"param": "eps", "value": 1e-8})", "eps"), "1e-8");
}

TEST(EventLogTest, ParamsLogsSeveralOfEveryType) {
  LoggedEvents out = Parse(
      R"({"params": {"s": "x", "i": 12345678901234, "f": 0.1, "b": true, "n": null}})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.params, ElementsAre(Pair("b", "true"), Pair("f", "0.1"), Pair("i", "12345678901234"),
                                      Pair("n", "null"), Pair("s", "x")));
  EXPECT_THAT(out.metrics, IsEmpty());
  EXPECT_THAT(out.tags, IsEmpty());
}

TEST(EventLogTest, LaterParamValueReplacesEarlier) {
  LoggedEvents out = Parse(
      "{\"param\": \"lr\", \"value\": 0.1}\n"
      "{\"params\": {\"lr\": 0.01, \"depth\": 3}}\n"
      "{\"param\": \"depth\", \"value\": \"4\"}\n");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.params, ElementsAre(Pair("depth", "4"), Pair("lr", "0.01")));
}

// A repeated "value" key: the text recorded is that of the value read (the
// first, as for integers), not another one's.
TEST(EventLogTest, RepeatedValueKeyRecordsTheTextOfTheValueRead) {
  EXPECT_EQ(ParamText(R"({"param": "p", "value": 1, "value": 2})", "p"), "1");
  EXPECT_EQ(ParamText(R"({"param": "p", "value": 1.5, "value": 2.25})", "p"), "1.5");
  EXPECT_EQ(ParamText(R"({"param": "p", "value": 1.5, "value": 2})", "p"), "1.5");
}

TEST(EventLogTest, TagAndTagsTakeEveryScalarType) {
  LoggedEvents out = Parse(
      "{\"tag\": \"owner\", \"value\": \"ana\"}\n"
      "{\"tags\": {\"team\": \"ml\", \"prio\": 2, \"ratio\": 0.1, \"ok\": false, \"x\": null}}\n");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.tags, ElementsAre(Pair("ok", "false"), Pair("owner", "ana"), Pair("prio", "2"),
                                    Pair("ratio", "0.1"), Pair("team", "ml"), Pair("x", "null")));
  EXPECT_THAT(out.params, IsEmpty());
}

TEST(EventLogTest, ParamOrTagValueObjectOrArrayIsAWarning) {
  EXPECT_EQ(Warning(R"({"param": "p", "value": {"a": 1}})"),
            "train.jsonl:1: param 'p': value must be a string, number, boolean or null");
  EXPECT_THAT(Warning(R"({"param": "p", "value": [1, 2]})"), HasSubstr("param 'p': value must be"));
  EXPECT_THAT(Warning(R"({"params": {"ok": 1, "p": []}})"), HasSubstr("param 'p': value must be"));
  EXPECT_THAT(Warning(R"({"tag": "t", "value": {}})"), HasSubstr("tag 't': value must be"));
  EXPECT_THAT(Warning(R"({"tags": {"t": [null]}})"), HasSubstr("tag 't': value must be"));
  EXPECT_THAT(Warning(R"({"param": "p"})"), HasSubstr("param 'p': no value"));
  EXPECT_THAT(Warning(R"({"tag": 1, "value": "x"})"), HasSubstr("tag name is not a string"));
  EXPECT_THAT(Warning(R"({"params": "x"})"), HasSubstr("params is not an object"));
}

// --- artifact ---

TEST(EventLogTest, ArtifactNameDefaultsToLastPathComponent) {
  LoggedEvents out = Parse(
      "{\"artifact\": \"out/model/model.bin\"}\n"
      "{\"artifact\": \"report.html\"}\n"
      "{\"artifact\": \"/abs/plot.png\"}\n");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.artifacts,
              ElementsAre(ArtifactEvent{"out/model/model.bin", "model.bin"}, ArtifactEvent{"report.html", "report.html"},
                          ArtifactEvent{"/abs/plot.png", "plot.png"}));
}

TEST(EventLogTest, ArtifactTakesAName) {
  LoggedEvents out = Parse(R"({"artifact": "out/model.bin", "name": "best model"})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.artifacts, ElementsAre(ArtifactEvent{"out/model.bin", "best model"}));
}

TEST(EventLogTest, ArtifactErrors) {
  EXPECT_EQ(Warning(R"({"artifact": ""})"), "train.jsonl:1: artifact path is not a non-empty string");
  EXPECT_THAT(Warning(R"({"artifact": 3})"), HasSubstr("artifact path is not a non-empty string"));
  EXPECT_THAT(Warning(R"({"artifact": "a.bin", "name": 3})"), HasSubstr("artifact name is not a string"));
  EXPECT_THAT(Warning(R"({"artifact": "a.bin", "name": ""})"), HasSubstr("artifact: a name is empty"));
  EXPECT_THAT(Warning(R"({"artifact": "a.bin", "step": 1})"), HasSubstr("unknown field 'step'"));
}

// --- bad lines ---

TEST(EventLogTest, NotJsonIsAWarning) {
  EXPECT_THAT(Warning("loss=0.5"), StartsWith("train.jsonl:1: not JSON ("));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": 0.5)"), StartsWith("train.jsonl:1: not JSON ("));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": 0.5}})"), StartsWith("train.jsonl:1: not JSON ("));
}

TEST(EventLogTest, NotAnObjectIsAWarning) {
  EXPECT_EQ(Warning(R"([{"metric": "loss", "value": 0.5}])"), "train.jsonl:1: not a JSON object");
  EXPECT_EQ(Warning("42"), "train.jsonl:1: not a JSON object");
  EXPECT_EQ(Warning(R"("metric")"), "train.jsonl:1: not a JSON object");
}

TEST(EventLogTest, EventKeyMissingOrTwiceIsAWarning) {
  EXPECT_EQ(Warning(R"({"value": 0.5, "step": 1})"),
            "train.jsonl:1: no event key (expected metric, metrics, param, params, tag, tags or artifact)");
  EXPECT_THAT(Warning("{}"), HasSubstr("no event key"));
  EXPECT_EQ(Warning(R"({"metric": "loss", "param": "lr", "value": 1})"), "train.jsonl:1: both 'metric' and 'param'");
  EXPECT_THAT(Warning(R"({"tags": {}, "artifact": "a"})"), HasSubstr("both 'tags' and 'artifact'"));
}

TEST(EventLogTest, UnknownFieldIsAWarning) {
  EXPECT_EQ(Warning(R"({"metric": "loss", "value": 0.5, "stpe": 3})"),
            "train.jsonl:1: 'metric' event: unknown field 'stpe'");
  EXPECT_THAT(Warning(R"({"metrics": {"a": 1}, "value": 2})"), HasSubstr("'metrics' event: unknown field 'value'"));
  EXPECT_THAT(Warning(R"({"param": "p", "value": 1, "step": 2})"), HasSubstr("'param' event: unknown field 'step'"));
  EXPECT_THAT(Warning(R"({"tags": {"a": 1}, "value": 2})"), HasSubstr("'tags' event: unknown field 'value'"));
}

TEST(EventLogTest, StepMustBeAnInteger) {
  EXPECT_EQ(Warning(R"({"metric": "loss", "value": 0.5, "step": 1.5})"), "train.jsonl:1: step is 1.5, not an integer");
  EXPECT_EQ(Warning(R"({"metric": "loss", "value": 0.5, "step": "3"})"),
            "train.jsonl:1: step is \"3\", not an integer");
  EXPECT_THAT(Warning(R"({"metrics": {"loss": 0.5}, "step": null})"), HasSubstr("step is null, not an integer"));
  EXPECT_THAT(Warning(R"({"metric": "loss", "value": 0.5, "step": 9223372036854775808})"),
              HasSubstr("not an integer"));
}

TEST(EventLogTest, TimestampMustBeAnInteger) {
  EXPECT_EQ(Warning(R"({"metric": "loss", "value": 0.5, "timestamp": 1.5})"),
            "train.jsonl:1: timestamp is 1.5, not an integer (ms since the Unix epoch)");
  EXPECT_THAT(Warning(R"({"metrics": {"loss": 0.5}, "timestamp": "2024-01-01"})"),
              HasSubstr("timestamp is \"2024-01-01\", not an integer"));
}

TEST(EventLogTest, NamesMustBeNonEmptyShortAndWithoutControlCharacters) {
  EXPECT_EQ(Warning(R"({"metric": "", "value": 1})"), "train.jsonl:1: metric: a name is empty");
  EXPECT_THAT(Warning(R"({"metrics": {"": 1}})"), HasSubstr("metric: a name is empty"));
  EXPECT_THAT(Warning(R"({"param": "", "value": 1})"), HasSubstr("param: a name is empty"));
  EXPECT_THAT(Warning(R"({"tags": {"": "x"}})"), HasSubstr("tag: a name is empty"));

  const std::string long_name(251, 'n');
  EXPECT_THAT(Warning(R"({"metric": ")" + long_name + R"(", "value": 1})"), HasSubstr("is over 250 bytes"));
  EXPECT_THAT(Warning(R"({"params": {")" + long_name + R"(": 1}})"), HasSubstr("is over 250 bytes"));
  EXPECT_THAT(Warning(R"({"tag": ")" + long_name + R"(", "value": 1})"), HasSubstr("is over 250 bytes"));
  const std::string longest(250, 'n');
  EXPECT_THAT(Parse(R"({"metric": ")" + longest + R"(", "value": 1})").metrics, ElementsAre(Point(longest, 1)));

  EXPECT_THAT(Warning(R"({"metric": "a\tb", "value": 1})"), HasSubstr("has a control character"));
  EXPECT_THAT(Warning(R"({"param": "a\nb", "value": 1})"), HasSubstr("has a control character"));
  EXPECT_THAT(Warning(R"({"tags": {"a\u0001": 1}})"), HasSubstr("has a control character"));
  EXPECT_THAT(Warning(R"({"artifact": "out/a\u001fb"})"), HasSubstr("has a control character"));
}

TEST(EventLogTest, NonAsciiNamesAreFine) {
  LoggedEvents out = Parse(R"({"metric": "pérte/λ", "value": 1})");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_THAT(out.metrics, ElementsAre(Point("pérte/λ", 1)));
}

TEST(EventLogTest, GoodLinesAroundABadOneAreKept) {
  LoggedEvents out = Parse(
      "{\"metric\": \"loss\", \"value\": 1, \"step\": 1}\n"
      "{\"param\": \"lr\", \"value\": 0.1}\n"
      "{\"metrics\": {\"loss\": 0.9, \"acc\": \"high\"}, \"step\": 2}\n"
      "{\"metric\": \"loss\", \"value\": 0.8, \"step\": 3}\n"
      "{\"params\": {\"ok\": 1, \"bad\": {}}}\n"
      "{\"tag\": \"t\", \"value\": \"x\"}\n");
  EXPECT_THAT(out.warnings, ElementsAre("train.jsonl:3: metric 'acc': value is \"high\", not a number",
                                        "train.jsonl:5: param 'bad': value must be a string, number, boolean or null"));
  EXPECT_THAT(out.metrics, ElementsAre(Point("loss", 1, 1), Point("loss", 0.8, 3)));
  EXPECT_THAT(out.params, ElementsAre(Pair("lr", "0.1")));
  EXPECT_THAT(out.tags, ElementsAre(Pair("t", "x")));
}

TEST(EventLogTest, BlankLinesAreSkippedWithoutWarning) {
  LoggedEvents out = Parse(
      "\n"
      "   \n"
      "\t\r\n"
      "{\"metric\": \"a\", \"value\": 1}\r\n"
      "\n"
      "oops\n");
  EXPECT_THAT(out.metrics, ElementsAre(Point("a", 1)));
  EXPECT_THAT(out.warnings, ElementsAre(StartsWith("train.jsonl:6: not JSON")));
}

TEST(EventLogTest, LastLineNeedsNoNewline) {
  LoggedEvents out = Parse("{\"metric\": \"a\", \"value\": 1}\n{\"metric\": \"b\", \"value\": 2}");
  EXPECT_THAT(out.metrics, ElementsAre(Point("a", 1), Point("b", 2)));
  EXPECT_TRUE(Parse("").empty());
  EXPECT_THAT(Parse("").warnings, IsEmpty());
}

TEST(EventLogTest, LineNumbersStartAtFirstLine) {
  LoggedEvents out = Parse(
      "{\"metric\": \"a\", \"value\": 1}\n"
      "\n"
      "bad\n"
      "[1]\n",
      41);
  EXPECT_THAT(out.warnings, ElementsAre(StartsWith("train.jsonl:43: not JSON"), "train.jsonl:44: not a JSON object"));
}

TEST(EventLogTest, ALongLineAfterAShortOneParses) {
  // The line buffer grows between lines.
  const std::string name(200, 'x');
  LoggedEvents out = Parse("{\"tag\": \"a\", \"value\": 1}\n{\"tag\": \"" + name + "\", \"value\": \"" +
                           std::string(5000, 'v') + "\"}\n{\"tag\": \"b\", \"value\": 2}\n");
  EXPECT_THAT(out.warnings, IsEmpty());
  EXPECT_EQ(out.tags.size(), 3u);
  EXPECT_EQ(out.tags[name], std::string(5000, 'v'));
  EXPECT_EQ(out.tags["b"], "2");
}

TEST(EventLogTest, ShortLineAfterALongOneIsNotReadPastItsEnd) {
  // The bytes of the longer line stay in the buffer behind the short one.
  LoggedEvents out = Parse(
      "{\"metric\": \"loss\", \"value\": 0.5, \"step\": 1234567}\n"
      "{\"metric\": \"loss\", \"value\": 1}\n"
      "1\n"
      "{\"tag\":\"a\",\"value\":1}\n");
  EXPECT_THAT(out.warnings, ElementsAre("train.jsonl:3: not a JSON object"));
  EXPECT_THAT(out.metrics, ElementsAre(Point("loss", 0.5, 1234567), Point("loss", 1)));
  EXPECT_THAT(out.tags, ElementsAre(Pair("a", "1")));
}

// --- EventLogReader ---

class EventLogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-event-log-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    path_ = dir_ + "/metrics.jsonl";
  }
  void TearDown() override {
    file_.reset();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Appends `data` to the event file, creating it on the first call.
  void Append(std::string_view data) {
    if (file_ == nullptr) {
      Result<std::unique_ptr<WritableFile>> file = DefaultEnv()->CreateFile(path_, 0644);
      ASSERT_TRUE(file.ok()) << file.status().ToString();
      file_ = std::move(*file);
    }
    ASSERT_TRUE(file_->Append(data).ok());
  }

  // Reads what is new; every batch handed to consume is appended to `all_`.
  Status Read(EventLogReader* reader, bool final, size_t max_bytes = size_t{16} << 20) {
    return reader->ReadNew(
        final, kNow,
        [&](LoggedEvents& events) {
          ++batches_;
          for (MetricPoint& p : events.metrics) all_.metrics.push_back(p);
          for (auto& [k, v] : events.params) all_.params[k] = v;
          for (auto& [k, v] : events.tags) all_.tags[k] = v;
          for (ArtifactEvent& a : events.artifacts) all_.artifacts.push_back(a);
          for (std::string& w : events.warnings) all_.warnings.push_back(w);
          return Status::Ok();
        },
        max_bytes);
  }

  static std::string MetricLine(int step) {
    return "{\"metric\": \"loss\", \"value\": " + std::to_string(step) + ", \"step\": " + std::to_string(step) + "}\n";
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  LoggedEvents all_;
  int batches_ = 0;
};

TEST_F(EventLogReaderTest, AbsentFileHasNoEvents) {
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  EXPECT_TRUE(Read(&reader, false).ok());
  EXPECT_TRUE(Read(&reader, true).ok());
  EXPECT_EQ(batches_, 0);
  EXPECT_TRUE(all_.empty());
}

TEST_F(EventLogReaderTest, ReadsAppendsAsTheyComeAndHoldsAPartialLine) {
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  Append("");
  ASSERT_TRUE(Read(&reader, false).ok());
  EXPECT_EQ(batches_, 0);

  Append(MetricLine(1) + "{\"metric\": \"loss\", \"va");
  ASSERT_TRUE(Read(&reader, false).ok());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1)));

  ASSERT_TRUE(Read(&reader, false).ok());  // nothing new
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1)));

  Append("lue\": 2, \"step\": 2}");
  ASSERT_TRUE(Read(&reader, false).ok());  // still no '\n'
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1)));

  Append("\n" + MetricLine(3));
  ASSERT_TRUE(Read(&reader, false).ok());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1), Point("loss", 2, 2), Point("loss", 3, 3)));
  EXPECT_THAT(all_.warnings, IsEmpty());
}

TEST_F(EventLogReaderTest, FinalReadTakesAPartialLastLine) {
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  Append(MetricLine(1) + "{\"tag\": \"done\", \"value\": true}");
  ASSERT_TRUE(Read(&reader, false).ok());
  EXPECT_THAT(all_.tags, IsEmpty());
  ASSERT_TRUE(Read(&reader, true).ok());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1)));
  EXPECT_THAT(all_.tags, ElementsAre(Pair("done", "true")));
  EXPECT_THAT(all_.warnings, IsEmpty());
}

TEST_F(EventLogReaderTest, LineNumbersContinueAcrossCalls) {
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  Append(MetricLine(1) + "\nbad one\n");
  ASSERT_TRUE(Read(&reader, false).ok());
  Append(MetricLine(2) + "bad two\n\n[]");
  ASSERT_TRUE(Read(&reader, false).ok());
  EXPECT_THAT(all_.warnings, ElementsAre(StartsWith("metrics.jsonl:3: not JSON"), StartsWith("metrics.jsonl:5: not JSON")));
  ASSERT_TRUE(Read(&reader, true).ok());
  EXPECT_THAT(all_.warnings, ElementsAre(StartsWith("metrics.jsonl:3: not JSON"), StartsWith("metrics.jsonl:5: not JSON"),
                                         "metrics.jsonl:7: not a JSON object"));
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1), Point("loss", 2, 2)));
}

TEST_F(EventLogReaderTest, SmallMaxBytesReadsInSeveralBatchesInOrder) {
  std::string text;
  for (int step = 0; step < 50; ++step) text += MetricLine(step);
  text += "bad\n";
  Append(text);
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  ASSERT_TRUE(Read(&reader, false, 100).ok());
  EXPECT_GT(batches_, 10);
  ASSERT_EQ(all_.metrics.size(), 50u);
  for (int step = 0; step < 50; ++step) EXPECT_EQ(all_.metrics[static_cast<size_t>(step)], Point("loss", step, step));
  EXPECT_THAT(all_.warnings, ElementsAre(StartsWith("metrics.jsonl:51: not JSON")));

  // Nothing is read twice.
  int batches = batches_;
  ASSERT_TRUE(Read(&reader, true, 100).ok());
  EXPECT_EQ(batches_, batches);
  EXPECT_EQ(all_.metrics.size(), 50u);
}

TEST_F(EventLogReaderTest, LineLongerThanMaxBytesIsReadWhole) {
  const std::string value(1000, 'v');
  Append(MetricLine(1) + "{\"tag\": \"long\", \"value\": \"" + value + "\"}\n" + MetricLine(2));
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  ASSERT_TRUE(Read(&reader, false, 16).ok());
  EXPECT_THAT(all_.warnings, IsEmpty());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1), Point("loss", 2, 2)));
  EXPECT_THAT(all_.tags, ElementsAre(Pair("long", value)));
}

TEST_F(EventLogReaderTest, PartialLongLastLineWaitsForFinal) {
  const std::string value(300, 'v');
  Append(MetricLine(1) + "{\"tag\": \"long\", \"value\": \"" + value + "\"}");
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  ASSERT_TRUE(Read(&reader, false, 16).ok());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1)));
  EXPECT_THAT(all_.tags, IsEmpty());
  ASSERT_TRUE(Read(&reader, true, 16).ok());
  EXPECT_THAT(all_.tags, ElementsAre(Pair("long", value)));
  EXPECT_THAT(all_.warnings, IsEmpty());
}

TEST_F(EventLogReaderTest, ConsumeErrorStopsTheRead) {
  std::string text;
  for (int step = 0; step < 20; ++step) text += MetricLine(step);
  Append(text);
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  int calls = 0;
  Status status = reader.ReadNew(
      false, kNow,
      [&](LoggedEvents& events) {
        ++calls;
        EXPECT_FALSE(events.metrics.empty());
        return UnavailableError("run store is busy");
      },
      100);
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "run store is busy");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

// A line over kMaxLineBytes is skipped with one warning, whether its end is
// written later or never (then the final read skips it); the lines around
// it are read, with their numbers.
TEST_F(EventLogReaderTest, LineOverTheLimitIsSkippedWithAWarning) {
  EventLogReader reader(DefaultEnv(), path_, "metrics.jsonl");
  std::string junk(kMaxLineBytes + 1000, 'x');
  Append(MetricLine(1) + junk);
  ASSERT_TRUE(Read(&reader, false, size_t{1} << 20).ok());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1)));
  EXPECT_THAT(all_.warnings, IsEmpty());  // its end is not written yet

  Append("x\n" + MetricLine(3) + junk);
  ASSERT_TRUE(Read(&reader, false, size_t{1} << 20).ok());
  EXPECT_THAT(all_.metrics, ElementsAre(Point("loss", 1, 1), Point("loss", 3, 3)));
  ASSERT_EQ(all_.warnings.size(), 1u);
  EXPECT_EQ(all_.warnings[0], "metrics.jsonl:2: a line over 16 MiB; skipped");

  ASSERT_TRUE(Read(&reader, true, size_t{1} << 20).ok());
  ASSERT_EQ(all_.warnings.size(), 2u);
  EXPECT_EQ(all_.warnings[1], "metrics.jsonl:4: a line over 16 MiB; skipped");
}

}  // namespace
}  // namespace keel
