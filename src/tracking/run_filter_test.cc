#include "tracking/run_filter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace keel {

// Shows codes and conditions readably in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

[[maybe_unused]] static void PrintTo(const RunCondition& c, std::ostream* os) {
  *os << "{field " << static_cast<int>(c.field) << ", key '" << c.key << "', op "
      << static_cast<int>(c.op) << ", ";
  if (const auto* d = std::get_if<double>(&c.value))
    *os << *d << "}";
  else
    *os << "'" << std::get<std::string>(c.value) << "'}";
}

static bool operator==(const RunCondition& a, const RunCondition& b) {
  return a.field == b.field && a.key == b.key && a.op == b.op && a.value == b.value;
}

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<RunCondition> MustParse(std::string_view text) {
  Result<std::vector<RunCondition>> r = ParseRunFilter(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : std::vector<RunCondition>();
}

RunCondition MustParseOne(std::string_view text) {
  std::vector<RunCondition> conditions = MustParse(text);
  EXPECT_EQ(conditions.size(), 1u) << text;
  return conditions.empty() ? RunCondition() : conditions[0];
}

// The message of the error `text` gives; every one is an invalid argument.
std::string FilterError(std::string_view text) {
  Result<std::vector<RunCondition>> r = ParseRunFilter(text);
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  EXPECT_THAT(r.status().message(), StartsWith("--where: ")) << text;
  return r.status().message();
}

std::string SortError(std::string_view text) {
  Result<RunSort> r = ParseRunSort(text);
  EXPECT_FALSE(r.ok()) << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << text;
  EXPECT_THAT(r.status().message(), StartsWith("--sort: ")) << text;
  return r.status().message();
}

RunSort MustSort(std::string_view text) {
  Result<RunSort> r = ParseRunSort(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : RunSort();
}

TEST(RunFilterTest, ParsesTheIssueExample) {
  EXPECT_THAT(MustParse("metrics.auc > 0.9 and params.train.max_depth = 6"),
              ElementsAre(RunCondition{RunField::kMetric, "auc", CompareOp::kGt, 0.9},
                          RunCondition{RunField::kParam, "train.max_depth", CompareOp::kEq, 6.0}));
}

TEST(RunFilterTest, EmptyOrBlankTextIsNoCondition) {
  EXPECT_TRUE(MustParse("").empty());
  EXPECT_TRUE(MustParse("  \t\n ").empty());
}

TEST(RunFilterTest, ParsesEveryOperator) {
  const std::vector<std::pair<std::string, CompareOp>> ops = {
      {"=", CompareOp::kEq},  {"!=", CompareOp::kNe}, {"<", CompareOp::kLt},
      {"<=", CompareOp::kLe}, {">", CompareOp::kGt},  {">=", CompareOp::kGe}};
  for (const auto& [token, op] : ops) {
    EXPECT_EQ(MustParseOne("metrics.loss " + token + " 1"),
              (RunCondition{RunField::kMetric, "loss", op, 1.0}));
    EXPECT_EQ(MustParseOne("metrics.loss" + token + "1"),
              (RunCondition{RunField::kMetric, "loss", op, 1.0}));
  }
  EXPECT_EQ(MustParseOne("tags.team like 'ml%'"),
            (RunCondition{RunField::kTag, "team", CompareOp::kLike, "ml%"}));
  EXPECT_EQ(MustParseOne("tags.team LIKE 'ml%'"),
            (RunCondition{RunField::kTag, "team", CompareOp::kLike, "ml%"}));
  EXPECT_EQ(MustParseOne("experiment ILike 'Churn%'"),
            (RunCondition{RunField::kAttribute, "experiment", CompareOp::kILike, "Churn%"}));
}

TEST(RunFilterTest, AndIsCaseInsensitive) {
  EXPECT_EQ(MustParse("id > 1 AND id < 5 And dirty = false").size(), 3u);
}

TEST(RunFilterTest, ParsesNumbers) {
  EXPECT_EQ(MustParseOne("metrics.a = -1.5e3").value, FilterValue(-1500.0));
  EXPECT_EQ(MustParseOne("metrics.a = +2").value, FilterValue(2.0));
  EXPECT_EQ(MustParseOne("metrics.a = .5").value, FilterValue(0.5));
  EXPECT_EQ(MustParseOne("metrics.a = 1E-2").value, FilterValue(0.01));
}

TEST(RunFilterTest, ParsesQuotedStringsWithEscapes) {
  EXPECT_EQ(MustParseOne("tags.note = 'it\\'s'").value, FilterValue("it's"));
  EXPECT_EQ(MustParseOne("tags.note = \"say \\\"hi\\\"\"").value, FilterValue("say \"hi\""));
  EXPECT_EQ(MustParseOne("tags.note = 'a\\\\b'").value, FilterValue("a\\b"));
  EXPECT_EQ(MustParseOne("tags.note = \"it's\"").value, FilterValue("it's"));
  EXPECT_EQ(MustParseOne("tags.note = 'and or = <'").value, FilterValue("and or = <"));
  EXPECT_EQ(MustParseOne("tags.path = 'C:\\data'").value, FilterValue("C:\\data"));
  EXPECT_EQ(MustParseOne("tags.note = ''").value, FilterValue(""));
}

TEST(RunFilterTest, ParsesBacktickNames) {
  EXPECT_EQ(MustParseOne("params.`my param` = 'x'"),
            (RunCondition{RunField::kParam, "my param", CompareOp::kEq, "x"}));
  EXPECT_EQ(MustParseOne("metrics.`val loss (avg)` < 0.3"),
            (RunCondition{RunField::kMetric, "val loss (avg)", CompareOp::kLt, 0.3}));
  EXPECT_EQ(MustParseOne("tags.`a.b` = 'c'").key, "a.b");
}

TEST(RunFilterTest, NamesKeepDotsAndSlashes) {
  EXPECT_EQ(MustParseOne("metrics.eval/auc:v2 >= 0.5").key, "eval/auc:v2");
  EXPECT_EQ(MustParseOne("params.opt.lr-max = 0.1").key, "opt.lr-max");
}

TEST(RunFilterTest, ParsesAttributesBareOrPrefixed) {
  EXPECT_EQ(MustParseOne("status = 'finished'"),
            (RunCondition{RunField::kAttribute, "status", CompareOp::kEq, "finished"}));
  EXPECT_EQ(MustParseOne("attributes.status != 'failed'"),
            (RunCondition{RunField::kAttribute, "status", CompareOp::kNe, "failed"}));
  EXPECT_EQ(MustParseOne("start_time >= 1700000000000"),
            (RunCondition{RunField::kAttribute, "start_time", CompareOp::kGe, 1700000000000.0}));
  EXPECT_EQ(MustParseOne("host = \"gpu-1\"").value, FilterValue("gpu-1"));
  EXPECT_EQ(MustParseOne("status like 'fin%'").value, FilterValue("fin%"));
}

TEST(RunFilterTest, TrueAndFalseAreNumbersForNumericFields) {
  EXPECT_EQ(MustParseOne("dirty = true"),
            (RunCondition{RunField::kAttribute, "dirty", CompareOp::kEq, 1.0}));
  EXPECT_EQ(MustParseOne("dirty = FALSE").value, FilterValue(0.0));
  EXPECT_EQ(MustParseOne("metrics.converged = true").value, FilterValue(1.0));
}

TEST(RunFilterTest, ParamsCompareAsNumbersOnlyWhenGivenOne) {
  EXPECT_EQ(MustParseOne("params.lr = 0.1").value, FilterValue(0.1));
  EXPECT_EQ(MustParseOne("params.lr = '0.1'").value, FilterValue("0.1"));
  EXPECT_EQ(MustParseOne("params.opt like 'ad%'").value, FilterValue("ad%"));
}

TEST(RunFilterTest, TagsKeepNumbersAsTyped) {
  EXPECT_EQ(MustParseOne("tags.epoch = 5"),
            (RunCondition{RunField::kTag, "epoch", CompareOp::kEq, "5"}));
  EXPECT_EQ(MustParseOne("tags.epoch = 5.0").value, FilterValue("5.0"));
  EXPECT_EQ(MustParseOne("tags.v > 'b'").op, CompareOp::kGt);
}

TEST(RunFilterErrorTest, UnknownOperatorNamesColumnAndToken) {
  std::string message = FilterError("metrics.auc == 0.9");
  EXPECT_EQ(
      message,
      "--where: column 13: unknown operator '=='; expected =, !=, <, <=, >, >=, like or ilike");
  EXPECT_THAT(FilterError("id <> 3"), HasSubstr("column 4: unknown operator '<>'"));
  EXPECT_THAT(FilterError("id ~ 3"), HasSubstr("column 4: unknown operator '~'"));
  EXPECT_THAT(FilterError("tags.a glob 'x'"), HasSubstr("column 8: unknown operator 'glob'"));
  EXPECT_THAT(FilterError("metrics.auc"), HasSubstr("missing operator after 'metrics.auc'"));
}

TEST(RunFilterErrorTest, UnknownFieldSuggestsTheNearest) {
  EXPECT_EQ(FilterError("metric.auc > 0.9"),
            "--where: unknown field 'metric.auc' (did you mean 'metrics.auc'?)");
  EXPECT_THAT(FilterError("param.lr = 1"), HasSubstr("did you mean 'params.lr'?"));
  EXPECT_THAT(FilterError("stauts = 'failed'"),
              HasSubstr("unknown field 'stauts' (did you mean 'status'?)"));
  EXPECT_THAT(FilterError("attributes.hots = 'x'"), HasSubstr("did you mean 'attributes.host'?"));
  EXPECT_THAT(FilterError("auc > 0.9"), HasSubstr("unknown field 'auc'; a field is metrics.NAME"));
}

TEST(RunFilterErrorTest, FieldsNeedAName) {
  EXPECT_THAT(FilterError("metrics. > 1"), HasSubstr("column 1: 'metrics.' needs a name"));
  EXPECT_THAT(FilterError("params.`` = 1"), HasSubstr("column 1: 'params.``' needs a name"));
  EXPECT_THAT(FilterError("params.`my param = 1"),
              HasSubstr("column 8: unterminated name `my param"));
  EXPECT_THAT(FilterError("(id = 1)"), HasSubstr("column 1: expected a field, found '(id'"));
}

TEST(RunFilterErrorTest, MetricsAreNumbers) {
  EXPECT_EQ(FilterError("metrics.auc = 'high'"),
            "--where: metrics.auc is a number, but 'high' is a string");
  EXPECT_EQ(FilterError("metrics.auc like '0.9%'"),
            "--where: like compares strings, but metrics.auc is a number");
  EXPECT_THAT(FilterError("id ilike '1%'"),
              HasSubstr("ilike compares strings, but id is a number"));
  EXPECT_THAT(FilterError("start_time > 'today'"),
              HasSubstr("start_time is a number, but 'today' is a string"));
}

TEST(RunFilterErrorTest, StringAttributesNeedQuotedValues) {
  EXPECT_EQ(FilterError("status = 5"), "--where: status is a string; quote the value: '5'");
  EXPECT_THAT(FilterError("git_commit = 1234"), HasSubstr("quote the value: '1234'"));
  EXPECT_THAT(FilterError("host = true"), HasSubstr("host is a string; quote the value: 'true'"));
  EXPECT_THAT(FilterError("status = done"),
              HasSubstr("column 10: 'done' is not a value; quote a string: 'done'"));
}

TEST(RunFilterErrorTest, StatusMustBeKnown) {
  std::string message = FilterError("status = 'finshed'");
  EXPECT_THAT(message, HasSubstr("unknown status 'finshed' (did you mean 'finished'?)"));
  EXPECT_THAT(message, HasSubstr("running, finished, failed or killed"));
}

TEST(RunFilterErrorTest, LikeNeedsAString) {
  EXPECT_THAT(FilterError("params.depth like 6"),
              HasSubstr("like compares strings; quote the value: '6'"));
  EXPECT_THAT(FilterError("tags.epoch ilike 5"),
              HasSubstr("ilike compares strings; quote the value: '5'"));
}

TEST(RunFilterErrorTest, TrueAndFalseOnlyForNumericFields) {
  EXPECT_THAT(FilterError("params.gpu = true"),
              HasSubstr("params.gpu: true and false are only for numeric"));
  EXPECT_THAT(FilterError("tags.ok = false"), HasSubstr("quote the value: 'false'"));
}

TEST(RunFilterErrorTest, UnterminatedString) {
  EXPECT_EQ(FilterError("status = 'fin"), "--where: column 10: unterminated string 'fin");
  EXPECT_THAT(FilterError("tags.a = \"x\\\""), HasSubstr("column 10: unterminated string \"x\\\""));
}

TEST(RunFilterErrorTest, MissingValue) {
  EXPECT_THAT(FilterError("metrics.auc >"), HasSubstr("column 14: missing value after '>'"));
  EXPECT_THAT(FilterError("metrics.auc >   "), HasSubstr("missing value after '>'"));
}

TEST(RunFilterErrorTest, BadNumber) {
  EXPECT_THAT(FilterError("metrics.auc > 0.9.1"), HasSubstr("column 15: bad number '0.9.1'"));
  EXPECT_THAT(FilterError("metrics.auc > 0x10"), HasSubstr("bad number '0x10'"));
  EXPECT_THAT(FilterError("metrics.auc > 1e999"), HasSubstr("bad number '1e999'"));
  EXPECT_THAT(FilterError("metrics.auc > inf"), HasSubstr("'inf' is not a value"));
}

TEST(RunFilterErrorTest, TrailingGarbage) {
  EXPECT_THAT(FilterError("id = 1 id = 2"),
              HasSubstr("column 8: expected 'and' or the end, found 'id'"));
  EXPECT_THAT(FilterError("tags.a = 'x' )"),
              HasSubstr("column 14: expected 'and' or the end, found ')'"));
  EXPECT_THAT(FilterError("id = 1 && id = 2"), HasSubstr("found '&&'"));
}

TEST(RunFilterErrorTest, EmptyConditions) {
  EXPECT_THAT(FilterError("id = 1 and and id = 2"),
              HasSubstr("column 12: empty condition before 'and'"));
  EXPECT_THAT(FilterError("and id = 1"), HasSubstr("column 1: empty condition before 'and'"));
  EXPECT_THAT(FilterError("id = 1 and"),
              HasSubstr("column 8: 'and' is not followed by a condition"));
  EXPECT_THAT(FilterError("id = 1 AND  "),
              HasSubstr("column 8: 'AND' is not followed by a condition"));
}

TEST(RunFilterErrorTest, OrIsNotSupported) {
  EXPECT_EQ(FilterError("id = 1 or id = 2"),
            "--where: column 8: 'or' is not supported; conditions are joined with 'and'");
  EXPECT_THAT(FilterError("id = 1 OR id = 2"), HasSubstr("column 8: 'OR' is not supported"));
}

TEST(RunFilterErrorTest, LongTokensAreCutShort) {
  std::string message = FilterError("id = 1 " + std::string(500, 'x'));
  EXPECT_THAT(message, HasSubstr("found '" + std::string(40, 'x') + "...'"));
  EXPECT_LT(message.size(), 120u);
}

TEST(RunFilterSortTest, SignsSetTheDirection) {
  RunSort sort = MustSort("metrics.auc");
  EXPECT_EQ(sort.field, RunField::kMetric);
  EXPECT_EQ(sort.key, "auc");
  EXPECT_FALSE(sort.descending);
  EXPECT_FALSE(MustSort("+metrics.auc").descending);
  sort = MustSort("-start_time");
  EXPECT_EQ(sort.field, RunField::kAttribute);
  EXPECT_EQ(sort.key, "start_time");
  EXPECT_TRUE(sort.descending);
}

TEST(RunFilterSortTest, AscAndDescWords) {
  RunSort sort = MustSort("  params.train.max_depth DESC ");
  EXPECT_EQ(sort.field, RunField::kParam);
  EXPECT_EQ(sort.key, "train.max_depth");
  EXPECT_TRUE(sort.descending);
  EXPECT_FALSE(MustSort("tags.team asc").descending);
  EXPECT_TRUE(MustSort("metrics.`val loss` desc").descending);
  EXPECT_EQ(MustSort("metrics.`val loss` desc").key, "val loss");
  EXPECT_EQ(MustSort("attributes.id").key, "id");
}

TEST(RunFilterSortTest, Errors) {
  EXPECT_THAT(SortError(""), HasSubstr("nothing to sort by"));
  EXPECT_THAT(SortError("-"), HasSubstr("column 2: expected a field"));
  EXPECT_EQ(SortError("-metric.auc"),
            "--sort: unknown field 'metric.auc' (did you mean 'metrics.auc'?)");
  EXPECT_THAT(SortError("metrics.auc down"),
              HasSubstr("column 13: expected asc or desc after the field, found 'down'"));
  EXPECT_THAT(SortError("-metrics.auc desc"), HasSubstr("column 14: give the direction once"));
  EXPECT_THAT(SortError("metrics.auc desc x"), HasSubstr("column 18: unexpected 'x' after 'desc'"));
  EXPECT_THAT(SortError("metrics.`auc"), HasSubstr("column 9: unterminated name `auc"));
}

}  // namespace
}  // namespace keel

namespace keel {
namespace {

TEST(RunFilterTest, StatusInAnyCaseAsMlflowWritesIt) {
  Result<std::vector<RunCondition>> parsed = ParseRunFilter("status = 'FINISHED'");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ(std::get<std::string>((*parsed)[0].value), "finished");
}

}  // namespace
}  // namespace keel
