#include "serving/feature_layout.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace keel::serving {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

std::string ShapeText(const std::vector<uint64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string Quoted(std::string_view name) { return "'" + std::string(name) + "'"; }

}  // namespace

FeatureLayout::FeatureLayout(const runtime::Signature& signature) : signature_(signature) {
  columns_.resize(signature.inputs.size());
  for (size_t i = 0; i < signature.inputs.size(); ++i) {
    const runtime::InputColumn& input = signature.inputs[i];
    columns_[i].offset = feature_count_;
    by_name_.emplace(input.name, i);
    if (input.type == table::ColumnType::kCategorical) {
      for (size_t c = 0; c < input.categories.size(); ++c) {
        columns_[i].categories.emplace(input.categories[c], static_cast<int32_t>(c));
      }
    }
    const bool one_hot = input.type == table::ColumnType::kCategorical &&
                         signature.encoding == runtime::CategoricalEncoding::kOneHot;
    feature_count_ += one_hot ? input.categories.size() : 1;
  }
}

Result<size_t> FeatureLayout::Fill(const InferRequest& request, std::vector<float>* features) const {
  if (NamesColumns(request)) return FillColumns(request, features);
  if (request.input_count == 1) return FillMatrix(request.inputs[0], features);
  for (size_t i = 0; i < request.input_count; ++i) {
    if (!by_name_.contains(request.inputs[i].name)) {
      return InvalidArgumentError("unknown input " + Quoted(request.inputs[i].name) +
                                  ": send one tensor of shape [N, " + std::to_string(feature_count_) +
                                  "] or one tensor per input column, named like the column");
    }
  }
  return InvalidArgumentError("unreachable: every input names a column");
}

bool FeatureLayout::NamesColumns(const InferRequest& request) const {
  for (size_t i = 0; i < request.input_count; ++i) {
    if (!by_name_.contains(request.inputs[i].name)) return false;
  }
  return true;
}

Result<size_t> FeatureLayout::FillMatrix(const InferInput& input, std::vector<float>* features) const {
  const std::string where = "input " + Quoted(input.name);
  if (input.shape.size() != 2) {
    return InvalidArgumentError(where + ": shape " + ShapeText(input.shape) + " is not [N, " +
                                std::to_string(feature_count_) + "]");
  }
  if (input.shape[1] != feature_count_) {
    return InvalidArgumentError(where + ": shape " + ShapeText(input.shape) + " has " + std::to_string(input.shape[1]) +
                                " features; the model takes " + std::to_string(feature_count_));
  }
  if (input.datatype == Datatype::kBytes) {
    return InvalidArgumentError(where + ": datatype BYTES; a [N, F] tensor must be numeric (FP32, FP64, INT...)");
  }
  features->assign(input.numbers.begin(), input.numbers.end());
  return static_cast<size_t>(input.shape[0]);
}

Result<size_t> FeatureLayout::FillColumns(const InferRequest& request, std::vector<float>* features) const {
  // Every column exactly once: with as many inputs as columns, all known,
  // a duplicate would leave some column out.
  for (size_t i = 0; i < request.input_count; ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (request.inputs[i].name == request.inputs[j].name) {
        return InvalidArgumentError("input " + Quoted(request.inputs[i].name) + " given twice");
      }
    }
  }
  if (request.input_count != columns_.size()) {
    for (const runtime::InputColumn& column : signature_.inputs) {
      bool given = false;
      for (size_t i = 0; i < request.input_count && !given; ++i) given = request.inputs[i].name == column.name;
      if (!given) {
        return InvalidArgumentError("missing input " + Quoted(column.name) + " (the model takes " +
                                    std::to_string(columns_.size()) + " input columns)");
      }
    }
  }
  const uint64_t rows = request.inputs[0].shape.empty() ? 0 : request.inputs[0].shape[0];
  for (size_t i = 0; i < request.input_count; ++i) {
    const InferInput& input = request.inputs[i];
    const std::string where = "input " + Quoted(input.name);
    const bool column_shape = (input.shape.size() == 1 || (input.shape.size() == 2 && input.shape[1] == 1));
    if (!column_shape) return InvalidArgumentError(where + ": shape " + ShapeText(input.shape) + " is not [N] or [N, 1]");
    if (input.shape[0] != rows) {
      return InvalidArgumentError(where + ": " + std::to_string(input.shape[0]) + " rows, but input " +
                                  Quoted(request.inputs[0].name) + " has " + std::to_string(rows));
    }
    const bool categorical = signature_.inputs[by_name_.at(input.name)].type == table::ColumnType::kCategorical;
    if (categorical && input.datatype != Datatype::kBytes) {
      return InvalidArgumentError(where + ": the column is categorical: send its values as BYTES, not " +
                                  std::string(DatatypeName(input.datatype)));
    }
    if (!categorical && input.datatype == Datatype::kBytes) {
      return InvalidArgumentError(where + ": the column is numeric: send FP32, FP64 or INT values, not BYTES");
    }
  }
  features->assign(rows * feature_count_, 0.0f);
  for (size_t i = 0; i < request.input_count; ++i) {
    const InferInput& input = request.inputs[i];
    FillColumn(by_name_.at(input.name), input, rows, features->data());
  }
  return static_cast<size_t>(rows);
}

void FeatureLayout::FillColumn(size_t column, const InferInput& input, size_t rows, float* features) const {
  const runtime::InputColumn& spec = signature_.inputs[column];
  const Column& layout = columns_[column];
  float* out = features + layout.offset;
  if (spec.type == table::ColumnType::kNumeric) {
    for (size_t r = 0; r < rows; ++r, out += feature_count_) *out = input.numbers[r];
    return;
  }
  const bool one_hot = signature_.encoding == runtime::CategoricalEncoding::kOneHot;
  for (size_t r = 0; r < rows; ++r, out += feature_count_) {
    const std::string_view value = input.strings[r];
    auto it = value.data() == nullptr ? layout.categories.end() : layout.categories.find(value);
    if (one_hot) {
      if (it != layout.categories.end()) out[it->second] = 1.0f;
    } else {
      *out = it == layout.categories.end() ? kMissing : static_cast<float>(it->second);
    }
  }
}

}  // namespace keel::serving
