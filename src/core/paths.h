// Lexical path helpers. Paths use '/' and are never resolved through
// symbolic links here; callers that must stay inside a folder check with
// IsWithin after normalising.
#pragma once

#include <string>
#include <string_view>

namespace keel {

// "a" + "b" → "a/b"; an absolute `b` is returned as is; empty parts vanish.
std::string JoinPath(std::string_view a, std::string_view b);
// Removes ".", "..", repeated and trailing slashes: "/a/./b/../c/" → "/a/c".
// A relative path that climbs above its start keeps its leading "..".
std::string NormalizePath(std::string_view path);
// The part before the last '/': "a/b/c" → "a/b", "c" → "", "/c" → "/".
std::string DirName(std::string_view path);
// The part after the last '/': "a/b/c" → "c".
std::string BaseName(std::string_view path);
// True if normalised `path` is `root` or lies below it.
bool IsWithin(std::string_view root, std::string_view path);
// `path` relative to `root`; REQUIRES: IsWithin(root, path). "" when equal.
std::string RelativePath(std::string_view root, std::string_view path);
bool EndsWith(std::string_view s, std::string_view suffix);
// Whether `s` is well-formed UTF-8: no stray continuation bytes, truncated
// sequences, overlong forms, surrogates or code points past U+10FFFF.
bool IsValidUtf8(std::string_view s);

}  // namespace keel
