// SHA-256 digests: the address of every object keel stores.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"

namespace keel {

struct Digest {
  std::array<uint8_t, 32> bytes{};

  // 64 lower-case hex digits.
  std::string Hex() const;
  // "sha256:" followed by Hex(): the form written to files and shown to users.
  std::string ToString() const { return "sha256:" + Hex(); }

  // Parses "sha256:<64 hex digits>" (the prefix may be omitted). `what` names
  // the field or file in the error, e.g. "data/a.csv.keel: field 'hash'".
  static Result<Digest> Parse(std::string_view text, std::string_view what);

  friend bool operator==(const Digest& a, const Digest& b) { return a.bytes == b.bytes; }
  friend bool operator!=(const Digest& a, const Digest& b) { return !(a == b); }
  friend bool operator<(const Digest& a, const Digest& b) { return a.bytes < b.bytes; }
};

struct DigestHash {
  size_t operator()(const Digest& d) const {
    size_t h;
    static_assert(sizeof h <= sizeof d.bytes);
    __builtin_memcpy(&h, d.bytes.data(), sizeof h);
    return h;
  }
};

// Streaming SHA-256 through OpenSSL's EVP interface (which uses the CPU's
// SHA instructions where present). Not thread-safe; one per thread.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // Returns the digest and resets the hasher for reuse.
  Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Digest HashBytes(std::string_view data);

struct HashedFile {
  Digest digest;
  uint64_t size = 0;
};

// Reads `path` to its end and hashes it. `on_bytes`, if set, is called with
// each chunk's length (for progress reporting).
Result<HashedFile> HashFile(Env* env, const std::string& path,
                            const std::function<void(uint64_t)>& on_bytes = {});

// "OpenSSL 3.0.x ...": the library that hashes.
std::string CryptoLibraryVersion();

}  // namespace keel
