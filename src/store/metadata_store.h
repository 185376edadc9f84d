// Metadata: the records keel keeps about what it stored. One interface,
// chosen by URI scheme; "sqlite://PATH" is the embedded default.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"
#include "core/status.h"

namespace keel {

// One version of a data file or folder added with `keel data add`.
struct DataVersion {
  int64_t id = 0;                // assigned by the store
  std::string path;              // relative to the project root
  std::string kind;              // "file" or "dir"
  Digest digest;                 // the file's object, or the folder's manifest
  uint64_t size = 0;             // bytes
  uint64_t files = 0;            // file count (1 for a file)
  int64_t created_at_ns = 0;     // Unix time
  std::string git_commit;        // HEAD when added; empty outside git
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // Records a data version; if the newest version of the same path already
  // has this digest, keeps that row and returns its id.
  virtual Result<int64_t> RecordDataVersion(const DataVersion& version) = 0;
  // Versions of `path` (all paths when empty), newest first.
  virtual Result<std::vector<DataVersion>> ListDataVersions(std::string_view path) = 0;
  // The newest applied schema migration.
  virtual Result<int64_t> SchemaVersion() = 0;
};

// Opens the store named by `uri`: "sqlite://PATH" (created and migrated on
// first use). Unknown schemes are an invalid argument naming the URI.
Result<std::unique_ptr<MetadataStore>> OpenMetadataStore(std::string_view uri);

}  // namespace keel
