#include "core/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <vector>

namespace keel {

namespace {
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kPrefix = "sha256:";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string Digest::Hex() const {
  std::string out(64, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
  return out;
}

Result<Digest> Digest::Parse(std::string_view text, std::string_view what) {
  std::string_view hex = text;
  if (hex.substr(0, kPrefix.size()) == kPrefix) hex.remove_prefix(kPrefix.size());
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError(std::string(what) + ": '" + std::string(text) +
                                "' is not a sha256 digest (" + std::string(why) +
                                "; expected sha256: and 64 hex digits)");
  };
  if (hex.size() != 64) return bad(std::to_string(hex.size()) + " hex digits");
  Digest digest;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad("non-hex character");
    digest.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return digest;
}

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(new Ctx) { EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr); }
Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) { EVP_DigestUpdate(ctx_->md, data.data(), data.size()); }

Digest Sha256::Finish() {
  Digest digest;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, digest.bytes.data(), &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  return digest;
}

Digest HashBytes(std::string_view data) {
  Sha256 hasher;
  hasher.Update(data);
  return hasher.Finish();
}

Result<HashedFile> HashFile(Env* env, const std::string& path,
                            const std::function<void(uint64_t)>& on_bytes) {
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<ReadableFile> file, env->OpenForRead(path));
  thread_local std::vector<char> buf(1 << 20);
  Sha256 hasher;
  HashedFile out;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(size_t n, file->Read(buf.data(), buf.size()));
    if (n == 0) break;
    hasher.Update(std::string_view(buf.data(), n));
    out.size += n;
    if (on_bytes) on_bytes(n);
  }
  out.digest = hasher.Finish();
  return out;
}

std::string CryptoLibraryVersion() { return OpenSSL_version(OPENSSL_VERSION); }

}  // namespace keel
