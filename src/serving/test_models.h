// For tests of what sits on the serving engine (the HTTP layer,
// deployments from files): a model that answers a constant, and a model
// source of such models. Not part of keel.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "serving/deployments.h"

namespace keel::serving::testing {

// Binary, one numeric input "a"; every row's probability is `p`.
class ConstantModel : public runtime::Model {
 public:
  explicit ConstantModel(float p = 0.25f) : p_(p) {
    signature_.task = runtime::Task::kBinary;
    signature_.target = "y";
    signature_.classes = {"0", "1"};
    signature_.inputs = {{"a", table::ColumnType::kNumeric, {}}};
  }
  const runtime::Signature& signature() const override { return signature_; }
  std::string_view Backend() const override { return "constant"; }
  Status PredictInto(std::span<const float>, size_t rows, std::span<float> out) const override {
    for (size_t r = 0; r < rows; ++r) out[r] = p_;
    return Status::Ok();
  }

 private:
  runtime::Signature signature_;
  float p_;
};

// Knows the "name@version" IDs it is given; loads each as a ConstantModel.
class ConstantSource : public ModelSource {
 public:
  explicit ConstantSource(std::set<std::string> ids) : ids_(std::move(ids)) {}
  Result<std::string> Resolve(const std::string& id) override {
    if (ids_.count(id) == 0) return NotFoundError("unknown model ID '" + id + "'");
    return id;
  }
  Result<std::unique_ptr<ServedModel>> Load(const std::string& id) override {
    const size_t at = id.find('@');
    return std::make_unique<ServedModel>(id.substr(0, at), id.substr(at + 1), std::make_unique<ConstantModel>());
  }

 private:
  std::set<std::string> ids_;
};

}  // namespace keel::serving::testing
