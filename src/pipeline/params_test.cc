#include "pipeline/params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace keel {

// Shows codes by name in gtest's failure messages.
[[maybe_unused]] static void PrintTo(StatusCode code, std::ostream* os) {
  *os << StatusCodeName(code);
}

namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kParams[] =
    "train:\n"
    "  eta: 0.1\n"
    "  max_depth: 6\n"
    "  layers: [1, 2]\n"
    "  opt:\n"
    "    name: adam\n"
    "    beta: null\n"
    "  empty: {}\n"
    "train2:\n"
    "  x: 1\n"
    "seed: 42\n"
    "note: ~\n"
    "blank:\n"
    "quoted: 'a: b'\n"
    "grid: [[1, 2], [3]]\n";

ParamsFile MustParse(const std::string& text) {
  Result<ParamsFile> p = ParamsFile::Parse(text, "params.yaml");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : ParamsFile();
}

TEST(ParamsFileTest, FlattensNestedKeysToDottedLeaves) {
  ParamsFile params = MustParse(kParams);
  EXPECT_EQ(params.values(), (ParamValues{
                                 {"blank", "null"},
                                 {"grid", "[[1, 2], [3]]"},
                                 {"note", "null"},
                                 {"quoted", "a: b"},
                                 {"seed", "42"},
                                 {"train.empty", "{}"},
                                 {"train.eta", "0.1"},
                                 {"train.layers", "[1, 2]"},
                                 {"train.max_depth", "6"},
                                 {"train.opt.beta", "null"},
                                 {"train.opt.name", "adam"},
                                 {"train2.x", "1"},
                             }));
}

TEST(ParamsFileTest, ScalarsKeepTheirText) {
  ParamsFile params = MustParse("a: 0.10\nb: 1e-3\nc: yes\nd: \"0.1\"\ne: [a, 'b c']\nf: []\n");
  EXPECT_EQ(params.values().at("a"), "0.10");  // as written, not re-formatted
  EXPECT_EQ(params.values().at("b"), "1e-3");
  EXPECT_EQ(params.values().at("c"), "yes");
  EXPECT_EQ(params.values().at("d"), "0.1");
  EXPECT_EQ(params.values().at("e"), "[a, b c]");
  EXPECT_EQ(params.values().at("f"), "[]");
}

TEST(ParamsFileTest, SelectsALeaf) {
  ParamsFile params = MustParse(kParams);
  ParamValues out;
  EXPECT_TRUE(params.Select("train.eta", &out));
  EXPECT_EQ(out, (ParamValues{{"train.eta", "0.1"}}));
  EXPECT_TRUE(params.Select("train.layers", &out));
  EXPECT_TRUE(params.Select("seed", &out));
  EXPECT_EQ(out, (ParamValues{{"seed", "42"}, {"train.eta", "0.1"}, {"train.layers", "[1, 2]"}}));
}

TEST(ParamsFileTest, SelectsEveryLeafOfASection) {
  ParamsFile params = MustParse(kParams);
  ParamValues out;
  EXPECT_TRUE(params.Select("train", &out));
  // Not train2.x: a section is "train." and below.
  EXPECT_EQ(out, (ParamValues{
                     {"train.empty", "{}"},
                     {"train.eta", "0.1"},
                     {"train.layers", "[1, 2]"},
                     {"train.max_depth", "6"},
                     {"train.opt.beta", "null"},
                     {"train.opt.name", "adam"},
                 }));
  ParamValues opt;
  EXPECT_TRUE(params.Select("train.opt", &opt));
  EXPECT_EQ(opt, (ParamValues{{"train.opt.beta", "null"}, {"train.opt.name", "adam"}}));
}

TEST(ParamsFileTest, MissingKeyIsFalseAndAddsNothing) {
  ParamsFile params = MustParse(kParams);
  ParamValues out = {{"kept", "1"}};
  for (const char* key :
       {"train.et", "tra", "train.eta.x", "missing", "train.", "", "train.opt.nam"}) {
    EXPECT_FALSE(params.Select(key, &out)) << key;
  }
  EXPECT_EQ(out, (ParamValues{{"kept", "1"}}));
}

TEST(ParamsFileTest, EmptyFileHasNoParams) {
  for (const char* text : {"", "# only a comment\n", "~\n"}) {
    Result<ParamsFile> p = ParamsFile::Parse(text, "params.yaml");
    ASSERT_TRUE(p.ok()) << text << ": " << p.status().ToString();
    EXPECT_TRUE(p->values().empty()) << text;
    ParamValues out;
    EXPECT_FALSE(p->Select("train", &out));
  }
}

void ExpectError(const std::string& text, const std::string& where, const std::string& why) {
  Result<ParamsFile> p = ParamsFile::Parse(text, "conf/params.yaml");
  ASSERT_FALSE(p.ok()) << text;
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), StartsWith(where + ": ")) << text;
  EXPECT_THAT(p.status().message(), HasSubstr(why)) << text;
}

TEST(ParamsFileTest, TopLevelMustBeAMapping) {
  ExpectError("- a\n- b\n", "conf/params.yaml:1:1",
              "a params file must be a mapping of names to values");
  ExpectError("# header\n\n- a\n", "conf/params.yaml:3:1", "must be a mapping");
  ExpectError("42\n", "conf/params.yaml:1:1", "must be a mapping");
  ExpectError("  just text\n", "conf/params.yaml:1:3", "must be a mapping");
}

TEST(ParamsFileTest, ErrorsNameFileLineColumn) {
  ExpectError("a: 1\n? [x, y]\n: 2\n", "conf/params.yaml:2:3", "param names must be strings");
  // A YAML syntax error: the unclosed flow sequence.
  Result<ParamsFile> p = ParamsFile::Parse("a: 1\nb: [1, 2\n", "conf/params.yaml");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), StartsWith("conf/params.yaml:"));
  EXPECT_THAT(p.status().message(), HasSubstr("end of sequence flow not found"));
}

}  // namespace
}  // namespace keel
