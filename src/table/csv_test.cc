#include "table/csv.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace keel::table {
namespace {

using Strings = std::vector<std::string>;

constexpr char kFile[] = "data/train.csv";

Table Parse(std::string_view text, const CsvOptions& options = {}) {
  Result<Table> table = ParseCsv(text, kFile, options);
  EXPECT_TRUE(table.ok()) << table.status().ToString();
  return table.ok() ? std::move(table).value() : Table{};
}

// The error message of a failed parse ("" when it succeeds).
std::string ErrorOf(std::string_view text, const CsvOptions& options = {}) {
  Result<Table> table = ParseCsv(text, kFile, options);
  if (table.ok()) return "";
  EXPECT_EQ(table.status().code(), StatusCode::kInvalidArgument) << table.status().ToString();
  return table.status().message();
}

CsvOptions Declared(std::map<std::string, ColumnType, std::less<>> declared) {
  CsvOptions options;
  options.declared = std::move(declared);
  return options;
}

float Float(const char* text) {
  return static_cast<float>(std::strtod(text, nullptr));
}

// The texts of a categorical column's values ("<missing>" for missing).
Strings Texts(const Column& column) {
  Strings out;
  for (int32_t code : column.codes) {
    out.push_back(code == Column::kMissingCode ? "<missing>" : column.categories.at(code));
  }
  return out;
}

// ---------------------------------------------------------------- table.h

TEST(TableTest, ColumnTypeNames) {
  EXPECT_EQ(ColumnTypeName(ColumnType::kNumeric), "numeric");
  EXPECT_EQ(ColumnTypeName(ColumnType::kCategorical), "categorical");
}

TEST(TableTest, ColumnIndexFindsByName) {
  Table table = Parse("age,city\n1,x\n");
  EXPECT_EQ(table.ColumnIndex("age"), 0);
  EXPECT_EQ(table.ColumnIndex("city"), 1);
  EXPECT_EQ(table.ColumnIndex("Age"), -1);
  EXPECT_EQ(table.ColumnIndex(""), -1);
}

// ---------------------------------------------------------------- shape

TEST(CsvTest, ReadsColumnsInFileOrder) {
  Table table = Parse("age,city,score\n31,Paris,0.5\n42,Oslo,1.5\n");
  ASSERT_EQ(table.rows, 2u);
  ASSERT_EQ(table.columns.size(), 3u);
  EXPECT_EQ(table.columns[0].name, "age");
  EXPECT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{31, 42}));
  EXPECT_TRUE(table.columns[0].codes.empty());
  EXPECT_EQ(table.columns[1].type, ColumnType::kCategorical);
  EXPECT_EQ(table.columns[1].codes, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(table.columns[1].categories, (Strings{"Paris", "Oslo"}));
  EXPECT_TRUE(table.columns[1].numbers.empty());
  EXPECT_EQ(table.columns[2].numbers, (std::vector<float>{0.5f, 1.5f}));
  for (const Column& column : table.columns) EXPECT_EQ(column.size(), table.rows);
}

TEST(CsvTest, CategoriesInOrderOfFirstAppearance) {
  Table table = Parse("c\nb\na\nb\nc\na\n");
  EXPECT_EQ(table.columns[0].categories, (Strings{"b", "a", "c"}));
  EXPECT_EQ(table.columns[0].codes, (std::vector<int32_t>{0, 1, 0, 2, 1}));
}

TEST(CsvTest, HeaderOnlyGivesNoRows) {
  for (std::string_view text : {"a,b\n", "a,b", "a,b\r\n", "a,b\n\n\n"}) {
    Table table = Parse(text);
    EXPECT_EQ(table.rows, 0u) << text;
    ASSERT_EQ(table.columns.size(), 2u) << text;
    EXPECT_EQ(table.columns[0].type, ColumnType::kNumeric);
    EXPECT_TRUE(table.columns[0].numbers.empty());
  }
}

TEST(CsvTest, LastLineWithoutLineBreakCounts) {
  Table table = Parse("a,b\n1,2\n3,4");
  ASSERT_EQ(table.rows, 2u);
  EXPECT_EQ(table.columns[1].numbers, (std::vector<float>{2, 4}));
}

TEST(CsvTest, BlankLinesAtTheEndDoNotCount) {
  EXPECT_EQ(Parse("a,b\n1,2\n\n\n").rows, 1u);
  EXPECT_EQ(Parse("a,b\r\n1,2\r\n\r\n\r\n").rows, 1u);
  EXPECT_EQ(Parse("a\nx\n\n").rows, 1u);
}

TEST(CsvTest, BlankLineInsideIsARowOfOneEmptyField) {
  Table table = Parse("a\n1\n\n2\n");
  ASSERT_EQ(table.rows, 3u);
  EXPECT_EQ(table.columns[0].numbers[0], 1.0f);
  EXPECT_TRUE(std::isnan(table.columns[0].numbers[1]));
  EXPECT_EQ(table.columns[0].numbers[2], 2.0f);
  EXPECT_EQ(ErrorOf("a,b\n1,2\n\n3,4\n"), "data/train.csv:3:2: expected 2 fields, found 1");
}

TEST(CsvTest, CrLfLineEnds) {
  Table table = Parse("a,b\r\n1,x\r\n2,y\r\n");
  ASSERT_EQ(table.rows, 2u);
  EXPECT_EQ(table.columns[1].name, "b");
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{1, 2}));
  EXPECT_EQ(table.columns[1].categories, (Strings{"x", "y"}));
}

TEST(CsvTest, LoneCarriageReturnIsText) {
  Table table = Parse("a\nx\ry\n");
  ASSERT_EQ(table.rows, 1u);
  EXPECT_EQ(table.columns[0].categories, (Strings{"x\ry"}));
}

TEST(CsvTest, ByteOrderMarkIsSkipped) {
  Table table = Parse(
      "\xEF\xBB\xBF"
      "age,b\n1,2\n");
  EXPECT_EQ(table.columns[0].name, "age");
  EXPECT_EQ(table.ColumnIndex("age"), 0);
  EXPECT_EQ(table.rows, 1u);
}

TEST(CsvTest, OtherDelimiters) {
  CsvOptions options;
  options.delimiter = ';';
  Table table = Parse("a;b\n1,5;x,y\n", options);
  ASSERT_EQ(table.columns.size(), 2u);
  EXPECT_EQ(table.columns[0].categories, (Strings{"1,5"}));
  EXPECT_EQ(table.columns[1].categories, (Strings{"x,y"}));
  options.delimiter = '\t';
  table = Parse("a\tb\n1\t\"x\ty\"\n", options);
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{1}));
  EXPECT_EQ(table.columns[1].categories, (Strings{"x\ty"}));
  options.delimiter = '"';
  EXPECT_EQ(ErrorOf("a\n", options),
            "data/train.csv: the delimiter cannot be a quote or a line break");
}

// ---------------------------------------------------------------- quoting

TEST(CsvTest, QuotedFieldsHoldDelimitersQuotesAndLineBreaks) {
  Table table = Parse(
      "name,n\n"
      "\"Smith, John\",1\n"
      "\"say \"\"hi\"\"\",2\n"
      "\"two\nlines\",3\n"
      "\"crlf\r\ninside\",4\n"
      "\"\"\"\",5\n");
  ASSERT_EQ(table.rows, 5u);
  EXPECT_EQ(table.columns[0].categories,
            (Strings{"Smith, John", "say \"hi\"", "two\nlines", "crlf\r\ninside", "\""}));
  EXPECT_EQ(table.columns[1].numbers, (std::vector<float>{1, 2, 3, 4, 5}));
}

TEST(CsvTest, QuotedHeaderNames) {
  Table table = Parse("\"a,b\",\"c\"\"d\"\n1,2\n");
  EXPECT_EQ(table.columns[0].name, "a,b");
  EXPECT_EQ(table.columns[1].name, "c\"d");
}

TEST(CsvTest, QuotedNumbersAreNumbers) {
  Table table = Parse("a\n\"7\"\n\"-1.5\"\n");
  EXPECT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{7, -1.5f}));
}

TEST(CsvTest, QuoteInsideUnquotedFieldIsText) {
  Table table = Parse("h\n5'10\"\nab\"c\n");
  EXPECT_EQ(table.columns[0].categories, (Strings{"5'10\"", "ab\"c"}));
}

TEST(CsvTest, QuotedFieldAtEndOfTextWithoutLineBreak) {
  Table table = Parse("a,b\n1,\"x\"");
  EXPECT_EQ(table.columns[1].categories, (Strings{"x"}));
}

TEST(CsvTest, UnterminatedQuote) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3,\"abc\n4,5\n"), "data/train.csv:3:2: unterminated quoted field");
  EXPECT_EQ(ErrorOf("a,b\n1,\"x\"\"\n"), "data/train.csv:2:2: unterminated quoted field");
  EXPECT_EQ(ErrorOf("\"a,b\n1,2\n"), "data/train.csv:1:1: unterminated quoted field");
}

TEST(CsvTest, TextAfterClosingQuote) {
  EXPECT_EQ(
      ErrorOf("a,b\n1,\"x\"y\n"),
      "data/train.csv:2:2: a closing quote is followed by 'y', not by a delimiter or a line end");
  EXPECT_EQ(
      ErrorOf("a,b\n1,\"x\" \n"),
      "data/train.csv:2:2: a closing quote is followed by ' ', not by a delimiter or a line end");
}

// ---------------------------------------------------------------- missing values

TEST(CsvTest, MissingValuesInNumericColumns) {
  Table table = Parse("a,b\n1,\n,NA\n\"NA\",\"\"\n4,5\n");
  ASSERT_EQ(table.rows, 4u);
  const std::vector<float>& a = table.columns[0].numbers;
  const std::vector<float>& b = table.columns[1].numbers;
  EXPECT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(a[0], 1.0f);
  EXPECT_TRUE(std::isnan(a[1]));
  EXPECT_TRUE(std::isnan(a[2]));
  EXPECT_EQ(a[3], 4.0f);
  EXPECT_TRUE(std::isnan(b[0]) && std::isnan(b[1]) && std::isnan(b[2]));
  EXPECT_EQ(b[3], 5.0f);
}

TEST(CsvTest, MissingValuesInCategoricalColumns) {
  Table table = Parse("c\nx\n\nNA\n\"NA\"\ny\nna\n");
  const Column& c = table.columns[0];
  EXPECT_EQ(c.type, ColumnType::kCategorical);
  EXPECT_EQ(c.categories, (Strings{"x", "y", "na"}));
  EXPECT_EQ(c.codes, (std::vector<int32_t>{0, Column::kMissingCode, Column::kMissingCode,
                                           Column::kMissingCode, 1, 2}));
}

TEST(CsvTest, AllMissingColumnIsNumeric) {
  Table table = Parse("a,b\n,1\nNA,2\n");
  EXPECT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_TRUE(std::isnan(table.columns[0].numbers[0]) && std::isnan(table.columns[0].numbers[1]));
}

TEST(CsvTest, CustomMissingValues) {
  CsvOptions options;
  options.missing_values = {"?", "-999"};
  Table table = Parse("n,c\n-999,?\n3,\n?,x\n", options);
  const Column& n = table.columns[0];
  EXPECT_EQ(n.type, ColumnType::kNumeric);
  EXPECT_TRUE(std::isnan(n.numbers[0]));
  EXPECT_EQ(n.numbers[1], 3.0f);
  EXPECT_TRUE(std::isnan(n.numbers[2]));
  const Column& c = table.columns[1];
  // "" is no longer missing: a category of its own.
  EXPECT_EQ(c.categories, (Strings{"", "x"}));
  EXPECT_EQ(c.codes, (std::vector<int32_t>{Column::kMissingCode, 0, 1}));
}

// ---------------------------------------------------------------- numbers

TEST(CsvTest, NumbersParseAsDoubleThenRoundToFloat) {
  const char* texts[] = {
      "1e3",          "-0.5",     "0.1",      "3.14159265358979",       "1E-3",  ".5", "5.", "-0",
      "123456789012", "16777217", "0.000001", "1.7976931348623157e308", "1e-310"};
  std::string csv = "x\n";
  for (const char* t : texts) csv += std::string(t) + "\n";
  Table table = Parse(csv);
  ASSERT_EQ(table.columns[0].type, ColumnType::kNumeric);
  for (size_t i = 0; i < std::size(texts); ++i) {
    EXPECT_EQ(table.columns[0].numbers[i], Float(texts[i])) << texts[i];
  }
  EXPECT_TRUE(std::signbit(table.columns[0].numbers[7]));  // -0
}

TEST(CsvTest, DoubleRoundingIsKept) {
  // Just above the midpoint between 1 and the next float: exactly rounded to
  // float it is 1 + 2^-23, but it rounds to the midpoint as a double, and
  // the midpoint rounds to even, 1.
  const char* text = "1.000000059604644776257986737988403547205962240695953369140625";
  Table table = Parse(std::string("x\n") + text + "\n");
  EXPECT_EQ(table.columns[0].numbers[0], Float(text));
  EXPECT_EQ(table.columns[0].numbers[0], 1.0f);
}

TEST(CsvTest, SpacesAroundNumbersAreAllowed) {
  Table table = Parse("x\n 7\n7 \n\t-2.5 \n\" 3 \"\n+5\n+.5\n");
  ASSERT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{7, 7, -2.5f, 3, 5, 0.5f}));
}

TEST(CsvTest, InfinityAndNanTexts) {
  Table table = Parse("x\ninf\n-inf\nInfinity\n+inf\nnan\nNaN\n1\n");
  const std::vector<float>& x = table.columns[0].numbers;
  ASSERT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(x[0], INFINITY);
  EXPECT_EQ(x[1], -INFINITY);
  EXPECT_EQ(x[2], INFINITY);
  EXPECT_EQ(x[3], INFINITY);
  EXPECT_TRUE(std::isnan(x[4]));
  EXPECT_TRUE(std::isnan(x[5]));
  EXPECT_EQ(x[6], 1.0f);
}

TEST(CsvTest, NotNumbers) {
  // Each makes its column categorical, as for pandas.
  for (const char* text : {"abc", "1e", "0x10", "1_000", "1,5", "--1", "+-1", "1 2", " ", "-",
                           "1e400", "nan(1)", "1.2.3"}) {
    Table table = Parse(std::string("x\n1\n\"") + text + "\"\n");
    ASSERT_EQ(table.columns.size(), 1u);
    EXPECT_EQ(table.columns[0].type, ColumnType::kCategorical) << text;
    EXPECT_EQ(table.columns[0].categories, (Strings{"1", text})) << text;
  }
}

TEST(CsvTest, OverflowingFloatIsInfinity) {
  // A double beyond float's range rounds to infinity, as a float32 cast does.
  Table table = Parse("x\n1e39\n-1e39\n1e-400\n");
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{INFINITY, -INFINITY, 0.0f}));
}

// ---------------------------------------------------------------- types

TEST(CsvTest, LateNonNumberMakesColumnCategoricalWithAllItsTexts) {
  Table table = Parse("id,v\n1,1\n2,01\n3,1.0\n4,\n5,x\n6,1\n");
  const Column& v = table.columns[1];
  ASSERT_EQ(v.type, ColumnType::kCategorical);
  EXPECT_TRUE(v.numbers.empty());
  EXPECT_EQ(v.categories, (Strings{"1", "01", "1.0", "x"}));
  EXPECT_EQ(Texts(v), (Strings{"1", "01", "1.0", "<missing>", "x", "1"}));
  EXPECT_EQ(table.columns[0].type, ColumnType::kNumeric);
  EXPECT_EQ(table.columns[0].numbers, (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(CsvTest, InferredCategoricalEqualsDeclaredCategorical) {
  std::string csv = "a,b,c\n";
  for (int i = 0; i < 3000; ++i) csv += std::to_string(i % 7) + "," + std::to_string(i) + ",z\n";
  csv += "q,1,z\n";
  Table inferred = Parse(csv);
  Table declared = Parse(csv, Declared({{"a", ColumnType::kCategorical}}));
  ASSERT_EQ(inferred.columns[0].type, ColumnType::kCategorical);
  EXPECT_EQ(inferred.columns[0].codes, declared.columns[0].codes);
  EXPECT_EQ(inferred.columns[0].categories, declared.columns[0].categories);
  EXPECT_EQ(inferred.columns[1].numbers, declared.columns[1].numbers);
}

TEST(CsvTest, DeclaredCategoricalKeepsNumericLookingText) {
  Table table = Parse("zip,n\n007,1\n7,2\n7.0,3\n", Declared({{"zip", ColumnType::kCategorical}}));
  EXPECT_EQ(table.columns[0].type, ColumnType::kCategorical);
  EXPECT_EQ(table.columns[0].categories, (Strings{"007", "7", "7.0"}));
  EXPECT_EQ(table.columns[1].type, ColumnType::kNumeric);
}

TEST(CsvTest, DeclaredNumericRejectsText) {
  EXPECT_EQ(ErrorOf("id,age\n1,31\n2,abc\n", Declared({{"age", ColumnType::kNumeric}})),
            "data/train.csv:3:2: column 'age': 'abc' is not a number");
  EXPECT_EQ(ErrorOf("age\n\"a\nb\"\n", Declared({{"age", ColumnType::kNumeric}})),
            "data/train.csv:2:1: column 'age': 'a\\x0ab' is not a number");
}

TEST(CsvTest, DeclaredNumericAcceptsMissing) {
  Table table = Parse("age\n1\nNA\n\n3\n", Declared({{"age", ColumnType::kNumeric}}));
  EXPECT_EQ(table.rows, 4u);
  EXPECT_TRUE(std::isnan(table.columns[0].numbers[1]) && std::isnan(table.columns[0].numbers[2]));
}

TEST(CsvTest, DeclaredColumnMissingFromTheFile) {
  EXPECT_EQ(ErrorOf("a,b\n1,2\n", Declared({{"age", ColumnType::kNumeric}})),
            "data/train.csv:1: no column 'age' (declared numeric) in the header");
}

// ---------------------------------------------------------------- errors

TEST(CsvTest, WrongFieldCounts) {
  EXPECT_EQ(ErrorOf("a,b,c\n1,2,3\n1,2\n"), "data/train.csv:3:3: expected 3 fields, found 2");
  EXPECT_EQ(ErrorOf("a,b,c\n1,2,3,4,5\n"), "data/train.csv:2:4: expected 3 fields, found 5");
  EXPECT_EQ(ErrorOf("a,b\n\"x\ny\",1\n1\n"), "data/train.csv:4:2: expected 2 fields, found 1");
  EXPECT_EQ(ErrorOf("a,b\n1,2,\"3\n"), "data/train.csv:2:3: expected 2 fields, found 3");
}

TEST(CsvTest, FirstErrorInFileOrderWins) {
  // A late non-number restarts the parse; the error before it is reported.
  EXPECT_EQ(ErrorOf("a,b\n1,2\n3\n4,x\n"), "data/train.csv:3:2: expected 2 fields, found 1");
  EXPECT_EQ(ErrorOf("a,b\n1,x\n3\n"), "data/train.csv:3:2: expected 2 fields, found 1");
}

TEST(CsvTest, DuplicateColumnNames) {
  EXPECT_EQ(ErrorOf("age,b,age\n1,2,3\n"), "data/train.csv:1: duplicate column name 'age'");
  EXPECT_EQ(ErrorOf(",\n1,2\n"), "data/train.csv:1: duplicate column name ''");
}

TEST(CsvTest, EmptyFile) {
  for (std::string_view text : {"", "\xEF\xBB\xBF", "\n", "\r\n\r\n"}) {
    EXPECT_EQ(ErrorOf(text), "data/train.csv: empty file, no header row");
  }
}

TEST(CsvTest, BlankHeaderRow) {
  EXPECT_EQ(ErrorOf("\na,b\n1,2\n"), "data/train.csv:1: blank header row");
  EXPECT_EQ(ErrorOf("\r\na\n"), "data/train.csv:1: blank header row");
}

// ---------------------------------------------------------------- large inputs

// Over kMinChunkBytes per thread, so that several threads parse.
constexpr int kLargeRows = 300000;

TEST(CsvTest, LargeInputIsParsedTheSameOnEveryThreadCount) {
  std::string csv = "i,cat,text\n";
  for (int i = 0; i < kLargeRows; ++i) {
    // Categories first seen late in the file get later codes.
    csv += std::to_string(i) + ",c" + std::to_string((i * 7919LL) % (1 + i / 1000)) + ",t" +
           std::to_string(i % 13) + "\n";
  }
  Table table = Parse(csv);
  ASSERT_EQ(table.rows, static_cast<size_t>(kLargeRows));
  const Column& cat = table.columns[1];
  std::vector<std::string> order;
  std::map<std::string, int32_t> code_of;
  for (int i = 0; i < kLargeRows; ++i) {
    ASSERT_EQ(table.columns[0].numbers[i], static_cast<float>(i));
    std::string text = "c" + std::to_string((i * 7919LL) % (1 + i / 1000));
    if (code_of.emplace(text, static_cast<int32_t>(order.size())).second) order.push_back(text);
    ASSERT_EQ(cat.codes[i], code_of[text]) << i;
  }
  EXPECT_EQ(cat.categories, order);
}

TEST(CsvTest, LargeInputWithLineBreaksInQuotes) {
  // Most line breaks are inside quotes, so the threads' speculative split
  // points fall inside quotes and the rows after them are parsed again.
  std::string multiline;
  for (int j = 0; j < 20; ++j) multiline += "x\n";
  std::string csv = "i,note\n";
  for (int i = 0; i < kLargeRows / 2; ++i) {
    csv += std::to_string(i) + (i % 10 != 0 ? ",\"" + multiline + "\"\"q\"\"\"\n" : ",plain\n");
  }
  Table table = Parse(csv);
  ASSERT_EQ(table.rows, static_cast<size_t>(kLargeRows / 2));
  for (int i = 0; i < kLargeRows / 2; ++i) {
    ASSERT_EQ(table.columns[0].numbers[i], static_cast<float>(i));
    std::string want = i % 10 != 0 ? multiline + "\"q\"" : "plain";
    ASSERT_EQ(table.columns[1].categories.at(table.columns[1].codes[i]), want) << i;
  }
}

TEST(CsvTest, LargeInputLateNonNumberAndError) {
  std::string csv = "a,b\n";
  for (int i = 0; i < kLargeRows; ++i)
    csv += std::to_string(i) + "," + std::to_string(i % 10) + "\n";
  std::string late = csv + "x,1\n";
  Table table = Parse(late);
  const Column& a = table.columns[0];
  ASSERT_EQ(a.type, ColumnType::kCategorical);
  ASSERT_EQ(a.categories.size(), static_cast<size_t>(kLargeRows) + 1);
  EXPECT_EQ(a.categories[12345], "12345");
  EXPECT_EQ(a.categories.back(), "x");
  EXPECT_EQ(table.columns[1].type, ColumnType::kNumeric);

  std::string bad = csv + "1,2,3\n" + csv.substr(4);
  EXPECT_EQ(ErrorOf(bad),
            "data/train.csv:" + std::to_string(kLargeRows + 2) + ":3: expected 2 fields, found 3");
}

TEST(CsvTest, LargeInputFirstErrorInFileOrderWins) {
  // Rows of the second half of the text go to another thread: its stops
  // must not win over earlier ones of the first half.
  std::vector<std::string> rows;
  for (int i = 0; i < kLargeRows; ++i)
    rows.push_back(std::to_string(i) + "," + std::to_string(i % 10));
  auto text = [&](int bad_at, const std::string& bad, int text_at) {
    std::string csv = "a,b\n";
    for (int i = 0; i < kLargeRows; ++i) {
      csv += (i == bad_at ? bad : i == text_at ? "1,x" : rows[i]) + "\n";
    }
    return csv;
  };
  const int early = kLargeRows * 2 / 5, late = kLargeRows * 3 / 5;  // either side of the middle
  auto error_at = [](int row) {
    return "data/train.csv:" + std::to_string(row + 2) + ":3: expected 2 fields, found 3";
  };
  // An error in the first half, a non-number in the second.
  EXPECT_EQ(ErrorOf(text(early, "1,2,3", late)), error_at(early));
  // A non-number in the first half, an error in the second.
  EXPECT_EQ(ErrorOf(text(late, "1,2,3", early)), error_at(late));
  // Errors in both halves.
  std::string csv = text(early, "1,2,3", -1);
  csv.replace(csv.rfind("\n1"), 2, "\n1,1,");
  EXPECT_EQ(ErrorOf(csv), error_at(early));
}

TEST(CsvTest, LargeInputCategoriesFromEveryPart) {
  // Each part of the text brings categories of its own: codes follow the
  // order of first appearance over the whole text.
  std::string csv = "c\n";
  for (int i = 0; i < kLargeRows; ++i) csv += "v" + std::to_string(i / (kLargeRows / 8)) + "\n";
  csv += "v3\nNA\n";
  Table table = Parse(csv);
  const Column& c = table.columns[0];
  EXPECT_EQ(c.categories, (Strings{"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"}));
  ASSERT_EQ(c.codes.size(), static_cast<size_t>(kLargeRows) + 2);
  for (int i = 0; i < kLargeRows; ++i) ASSERT_EQ(c.codes[i], i / (kLargeRows / 8)) << i;
  EXPECT_EQ(c.codes[kLargeRows], 3);
  EXPECT_EQ(c.codes[kLargeRows + 1], Column::kMissingCode);
}

// ---------------------------------------------------------------- ReadCsv

class ReadCsvTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keel-csv-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::string dir_;
};

TEST_F(ReadCsvTest, ReadsAFile) {
  std::string path = Write("t.csv", "a,b\n1,x\n2,y\n");
  Result<Table> table = ReadCsv(path, {});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->rows, 2u);
  EXPECT_EQ(table->columns[1].categories, (Strings{"x", "y"}));
}

TEST_F(ReadCsvTest, ErrorsNameThePath) {
  std::string path = Write("bad.csv", "a,b\n1\n");
  Result<Table> table = ReadCsv(path, {});
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().message(), path + ":2:2: expected 2 fields, found 1");
}

TEST_F(ReadCsvTest, MissingFile) {
  std::string path = dir_ + "/nope.csv";
  Result<Table> table = ReadCsv(path, {});
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(table.status().message(), path + ": No such file or directory");
}

TEST_F(ReadCsvTest, EmptyFile) {
  std::string path = Write("empty.csv", "");
  Result<Table> table = ReadCsv(path, {});
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(table.status().message(), path + ": empty file, no header row");
}

TEST_F(ReadCsvTest, Directory) {
  Result<Table> table = ReadCsv(dir_, {});
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().message(), dir_ + ": Is a directory");
}

}  // namespace
}  // namespace keel::table
