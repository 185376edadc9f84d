// A model's signature: the input columns it expects, in order, with their
// types and category sets, how categories are encoded, and what it outputs.
// Stored beside the model as signature.json (docs/format/model.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "table/table.h"

namespace keel::runtime {

enum class Task { kBinary, kMulticlass, kRegression };
std::string_view TaskName(Task task);  // "binary" | "multiclass" | "regression"
Result<Task> ParseTask(std::string_view name);

// How categorical inputs reach the trees: XGBoost's native categorical
// splits (the category's index as the feature value), or one 0/1 feature
// per category.
enum class CategoricalEncoding { kNative, kOneHot };
std::string_view CategoricalEncodingName(CategoricalEncoding encoding);  // "native" | "onehot"
Result<CategoricalEncoding> ParseCategoricalEncoding(std::string_view name);

struct InputColumn {
  std::string name;
  table::ColumnType type = table::ColumnType::kNumeric;
  std::vector<std::string> categories;  // kCategorical: index = code the model saw
};

struct Signature {
  std::vector<InputColumn> inputs;
  CategoricalEncoding encoding = CategoricalEncoding::kNative;
  Task task = Task::kBinary;
  std::string target;
  // Classification: the target's values in class-index order (sorted);
  // binary: classes[1] is the positive class. Empty for regression.
  std::vector<std::string> classes;

  // The number of features the model sees: one per input, or with one-hot
  // encoding one per category of each categorical input.
  size_t FeatureCount() const;
  // The names of those features, in order ("workclass=Private" for one-hot).
  std::vector<std::string> FeatureNames() const;
  // The names of the prediction's output columns: binary "probability",
  // "prediction"; multiclass "probability_<class>"..., "prediction";
  // regression "prediction".
  std::vector<std::string> OutputNames() const;
};

// signature.json's text (deterministic).
std::string SignatureToJson(const Signature& signature);
// Parses signature.json; errors name `source` and the field.
Result<Signature> SignatureFromJson(std::string_view json, std::string_view source);

}  // namespace keel::runtime
