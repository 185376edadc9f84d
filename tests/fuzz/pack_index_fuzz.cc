// Fuzzes keel::ParsePackIndex (pack-<h>.idx, docs/format/cas.md). Property:
// an index that parses is exactly what SerializePackIndex writes for its
// entries (the format has one encoding, and the checksum covers it all).
//
// Random bytes almost never carry a valid checksum, so each input is parsed
// twice: as it is, and with its last 32 bytes replaced by the SHA-256 of the
// rest, which lets the fuzzer reach the entry decoding with any header.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cas/pack.h"
#include "core/hash.h"
#include "fuzz_check.h"

namespace {

void ParseAndCheck(std::string_view bytes) {
  keel::Result<std::vector<keel::PackEntry>> entries = keel::ParsePackIndex(bytes, "fuzz.idx");
  if (!entries.ok()) {
    keel::CheckParseError(entries.status(), "fuzz.idx");
    return;
  }
  KEEL_FUZZ_CHECK(keel::SerializePackIndex(*entries) == bytes, "SerializePackIndex(Parse(x)) == x");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  ParseAndCheck(bytes);
  if (bytes.size() < 32) return 0;
  keel::Digest sum = keel::HashBytes(std::string_view(bytes).substr(0, bytes.size() - 32));
  bytes.replace(bytes.size() - 32, 32, reinterpret_cast<const char*>(sum.bytes.data()), 32);
  ParseAndCheck(bytes);
  return 0;
}
