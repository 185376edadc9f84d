// Fuzzes keel::Manifest::Parse (folder manifests, docs/format/cas.md).
//
// Properties of a manifest m that parses:
//   - Parse(Serialize(m)) succeeds and gives m again, entry by entry;
//   - Serialize is a fixed point: Serialize(Parse(Serialize(m))) == Serialize(m).
// The stronger Serialize(m) == input does not hold: Parse also accepts
// digests in upper-case hex or with a "sha256:" prefix, and sizes with
// leading zeros, which Serialize writes in their canonical form. Building
// with -DKEEL_FUZZ_MANIFEST_EXACT checks the strong property anyway.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cas/manifest.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::Result<keel::Manifest> m = keel::Manifest::Parse(text, "fuzz-manifest");
  if (!m.ok()) {
    keel::CheckParseError(m.status(), "fuzz-manifest");
    return 0;
  }
  std::string serialized = m->Serialize();
#ifdef KEEL_FUZZ_MANIFEST_EXACT
  KEEL_FUZZ_CHECK(serialized == text, "Serialize(Parse(x)) == x");
#endif
  keel::Result<keel::Manifest> again = keel::Manifest::Parse(serialized, "again");
  if (!again.ok()) std::fprintf(stderr, "%s\n", again.status().ToString().c_str());
  KEEL_FUZZ_CHECK(again.ok(), "Serialize() output parses");
  KEEL_FUZZ_CHECK(again->entries() == m->entries(), "entries survive the round trip");
  KEEL_FUZZ_CHECK(again->Serialize() == serialized, "Serialize() is a fixed point");
  KEEL_FUZZ_CHECK(again->FileCount() <= again->entries().size(), "FileCount() counts entries");
  return 0;
}
