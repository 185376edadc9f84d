// Fuzzes keel::ParseLockFile (keel.lock, docs/format/pipeline.md) and
// keel::ParseLockedStage (a run-cache entry, the same format for one stage).
//
// Properties of a lock file l that parses:
//   - a failed parse names its input first and is not an internal error;
//   - SerializeLockFile(l) parses again, to the same stages field by field;
//   - serializing is a fixed point: SerializeLockFile(ParseLockFile(
//     SerializeLockFile(l))) == SerializeLockFile(l);
//   - the fast reader of canonical files and yaml-cpp agree: the input
//     behind an explicit document start "---" (which the fast reader
//     refuses, so yaml-cpp reads it) parses to the same stages, for
//     SerializeLockFile(l) and for any input the fast reader may have read.
// The same round trip for a run-cache entry with SerializeLockedStage.
// The stronger SerializeLockFile(l) == input does not hold: the parser
// accepts comments, flow style, any key order and digests without the
// "sha256:" prefix, which serializing writes in their canonical form.
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

void CheckSameLock(const keel::LockFile& a, const keel::LockFile& b) {
  KEEL_FUZZ_CHECK(a.stages.size() == b.stages.size(), "every stage survives the round trip");
  for (size_t i = 0; i < a.stages.size(); ++i) CheckSameStage(a.stages[i], b.stages[i]);
}

// False for text the fast reader surely refuses, and for text that an
// explicit document start would change: the first line other than comments
// must be "schema: 1", and no line may start a new document. yaml-cpp also
// guesses the encoding from the first four bytes ("#\0\0\0" reads as
// UTF-32LE), so those must be neither a byte order mark nor hold a NUL.
bool MayBeCanonical(std::string_view text) {
  if (text.substr(0, 4).find('\0') != std::string_view::npos) return false;
  if (!text.empty() && (text[0] == '\xef' || text[0] == '\xfe' || text[0] == '\xff')) return false;
  bool first = true;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.substr(0, 3) == "---" || line.substr(0, 3) == "...") return false;
    if (first && !line.empty() && line.front() != '#') {
      if (line != "schema: 1") return false;
      first = false;
    }
  }
  return !first;
}

// yaml-cpp reads `text` (behind "---", which the fast reader refuses) as
// `lock`, which serializes to `serialized`.
void CheckFullReaderAgrees(std::string_view text, const keel::LockFile& lock, const std::string& serialized) {
  keel::Result<keel::LockFile> full = keel::ParseLockFile("---\n" + std::string(text), "full.lock");
  if (!full.ok()) std::fprintf(stderr, "%s\n", full.status().ToString().c_str());
  KEEL_FUZZ_CHECK(full.ok(), "yaml-cpp reads what the fast reader reads");
  CheckSameLock(lock, *full);
  const std::string full_serialized = keel::SerializeLockFile(*full);
  if (full_serialized != serialized) {
    std::fprintf(stderr, "fast:\n%s\nyaml-cpp:\n%s\n", serialized.c_str(), full_serialized.c_str());
  }
  KEEL_FUZZ_CHECK(full_serialized == serialized, "yaml-cpp reads the same lock as the fast reader");
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
  CheckSameLock(*lock, *again);
  const std::string reserialized = keel::SerializeLockFile(*again);
  if (reserialized != serialized) {
    std::fprintf(stderr, "first:\n%s\nsecond:\n%s\n", serialized.c_str(), reserialized.c_str());
  }
  KEEL_FUZZ_CHECK(reserialized == serialized, "SerializeLockFile() is stable");

  CheckFullReaderAgrees(serialized, *again, serialized);
  if (MayBeCanonical(text)) CheckFullReaderAgrees(text, *lock, serialized);
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
  CheckSameStage(*stage, *again);
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
