// Packs: many small objects in one file, so that storing 100,000 small
// files costs a few file creations instead of 100,000 (docs/format/cas.md).
//
// A pack is two files under <objects>/pack/: pack-<name>.pack (the objects'
// bytes, one after another, after an 8-byte magic) and pack-<name>.idx (the
// sorted digests with offsets and sizes, checksummed). The index is renamed
// into place last, so a visible index always has its complete pack.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/env.h"
#include "core/hash.h"
#include "core/status.h"

namespace keel {

inline constexpr std::string_view kPackMagic = "KEELPACK";
inline constexpr std::string_view kPackIndexMagic = "KEELIDX1";

struct PackEntry {
  Digest digest;
  uint64_t offset = 0;
  uint64_t size = 0;
};

// REQUIRES: entries sorted by digest, without repeats.
std::string SerializePackIndex(const std::vector<PackEntry>& entries);
// Checks magic, length and checksum; `what` names the file in errors.
Result<std::vector<PackEntry>> ParsePackIndex(std::string_view data, std::string_view what);

// Builds one pack in a temporary folder. Append may be called from several
// threads; Seal and Publish from one, after every Append.
class PackWriter {
 public:
  // `env` must outlive the writer; temporaries go to `tmp_dir`.
  PackWriter(Env* env, std::string tmp_dir) : env_(env), tmp_dir_(std::move(tmp_dir)) {}
  ~PackWriter();  // removes unpublished temporaries
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  // Adds an object; a digest already added is skipped.
  Status Append(const Digest& digest, std::string_view data);
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  // Makes pack and index durable (still under their temporary names).
  Status Seal();
  // Renames pack, then index, into `pack_dir`. The caller syncs pack_dir.
  // Returns the published index path.
  Result<std::string> Publish(const std::string& pack_dir);
  const std::vector<PackEntry>& entries() const { return entries_; }

 private:
  Env* env_;
  std::string tmp_dir_;
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;  // guarded by mu_
  std::string pack_temp_, index_temp_;
  uint64_t offset_ = 0;
  std::vector<PackEntry> entries_;
  std::unordered_set<Digest, DigestHash> seen_;
  bool published_ = false;
};

// The published packs of one store, loaded on first use. Thread-safe.
class PackSet {
 public:
  PackSet(Env* env, std::string pack_dir) : env_(env), pack_dir_(std::move(pack_dir)) {}

  struct Location {
    std::string pack_path;
    uint64_t offset = 0;
    uint64_t size = 0;
  };
  // Where `digest` is packed, or nullopt. Loads the indexes on first use;
  // `refresh` rereads the folder first (another process may have added packs).
  Result<std::optional<Location>> Find(const Digest& digest, bool refresh = false);
  // The object's bytes (not verified).
  Result<std::string> Read(const Location& location);
  // Every packed object once (rereading the indexes first).
  Status ForEach(const std::function<Status(const PackEntry&)>& fn);
  // Every published pack's index path with all its entries, read from disk.
  Status ForEachPack(
      const std::function<Status(const std::string& index_path, const std::vector<PackEntry>&)>& fn);
  // Registers a pack this process just published.
  void Add(const std::string& index_path, const std::vector<PackEntry>& entries);
  // Rereads every index from disk.
  Status Reload();
  const std::string& dir() const { return pack_dir_; }

 private:
  Status LoadLocked();  // REQUIRES: mu_ held exclusively

  Env* env_;
  std::string pack_dir_;
  std::shared_mutex mu_;
  bool loaded_ = false;
  std::vector<std::string> packs_;  // pack file paths; Slot::pack indexes this
  struct Slot {
    uint32_t pack;
    uint64_t offset;
    uint64_t size;
  };
  std::unordered_map<Digest, Slot, DigestHash> slots_;
  // Open pack files, shared by readers (ReadAt is positionless). Kept for
  // the set's lifetime: packs are named by their content, so a name never
  // comes to mean other bytes.
  std::mutex files_mu_;
  std::unordered_map<std::string, std::unique_ptr<ReadableFile>> files_;
};

// "pack-<hex>.idx" → "pack-<hex>.pack".
std::string PackPathOf(const std::string& index_path);

}  // namespace keel
