// Fuzzes keel::Pointer::Parse (docs/format/pointer.md). Property: a pointer
// that parses serializes to text that parses back to an equal pointer, and
// serializing that gives the same text.
// (Pointer paths must be UTF-8: yaml-cpp's emitter cannot write other bytes
// in a quoted scalar, so Parse rejects them and `keel data add` refuses such
// names.)
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/pointer.h"
#include "fuzz_check.h"


extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::Result<keel::Pointer> p = keel::Pointer::Parse(text, "fuzz.keel");
  if (!p.ok()) {
    keel::CheckParseError(p.status(), "fuzz.keel");
    return 0;
  }
  std::string serialized = p->Serialize();
  keel::Result<keel::Pointer> q = keel::Pointer::Parse(serialized, "again.keel");
  if (!q.ok()) std::fprintf(stderr, "%s\n", q.status().ToString().c_str());
  KEEL_FUZZ_CHECK(q.ok(), "Serialize() output parses");
  KEEL_FUZZ_CHECK(q->path == p->path, "path survives the round trip");
  KEEL_FUZZ_CHECK(q->Serialize() == serialized, "Serialize() is stable");
  KEEL_FUZZ_CHECK(q->kind == p->kind, "kind survives the round trip");
  KEEL_FUZZ_CHECK(q->digest == p->digest, "hash survives the round trip");
  KEEL_FUZZ_CHECK(q->size == p->size, "size survives the round trip");
  KEEL_FUZZ_CHECK(q->files == p->files, "files survives the round trip");
  KEEL_FUZZ_CHECK(q->executable == p->executable, "executable survives the round trip");
  return 0;
}
