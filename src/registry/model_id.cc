#include "registry/model_id.h"

#include <charconv>

namespace keel {
namespace {

constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxAliasLength = 64;
constexpr size_t kMinDigestPrefix = 4;
constexpr size_t kDigestHexLength = 64;
constexpr std::string_view kSha256 = "sha256:";

bool IsAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsLowerOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool IsModelName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength || !IsAsciiAlnum(name[0])) return false;
  for (char c : name) {
    if (!IsAsciiAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

bool IsAlias(std::string_view alias) {
  if (alias.empty() || alias.size() > kMaxAliasLength || alias[0] < 'a' || alias[0] > 'z') return false;
  for (char c : alias) {
    if (!IsLowerOrDigit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

Status BadId(std::string_view text, const std::string& why) {
  return InvalidArgumentError("bad model ID '" + std::string(text) + "': " + why);
}

Result<ModelId> ParseDigest(std::string_view text) {
  std::string_view hex = text.substr(kSha256.size());
  if (hex.size() < kMinDigestPrefix || hex.size() > kDigestHexLength) {
    return BadId(text, "a content digest needs 4 to 64 hex digits after 'sha256:'");
  }
  ModelId id;
  id.kind = ModelId::Kind::kDigest;
  for (char c : hex) {
    if (!IsHex(c)) return BadId(text, "'" + std::string(1, c) + "' is not a hex digit");
    id.digest_prefix.push_back(c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return id;
}

Result<ModelId> ParseVersionOrAlias(std::string_view text, size_t at) {
  ModelId id;
  id.name = std::string(text.substr(0, at));
  std::string_view rest = text.substr(at + 1);
  if (id.name.empty()) return BadId(text, "the model name before '@' is missing");
  if (!IsModelName(id.name)) {
    return BadId(text, "a model name has letters, digits, '.', '_' and '-', starts with a letter or digit, "
                       "and has at most 128 characters");
  }
  if (rest.empty()) return BadId(text, "expected a version number or an alias after '@'");
  if (rest[0] >= '0' && rest[0] <= '9') {
    int64_t v = 0;
    auto r = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (r.ec != std::errc() || r.ptr != rest.data() + rest.size() || v <= 0 || rest[0] == '0') {
      return BadId(text, "a version is a number from 1 up, without leading zeros");
    }
    id.kind = ModelId::Kind::kVersion;
    id.version = v;
    return id;
  }
  if (!IsAlias(rest)) {
    return BadId(text, "an alias has lower-case letters, digits, '_' and '-', starts with a letter, "
                       "and has at most 64 characters");
  }
  id.kind = ModelId::Kind::kAlias;
  id.alias = std::string(rest);
  return id;
}

}  // namespace

std::string ModelId::ToString() const {
  switch (kind) {
    case Kind::kVersion: return VersionId(name, version);
    case Kind::kAlias: return name + "@" + alias;
    case Kind::kDigest: return std::string(kSha256) + digest_prefix;
  }
  return name;
}

std::string VersionId(std::string_view name, int64_t version) {
  return std::string(name) + "@" + std::to_string(version);
}

Result<ModelId> ParseModelId(std::string_view text) {
  if (text.substr(0, kSha256.size()) == kSha256) return ParseDigest(text);
  size_t at = text.find('@');
  if (at == std::string_view::npos) {
    if (IsModelName(text)) {
      return BadId(text, "expected NAME@VERSION, NAME@ALIAS or sha256:DIGEST (did you mean '" + std::string(text) +
                             "@latest'?)");
    }
    return BadId(text, "expected NAME@VERSION, NAME@ALIAS or sha256:DIGEST");
  }
  return ParseVersionOrAlias(text, at);
}

Status ValidateModelName(std::string_view name) {
  if (IsModelName(name)) return Status::Ok();
  return InvalidArgumentError("bad model name '" + std::string(name) +
                              "': use letters, digits, '.', '_' and '-', starting with a letter or digit, "
                              "at most 128 characters");
}

Status ValidateAliasName(std::string_view alias) {
  if (alias == kLatestAlias) {
    return InvalidArgumentError("alias 'latest' is built in (the highest version not deleted) and cannot be set");
  }
  if (IsAlias(alias)) return Status::Ok();
  return InvalidArgumentError("bad alias '" + std::string(alias) +
                              "': use lower-case letters, digits, '_' and '-', starting with a letter, "
                              "at most 64 characters");
}

}  // namespace keel
