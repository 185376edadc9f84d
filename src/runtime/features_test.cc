#include "runtime/features.h"

#include <cmath>

#include <gtest/gtest.h>

namespace keel::runtime {
namespace {

using table::Column;
using table::ColumnType;

Signature TwoInputs(CategoricalEncoding encoding) {
  Signature s;
  s.encoding = encoding;
  s.inputs = {{"age", ColumnType::kNumeric, {}}, {"color", ColumnType::kCategorical, {"red", "green"}}};
  return s;
}

// A table whose columns come in another order than the signature's, with
// an extra column, an unseen category and missing values.
table::Table Scored() {
  table::Table t;
  t.rows = 4;
  Column color{"color", ColumnType::kCategorical, {}, {0, 1, Column::kMissingCode, 2}, {"green", "blue", "red"}};
  Column extra{"id", ColumnType::kNumeric, {1, 2, 3, 4}, {}, {}};
  Column age{"age", ColumnType::kNumeric, {30, NAN, 50, 60}, {}, {}};
  t.columns = {color, extra, age};
  return t;
}

TEST(FeaturesTest, NativeMapsCategoriesByValue) {
  Result<FeatureMatrix> m = BuildFeatures(TwoInputs(CategoricalEncoding::kNative), Scored(), "x.csv");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->cols, 2u);
  ASSERT_EQ(m->rows, 4u);
  EXPECT_EQ(m->row(0)[0], 30.0f);
  EXPECT_EQ(m->row(0)[1], 1.0f);           // green is the signature's category 1
  EXPECT_TRUE(std::isnan(m->row(1)[0]));   // missing number
  EXPECT_TRUE(std::isnan(m->row(1)[1]));   // blue was never seen
  EXPECT_TRUE(std::isnan(m->row(2)[1]));   // missing category
  EXPECT_EQ(m->row(3)[1], 0.0f);           // red
}

TEST(FeaturesTest, OneHotWritesIndicators) {
  Result<FeatureMatrix> m = BuildFeatures(TwoInputs(CategoricalEncoding::kOneHot), Scored(), "x.csv");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->cols, 3u);
  std::vector<float> expected = {30, 0, 1, NAN, 0, 0, 50, 0, 0, 60, 1, 0};
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(expected[i])) EXPECT_TRUE(std::isnan(m->values[i])) << i;
    else EXPECT_EQ(m->values[i], expected[i]) << i;
  }
}

TEST(FeaturesTest, MissingOrMistypedColumnsAreErrors) {
  table::Table t = Scored();
  t.columns.pop_back();
  Result<FeatureMatrix> m = BuildFeatures(TwoInputs(CategoricalEncoding::kNative), t, "x.csv");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "x.csv: no column 'age', an input of the model");
  t = Scored();
  t.columns[2] = Column{"age", ColumnType::kCategorical, {}, {0, 0, 0, 0}, {"old"}};
  m = BuildFeatures(TwoInputs(CategoricalEncoding::kNative), t, "x.csv");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "x.csv: column 'age' is categorical but the model expects it numeric");
}

TEST(FeaturesTest, NoRowsGiveAnEmptyMatrix) {
  table::Table t = Scored();
  t.rows = 0;
  for (Column& c : t.columns) {
    c.numbers.clear();
    c.codes.clear();
  }
  Result<FeatureMatrix> m = BuildFeatures(TwoInputs(CategoricalEncoding::kOneHot), t, "x.csv");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->rows, 0u);
  EXPECT_EQ(m->cols, 3u);
  EXPECT_TRUE(m->values.empty());
}

TEST(FeaturesTest, CsvOptionsDeclareTheInputs) {
  table::CsvOptions o = CsvOptionsFor(TwoInputs(CategoricalEncoding::kNative));
  EXPECT_EQ(o.declared.at("age"), ColumnType::kNumeric);
  EXPECT_EQ(o.declared.at("color"), ColumnType::kCategorical);
}

}  // namespace
}  // namespace keel::runtime
