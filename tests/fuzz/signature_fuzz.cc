// Fuzzes keel::runtime::SignatureFromJson (signature.json,
// docs/format/model.md). Properties: errors are invalid arguments naming the
// file; an accepted signature has the classes its task needs, as many
// feature names as FeatureCount() and the outputs its task names; and
// SignatureToJson of it parses back to the same signature, whose
// SignatureToJson gives the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "runtime/signature.h"

namespace {

using keel::runtime::InputColumn;
using keel::runtime::Signature;
using keel::runtime::Task;

constexpr std::string_view kSource = "signature.json";

void CheckWellFormed(const Signature& s) {
  switch (s.task) {
    case Task::kBinary:
      KEEL_FUZZ_CHECK(s.classes.size() == 2, "binary: two classes");
      KEEL_FUZZ_CHECK(s.OutputNames().size() == 2, "binary: probability and prediction");
      break;
    case Task::kMulticlass:
      KEEL_FUZZ_CHECK(s.classes.size() >= 2, "multiclass: at least two classes");
      KEEL_FUZZ_CHECK(s.OutputNames().size() == s.classes.size() + 1,
                      "multiclass: a probability per class and prediction");
      break;
    case Task::kRegression:
      KEEL_FUZZ_CHECK(s.classes.empty(), "regression: no classes");
      KEEL_FUZZ_CHECK(s.OutputNames().size() == 1, "regression: prediction");
      break;
  }
  KEEL_FUZZ_CHECK(s.FeatureCount() == s.FeatureNames().size(), "a name per feature");
  for (const InputColumn& in : s.inputs) {
    KEEL_FUZZ_CHECK(in.type == keel::table::ColumnType::kCategorical || in.categories.empty(),
                    "numeric inputs have no categories");
  }
}

bool SameInputs(const Signature& a, const Signature& b) {
  if (a.inputs.size() != b.inputs.size()) return false;
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const InputColumn& x = a.inputs[i];
    const InputColumn& y = b.inputs[i];
    if (x.name != y.name || x.type != y.type || x.categories != y.categories) return false;
  }
  return true;
}

bool SameSignature(const Signature& a, const Signature& b) {
  return SameInputs(a, b) && a.encoding == b.encoding && a.task == b.task && a.target == b.target &&
         a.classes == b.classes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::Result<Signature> s = keel::runtime::SignatureFromJson(text, kSource);
  if (!s.ok()) {
    KEEL_FUZZ_CHECK(s.status().code() == keel::StatusCode::kInvalidArgument,
                    "errors are invalid arguments");
    keel::CheckParseError(s.status(), std::string(kSource) + ": ");
    return 0;
  }
  CheckWellFormed(*s);
  std::string written = keel::runtime::SignatureToJson(*s);
  keel::Result<Signature> again = keel::runtime::SignatureFromJson(written, kSource);
  if (!again.ok())
    std::fprintf(stderr, "%s\n%s\n", written.c_str(), again.status().ToString().c_str());
  KEEL_FUZZ_CHECK(again.ok(), "SignatureToJson output parses");
  KEEL_FUZZ_CHECK(SameSignature(*s, *again), "a signature survives the round trip");
  KEEL_FUZZ_CHECK(keel::runtime::SignatureToJson(*again) == written, "SignatureToJson is stable");
  return 0;
}
