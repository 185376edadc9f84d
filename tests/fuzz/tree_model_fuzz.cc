// Fuzzes keel::runtime::LoadTreeModel (model.json, XGBoost 1.7's JSON
// model) and the tree runtime it compiles. The first byte chooses the
// signature (task: byte % 3 is binary, 3 classes or regression; features:
// (byte / 3) % 8 + 1, all numeric), the rest is the model's text.
// Properties: errors are kFailedPrecondition (not covered) or kCorrupt,
// naming the file, never internal; an accepted model predicts rows with
// missing, infinite and signed-zero values, and the 8-row blocks (the
// complete layout, chosen whole with AVX2) predict each row exactly as it
// predicts alone (the compact layout's walk).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "runtime/model.h"
#include "runtime/signature.h"
#include "runtime/tree_model.h"

namespace {

using keel::runtime::Model;
using keel::runtime::Signature;
using keel::runtime::Task;

constexpr std::string_view kSource = "model.json";
constexpr size_t kRows = 17;  // two blocks of 8 and a single row

Signature SignatureFor(uint8_t choice) {
  Signature s;
  s.task = choice % 3 == 0 ? Task::kBinary : choice % 3 == 1 ? Task::kMulticlass : Task::kRegression;
  s.target = "y";
  const size_t features = (choice / 3) % 8 + 1;
  for (size_t f = 0; f < features; ++f)
    s.inputs.push_back({"f" + std::to_string(f), keel::table::ColumnType::kNumeric, {}});
  if (s.task == Task::kBinary) s.classes = {"0", "1"};
  if (s.task == Task::kMulticlass) s.classes = {"0", "1", "2"};
  return s;
}

// Rows whose values walk every way a split can send them.
std::vector<float> Rows(size_t features) {
  const float values[] = {0.5f, -1.25f, std::numeric_limits<float>::quiet_NaN(), 0.0f, -0.0f,
                          3.0f, std::numeric_limits<float>::infinity(), -2.0f, 1e-3f,
                          -std::numeric_limits<float>::infinity(), 1.0f, 100.0f, -0.5f};
  std::vector<float> rows(kRows * features);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = values[(i * 7 + i / 5) % std::size(values)];
  return rows;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Signature signature = SignatureFor(data[0]);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  keel::Result<std::unique_ptr<Model>> model = keel::runtime::LoadTreeModel(text, signature, kSource);
  if (!model.ok()) {
    const keel::StatusCode code = model.status().code();
    KEEL_FUZZ_CHECK(code == keel::StatusCode::kFailedPrecondition || code == keel::StatusCode::kCorrupt,
                    "errors say not covered or corrupt");
    keel::CheckParseError(model.status(), kSource);
    return 0;
  }
  const size_t features = signature.FeatureCount();
  const size_t width = (*model)->OutputWidth();
  const std::vector<float> rows = Rows(features);
  std::vector<float> together(kRows * width);
  KEEL_FUZZ_CHECK((*model)->PredictInto(rows, kRows, together).ok(), "an accepted model predicts");
  for (size_t r = 0; r < kRows; ++r) {
    std::vector<float> alone(width);
    KEEL_FUZZ_CHECK((*model)->PredictInto({rows.data() + r * features, features}, 1, alone).ok(),
                    "an accepted model predicts a row");
    KEEL_FUZZ_CHECK(std::memcmp(alone.data(), together.data() + r * width, width * sizeof(float)) == 0,
                    "a row predicts the same in a block and alone");
  }
  return 0;
}
