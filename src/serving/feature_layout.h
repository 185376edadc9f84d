// How a model's V2 input tensors map onto the features its trees see.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "runtime/signature.h"
#include "serving/infer_request.h"

namespace keel::serving {

// A model takes either one numeric tensor of shape [N, F] (F features in
// signature order, categories as their codes) or one tensor per input column
// named like the column, of shape [N] or [N, 1]: numbers for numeric columns,
// BYTES for categorical ones (a category the model never saw, like null, is
// a missing value).
class FeatureLayout {
 public:
  // Keeps a reference to `signature`, which must outlive the layout.
  explicit FeatureLayout(const runtime::Signature& signature);

  // Writes the request's rows into `features` (resized to rows x
  // FeatureCount(); its capacity is reused) and returns the row count.
  // kInvalidArgument names the input: an unknown or missing column, a
  // duplicate, a shape or datatype that does not fit.
  Result<size_t> Fill(const InferRequest& request, std::vector<float>* features) const;

  size_t FeatureCount() const { return feature_count_; }

 private:
  struct Column {
    size_t offset = 0;  // the column's first feature
    std::unordered_map<std::string_view, int32_t> categories;  // categorical only
  };

  Result<size_t> FillMatrix(const InferInput& input, std::vector<float>* features) const;
  Result<size_t> FillColumns(const InferRequest& request, std::vector<float>* features) const;
  void FillColumn(size_t column, const InferInput& input, size_t rows, float* features) const;
  bool NamesColumns(const InferRequest& request) const;

  const runtime::Signature& signature_;
  size_t feature_count_ = 0;
  std::vector<Column> columns_;
  std::unordered_map<std::string_view, size_t> by_name_;
};

}  // namespace keel::serving
