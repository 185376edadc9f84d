// A folder version as one object: the sorted list of its entries. See
// docs/format/cas.md for the text format.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"
#include "core/status.h"

namespace keel {

// The first line of every manifest object.
inline constexpr std::string_view kManifestHeader = "keel-manifest 1\n";

// Git-style entry modes.
enum class EntryMode : uint32_t {
  kFile = 0100644,
  kExecutable = 0100755,
  kSymlink = 0120000,  // the object holds the link's target
  kEmptyDir = 040000,  // a folder with no entries; no object
};

struct ManifestEntry {
  std::string path;  // relative, '/'-separated, no "." or ".." parts
  EntryMode mode = EntryMode::kFile;
  uint64_t size = 0;  // bytes of the object (target length for links)
  Digest digest;      // unset for kEmptyDir

  friend bool operator==(const ManifestEntry&, const ManifestEntry&) = default;
};

class Manifest {
 public:
  Manifest() = default;
  // Sorts `entries` by path; REQUIRES: paths are unique.
  explicit Manifest(std::vector<ManifestEntry> entries);

  const std::vector<ManifestEntry>& entries() const { return entries_; }
  // Bytes of all files and link targets.
  uint64_t TotalSize() const;
  // Files and links (not empty folders).
  uint64_t FileCount() const;
  // The entry for `path`, or null.
  const ManifestEntry* Find(std::string_view path) const;

  std::string Serialize() const;
  // Parses Serialize()'s output; `what` names the object in errors.
  static Result<Manifest> Parse(std::string_view text, std::string_view what);

 private:
  std::vector<ManifestEntry> entries_;
};

}  // namespace keel
