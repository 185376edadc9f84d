// Pointer files: PATH.keel, a small YAML file committed to git in place of
// the data at PATH (docs/format/pointer.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/hash.h"
#include "core/status.h"

namespace keel {

inline constexpr std::string_view kPointerSuffix = ".keel";

enum class DataKind { kFile, kDir };
std::string_view DataKindName(DataKind kind);

struct Pointer {
  std::string path;  // the data's name, in the pointer's folder (no '/')
  DataKind kind = DataKind::kFile;
  Digest digest;      // the file's object, or the folder's manifest object
  uint64_t size = 0;  // bytes
  uint64_t files = 0;
  bool executable = false;  // files only

  std::string Serialize() const;
  // Parses a pointer file's text; `file` names it in errors, which carry
  // line and column: "data/a.csv.keel:3:7: field 'hash': ...".
  static Result<Pointer> Parse(std::string_view text, std::string_view file);
};

}  // namespace keel
