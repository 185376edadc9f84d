// Fuzzes keel::ParseModelId (docs/format/registry.md). Properties: errors are
// invalid arguments quoting the text; an accepted ID is well formed for its
// kind (a valid name and a version from 1 up, a valid name and an alias, or
// 4 to 64 lower-case hex digits); its canonical text (ModelId::ToString) is
// the input itself, hex digits lower-cased; and that text parses back to the
// same fields.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "registry/model_id.h"

namespace {

bool IsLowerHex(std::string_view hex) {
  if (hex.size() < 4 || hex.size() > 64) return false;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void CheckWellFormed(const keel::ModelId& id) {
  switch (id.kind) {
    case keel::ModelId::Kind::kVersion:
      KEEL_FUZZ_CHECK(keel::ValidateModelName(id.name).ok(), "a version's model name is valid");
      KEEL_FUZZ_CHECK(id.version >= 1, "versions count from 1");
      KEEL_FUZZ_CHECK(id.ToString() == keel::VersionId(id.name, id.version),
                      "a version's text is its VersionId");
      break;
    case keel::ModelId::Kind::kAlias:
      KEEL_FUZZ_CHECK(keel::ValidateModelName(id.name).ok(), "an alias's model name is valid");
      KEEL_FUZZ_CHECK(id.alias == keel::kLatestAlias || keel::ValidateAliasName(id.alias).ok(),
                      "an alias is 'latest' or one that may be set");
      break;
    case keel::ModelId::Kind::kDigest:
      KEEL_FUZZ_CHECK(IsLowerHex(id.digest_prefix),
                      "a digest prefix is 4 to 64 lower-case hex digits");
      break;
  }
}

bool SameId(const keel::ModelId& a, const keel::ModelId& b) {
  return a.kind == b.kind && a.name == b.name && a.version == b.version && a.alias == b.alias &&
         a.digest_prefix == b.digest_prefix;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::Result<keel::ModelId> id = keel::ParseModelId(text);
  if (!id.ok()) {
    KEEL_FUZZ_CHECK(id.status().code() == keel::StatusCode::kInvalidArgument,
                    "errors are invalid arguments");
    keel::CheckParseError(id.status(), "bad model ID '" + std::string(text) + "': ");
    return 0;
  }
  CheckWellFormed(*id);
  std::string canonical = id->ToString();
  bool digest = id->kind == keel::ModelId::Kind::kDigest;
  KEEL_FUZZ_CHECK(canonical == (digest ? LowerAscii(text) : std::string(text)),
                  "the canonical text is the input (hex digits lower-cased)");
  keel::Result<keel::ModelId> again = keel::ParseModelId(canonical);
  if (!again.ok()) std::fprintf(stderr, "%s\n", again.status().ToString().c_str());
  KEEL_FUZZ_CHECK(again.ok(), "the canonical text parses");
  KEEL_FUZZ_CHECK(SameId(*id, *again), "an ID survives the round trip");
  return 0;
}
