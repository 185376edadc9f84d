// Model IDs: how a user names one version of a registered model
// (docs/format/registry.md).
//
//   census@7            version 7 of model census
//   census@production   the version alias 'production' points at
//   census@latest       the highest version not deleted (built in)
//   sha256:1a2b3c       the version whose content digest starts so
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace keel {

// The built-in alias for the highest live version; it cannot be set.
inline constexpr std::string_view kLatestAlias = "latest";

struct ModelId {
  enum class Kind { kVersion, kAlias, kDigest };

  Kind kind = Kind::kVersion;
  std::string name;           // kVersion, kAlias
  int64_t version = 0;        // kVersion: 1, 2, ...
  std::string alias;          // kAlias, possibly kLatestAlias
  std::string digest_prefix;  // kDigest: 4 to 64 lower-case hex digits

  // The canonical text: "census@7", "census@production", "sha256:1a2b".
  std::string ToString() const;
};

// Parses a model ID. Errors are invalid arguments that quote the text and
// say what is wrong: "bad model ID 'census@': expected a version number or
// an alias after '@'".
Result<ModelId> ParseModelId(std::string_view text);

// A model name: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. The error quotes it.
Status ValidateModelName(std::string_view name);

// An alias as it may be set: [a-z][a-z0-9_-]{0,63}, and not "latest".
Status ValidateAliasName(std::string_view alias);

// The canonical ID of a version: "census@7".
std::string VersionId(std::string_view name, int64_t version);

}  // namespace keel
