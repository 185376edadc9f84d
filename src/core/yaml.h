// Small helpers shared by every YAML reader (keel.yaml, keel.lock, pointer
// files, .keel/config): error locations and suggestions for misspelt keys.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace keel {

// "file:line:column" of `mark` (yaml-cpp counts from 0, editors from 1).
std::string YamlWhere(std::string_view file, const YAML::Mark& mark);

// " (did you mean 'deps'?)" for the entry of `known` closest to `word` by
// edit distance when it is at most 2 edits away; "" otherwise.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& known);

}  // namespace keel
