// Fuzzes keel::ParseLockFile (keel.lock, docs/format/pipeline.md) and
// keel::ParseLockedStage (a run-cache entry, the same format for one stage).
//
// Properties of a lock file l that parses:
//   - a failed parse names its input first and is not an internal error;
//   - SerializeLockFile(l) parses again, to the same stages field by field
//     when the input is valid UTF-8 (see below);
//   - serializing is a fixed point: SerializeLockFile(ParseLockFile(
//     SerializeLockFile(l))) == SerializeLockFile(l).
// The same for a run-cache entry with SerializeLockedStage.
// The stronger SerializeLockFile(l) == input does not hold: the parser
// accepts comments, flow style, any key order and digests without the
// "sha256:" prefix, which serializing writes in their canonical form.
// Nor does the field-by-field round trip for input that is not UTF-8:
// yaml-cpp's parser keeps such bytes as they are, but its emitter writes each
// invalid byte of a quoted scalar as U+FFFD, so a command like "\xff" comes
// back as "\xef\xbf\xbd" (and the stage's signature changes). Only the text
// fixed point is checked for such input.
// A dep's `kind` is not part of the format (docs/format/pipeline.md: deps
// have path, hash, size, files): the parser reads one if present, the
// serializer never writes it, so deps are compared without their kind.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "pipeline/lock_file.h"

namespace {

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

std::vector<keel::LockedPath> WithoutKind(std::vector<keel::LockedPath> paths) {
  for (keel::LockedPath& p : paths) p.kind = keel::DataKind::kFile;
  return paths;
}

void CheckSameStage(const keel::LockedStage& a, const keel::LockedStage& b) {
  KEEL_FUZZ_CHECK(a.name == b.name, "name survives the round trip");
  KEEL_FUZZ_CHECK(a.cmd == b.cmd, "cmd survives the round trip");
  KEEL_FUZZ_CHECK(a.cmd_is_list == b.cmd_is_list, "cmd's shape survives the round trip");
  KEEL_FUZZ_CHECK(a.wdir == b.wdir, "wdir survives the round trip");
  KEEL_FUZZ_CHECK(a.env == b.env, "env survives the round trip");
  KEEL_FUZZ_CHECK(WithoutKind(a.deps) == WithoutKind(b.deps), "deps survive the round trip");
  KEEL_FUZZ_CHECK(a.params == b.params, "params survive the round trip");
  KEEL_FUZZ_CHECK(a.outs == b.outs, "outs survive the round trip");
  KEEL_FUZZ_CHECK(a.Signature() == b.Signature(), "the signature survives the round trip");
}

void CheckLockFile(std::string_view text) {
  keel::Result<keel::LockFile> lock = keel::ParseLockFile(text, "keel.lock");
  if (!lock.ok()) {
    keel::CheckParseError(lock.status(), "keel.lock");
    return;
  }
  const std::string serialized = keel::SerializeLockFile(*lock);
  keel::Result<keel::LockFile> again = keel::ParseLockFile(serialized, "again.lock");
  if (!again.ok()) {
    std::fprintf(stderr, "%s\nserialized:\n%s\n", again.status().ToString().c_str(), serialized.c_str());
  }
  KEEL_FUZZ_CHECK(again.ok(), "SerializeLockFile() output parses");
  KEEL_FUZZ_CHECK(again->stages.size() == lock->stages.size(), "every stage survives the round trip");
  if (IsUtf8(text)) {
    for (size_t i = 0; i < lock->stages.size(); ++i) CheckSameStage(lock->stages[i], again->stages[i]);
  }
  const std::string reserialized = keel::SerializeLockFile(*again);
  if (reserialized != serialized) {
    std::fprintf(stderr, "first:\n%s\nsecond:\n%s\n", serialized.c_str(), reserialized.c_str());
  }
  KEEL_FUZZ_CHECK(reserialized == serialized, "SerializeLockFile() is stable");
}

void CheckLockedStage(std::string_view text) {
  keel::Result<keel::LockedStage> stage = keel::ParseLockedStage(text, "run-cache");
  if (!stage.ok()) {
    keel::CheckParseError(stage.status(), "run-cache");
    return;
  }
  const std::string serialized = keel::SerializeLockedStage(*stage);
  keel::Result<keel::LockedStage> again = keel::ParseLockedStage(serialized, "again");
  if (!again.ok()) {
    std::fprintf(stderr, "%s\nserialized:\n%s\n", again.status().ToString().c_str(), serialized.c_str());
  }
  KEEL_FUZZ_CHECK(again.ok(), "SerializeLockedStage() output parses");
  if (IsUtf8(text)) CheckSameStage(*stage, *again);
  const std::string reserialized = keel::SerializeLockedStage(*again);
  if (reserialized != serialized) {
    std::fprintf(stderr, "first:\n%s\nsecond:\n%s\n", serialized.c_str(), reserialized.c_str());
  }
  KEEL_FUZZ_CHECK(reserialized == serialized, "SerializeLockedStage() is stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckLockFile(text);
  CheckLockedStage(text);
  return 0;
}
