#include "runtime/signature.h"

#include <gtest/gtest.h>

namespace keel::runtime {
namespace {

Signature Census() {
  Signature s;
  s.task = Task::kBinary;
  s.target = "income";
  s.classes = {"<=50K", ">50K"};
  s.inputs = {{"age", table::ColumnType::kNumeric, {}},
              {"workclass", table::ColumnType::kCategorical, {"Private", "State-gov", "?"}}};
  return s;
}

TEST(SignatureTest, JsonRoundTripsExactly) {
  Signature s = Census();
  std::string json = SignatureToJson(s);
  Result<Signature> back = SignatureFromJson(json, "signature.json");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(SignatureToJson(*back), json);
  EXPECT_EQ(back->inputs[1].categories, s.inputs[1].categories);
  EXPECT_EQ(back->classes, s.classes);
}

TEST(SignatureTest, FeaturesDependOnTheEncoding) {
  Signature s = Census();
  EXPECT_EQ(s.FeatureCount(), 2u);
  EXPECT_EQ(s.FeatureNames(), (std::vector<std::string>{"age", "workclass"}));
  s.encoding = CategoricalEncoding::kOneHot;
  EXPECT_EQ(s.FeatureCount(), 4u);
  EXPECT_EQ(s.FeatureNames(),
            (std::vector<std::string>{"age", "workclass=Private", "workclass=State-gov", "workclass=?"}));
}

TEST(SignatureTest, OutputsFollowTheTask) {
  Signature s = Census();
  EXPECT_EQ(s.OutputNames(), (std::vector<std::string>{"probability", "prediction"}));
  s.task = Task::kMulticlass;
  s.classes = {"a", "b", "c"};
  EXPECT_EQ(s.OutputNames(),
            (std::vector<std::string>{"probability_a", "probability_b", "probability_c", "prediction"}));
  s.task = Task::kRegression;
  s.classes.clear();
  EXPECT_EQ(s.OutputNames(), (std::vector<std::string>{"prediction"}));
}

TEST(SignatureTest, BadJsonNamesTheField) {
  std::string good = SignatureToJson(Census());
  struct Case {
    std::string from, to, message;
  };
  std::vector<Case> cases = {
      {"\"task\": \"binary\"", "\"task\": \"ranking\"", "s.json: task: unknown task 'ranking'"},
      {"\"type\": \"categorical\"", "\"type\": \"text\"", "s.json: inputs[1].type: 'text' is not a column type"},
      {"\"format\": \"keel.signature/1\"", "\"format\": \"other\"", "s.json: format: 'other'"},
      {"\"<=50K\",", "", "s.json: classes: a binary model needs exactly 2 classes"},
      {"\"categorical_encoding\": \"native\"", "\"categorical_encoding\": 3", "s.json: categorical_encoding: expected a string"},
  };
  for (const Case& c : cases) {
    std::string text = good;
    size_t at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, c.from.size(), c.to);
    Result<Signature> s = SignatureFromJson(text, "s.json");
    ASSERT_FALSE(s.ok()) << c.message;
    EXPECT_NE(s.status().message().find(c.message), std::string::npos) << s.status().message();
  }
  EXPECT_FALSE(SignatureFromJson("[1]", "s.json").ok());
  EXPECT_FALSE(SignatureFromJson("{", "s.json").ok());
}

}  // namespace
}  // namespace keel::runtime
