// Params files (params.yaml): hyperparameters that stages depend on by key
// ("train.max_depth") or by section ("train").
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/status.h"

namespace keel {

// A param's value as text: a scalar as written ("0.1", "adam"), "null" for
// an empty value, a sequence or mapping in YAML flow style ("[1, 2]").
// Comparing texts is comparing values.
using ParamValues = std::map<std::string, std::string>;  // dotted key → value

class ParamsFile {
 public:
  // Parses a params file; `file` names it in errors ("params.yaml:3:1: ...").
  // The top level must be a mapping (or empty).
  static Result<ParamsFile> Parse(std::string_view text, std::string_view file);

  // Every leaf (a scalar or sequence, or an empty mapping) by dotted key.
  const ParamValues& values() const { return values_; }

  // Adds the value of `key` to `out`: the leaf itself, or every leaf under
  // a section. False if the file has no such key.
  bool Select(const std::string& key, ParamValues* out) const;

 private:
  ParamValues values_;
};

// A metrics file (JSON or YAML): a mapping of numbers, nested mappings
// flattened with '.' ("valid.auc"). `null` (an undefined metric, as
// metrics.json writes it) and NaN read as NaN. Errors name `file` and the
// key: "metrics.json: 'auc' is 'high', not a number".
Result<std::map<std::string, double>> ParseMetricsFile(std::string_view text, const std::string& file);

}  // namespace keel
