// The content-addressed object store: every object is named by the SHA-256
// of its bytes: a loose file <root>/ab/cdef…, or an entry of a pack under
// <root>/pack/ (docs/format/cas.md).
//
// Objects are immutable and read-only (0444). An object becomes visible only
// once its bytes are durable: it is built under <root>/tmp/, synced, then
// renamed into place, and the folder is synced. Thread-safe: several
// processes may put the same object at once; the rename makes the last one
// win with identical bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cas/pack.h"
#include "core/env.h"
#include "core/hash.h"
#include "core/status.h"

namespace keel {

// Parses a `cache.type` value such as "reflink,hardlink,copy" (the order in
// which link methods are tried). Errors name the bad word.
Result<std::vector<CloneMethod>> ParseCloneOrder(std::string_view text);
std::string CloneMethodName(CloneMethod method);

// Objects up to this size go into a pack when a batch packs.
inline constexpr uint64_t kPackMaxObject = 256 * 1024;

// Whether a batch puts its small objects into one pack (for many small
// files) or writes every object as a loose file.
enum class Packing { kLoose, kSmallObjects };
// Where AddBytes puts an object: as the batch decides, or always loose
// (for objects read by path, such as folder manifests).
enum class Placement { kAuto, kLoose };

class ObjectStore {
 public:
  // `env` must outlive the store. `root` is the objects folder.
  ObjectStore(Env* env, std::string root, std::vector<CloneMethod> clone_order);

  // Creates the folders if missing.
  Status Init();

  const std::string& root() const { return root_; }
  // The loose object's path (where it would be, if it is loose).
  std::string PathOf(const Digest& digest) const;
  // True if the object is stored, loose or packed.
  bool Has(const Digest& digest) const;

  // Stores `data` at once (synced) and returns its digest.
  Result<Digest> PutBytes(std::string_view data);
  // Reads a whole object and checks it against its digest (corrupt if not).
  Result<std::string> ReadVerified(const Digest& digest) const;
  // True if the object is stored and its bytes begin with `prefix` (reads
  // only that many bytes).
  bool StartsWith(const Digest& digest, std::string_view prefix) const;

  // A group of puts made durable together: one filesystem sync for the whole
  // group instead of an fsync per object. Objects appear at Commit(); a batch
  // destroyed without Commit() leaves nothing behind. AddFile and AddBytes
  // may be called from several threads at once; Commit from one.
  class Batch {
   public:
    explicit Batch(ObjectStore* store, Packing packing = Packing::kLoose)
        : store_(store), packing_(packing) {}
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

    // Stages the file at `path`, already hashed to `digest` while it had
    // `info`'s size, mtime and inode. Tries the store's clone order; a hardlink is
    // only made for files without exec bits, and makes `path` read-only
    // (it shares the object's inode). When packing, a small file is read,
    // checked against `digest`, and appended to the batch's pack instead.
    // Fails with failed precondition if the file changed since it was
    // hashed. A no-op if the object exists.
    Status AddFile(const std::string& path, const Digest& digest, const FileInfo& info);
    Status AddBytes(std::string_view data, const Digest& digest, Placement placement = Placement::kAuto);
    Status Commit();
    // Objects this batch adds (loose and packed).
    size_t staged() const { return staged_.size() + (pack_ ? pack_->size() : 0); }

   private:
    struct Staged {
      Digest digest;
      std::string temp;
    };
    bool Packs(uint64_t size) const { return packing_ == Packing::kSmallObjects && size <= kPackMaxObject; }
    PackWriter* pack();

    ObjectStore* store_;
    Packing packing_;
    std::mutex mu_;
    std::vector<Staged> staged_;         // guarded by mu_
    std::unique_ptr<PackWriter> pack_;  // created under mu_
  };

  // Creates `dest` (which must not exist) with the object's bytes, checked
  // against the digest (corrupt, and no `dest`, if they differ), trying
  // the clone order. A copy or reflink gets mode 0644, or 0755 when
  // `executable`; a hardlink (never for executables) shares the object's
  // read-only inode. Returns the method used.
  Result<CloneMethod> Materialize(const Digest& digest, const std::string& dest, bool executable);

  // Calls `fn` for every stored object (not temporaries) once, in no order;
  // `info.size` is the object's size. Fails on a damaged pack index.
  Status ForEach(const std::function<Status(const Digest&, const FileInfo&)>& fn) const;
  // Rehashes one object: OK, corrupt (content differs from its name), or not
  // found.
  Status Verify(const Digest& digest) const;
  // Deletes objects: loose files are unlinked; a pack left with no live
  // object is deleted, one with some is rewritten without the others.
  // REQUIRES: no put in progress (callers hold the project's exclusive lock).
  Status RemoveObjects(const std::vector<Digest>& digests);
  Status Remove(const Digest& digest) { return RemoveObjects({digest}); }
  // Removes leftovers of interrupted puts (temporaries, packs without an
  // index). REQUIRES: no put in progress.
  Result<size_t> RemoveTemporaries();

 private:
  std::string NewTempPath(const Digest& digest) const;
  // Tries the clone order for src → dst; a method that fails for a reason
  // other than the source (no reflink on this filesystem, no hardlink across
  // filesystems) is not tried again by this store.
  Result<CloneMethod> Clone(const std::string& src, const std::string& dst, bool executable);

  Result<std::optional<PackSet::Location>> FindPacked(const Digest& digest) const;
  Result<std::string> ReadRaw(const Digest& digest) const;

  Env* env_;
  std::string root_;
  std::vector<CloneMethod> clone_order_;
  std::unique_ptr<PackSet> packs_;
  std::atomic<bool> reflink_failed_{false};
  std::atomic<bool> hardlink_failed_{false};
};

}  // namespace keel
