// Fuzzes keel::Pointer::Parse (docs/format/pointer.md). Property: a pointer
// that parses serializes to text that parses back to an equal pointer, and
// serializing that gives the same text.
//
// Known bug, skipped below until it is fixed: a path that is not valid UTF-8
// and needs YAML quoting (e.g. "caf\xe9 #1.csv") comes back with each bad
// byte replaced by U+FFFD, since yaml-cpp's emitter writes quoted scalars code
// point by code point. `keel data add` writes such pointers today.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "data/pointer.h"
#include "fuzz_check.h"

namespace {

// Whether `s` is well-formed UTF-8: no stray continuation bytes, truncated
// sequences, overlong forms, surrogates or code points past U+10FFFF.
bool IsUtf8(std::string_view s) {
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = 1;
    uint32_t cp = c;
    if (c >= 0x80) {
      if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f;
      else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f;
      else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07;
      else return false;
      if (s.size() - i < len) return false;
      for (size_t k = 1; k < len; ++k) {
        auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xc0) != 0x80) return false;
        cp = cp << 6 | (d & 0x3f);
      }
      if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

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
  if (IsUtf8(p->path)) {  // see the known bug above
    KEEL_FUZZ_CHECK(q->path == p->path, "path survives the round trip");
    KEEL_FUZZ_CHECK(q->Serialize() == serialized, "Serialize() is stable");
  }
  KEEL_FUZZ_CHECK(q->kind == p->kind, "kind survives the round trip");
  KEEL_FUZZ_CHECK(q->digest == p->digest, "hash survives the round trip");
  KEEL_FUZZ_CHECK(q->size == p->size, "size survives the round trip");
  KEEL_FUZZ_CHECK(q->files == p->files, "files survives the round trip");
  KEEL_FUZZ_CHECK(q->executable == p->executable, "executable survives the round trip");
  return 0;
}
