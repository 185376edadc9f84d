// keel.yaml: the pipeline's stages as the user wrote them, parsed and
// checked on their own (docs/format/pipeline.md). Checks that need the
// workspace or the params files (missing deps, missing param keys) belong to
// the graph and the params loader.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keel {

inline constexpr char kPipelineFile[] = "keel.yaml";
inline constexpr char kDefaultParamsFile[] = "params.yaml";

enum class OutKind { kOut, kMetric, kPlot };
std::string_view OutKindName(OutKind kind);  // "outs", "metrics", "plots"

// Every path below is project-relative and normalised ("" is the root);
// `where` is "keel.yaml:LINE:COLUMN" of the entry, for errors.
struct DepSpec {
  std::string path;
  std::string where;
};

struct OutSpec {
  std::string path;
  OutKind kind = OutKind::kOut;
  bool cache = true;  // stored in the CAS; false: hashed and recorded only
  std::string where;
};

struct ParamSpec {
  std::string file;  // the params file
  std::string key;   // a dotted key ("train.eta") or a section ("train")
  std::string where;
};

struct StageSpec {
  std::string name;
  std::string where;
  std::vector<std::string> cmd;  // run in order with /bin/sh -c
  bool cmd_is_list = false;      // written back the way it was given
  std::string wdir;              // "" for the project root
  std::vector<DepSpec> deps;
  std::vector<ParamSpec> params;
  std::vector<OutSpec> outs;  // outs, metrics and plots
  std::map<std::string, std::string> env;
};

// An entry of the `model:` section: a folder some stage writes, registered
// in the model registry after every successful `keel run`.
struct ModelSpec {
  std::string name;         // a model name (registry/model_id.h's rule)
  std::string path;         // an out of a stage, or a folder inside one
  std::string flavor;       // empty: decided when registering
  std::string description;  // empty: none
  std::string where;
};

struct PipelineSpec {
  std::string file;          // "keel.yaml"
  std::string params_file;   // the default params file
  std::vector<StageSpec> stages;  // in file order
  std::vector<ModelSpec> models;  // in file order

  // The stage named `name`, or null.
  const StageSpec* Find(std::string_view name) const;
};

// Parses keel.yaml's text. `file` names it in errors, which carry line and
// column: "keel.yaml:14:7: stage 'train': unknown key 'dep' (did you mean
// 'deps'?)". Checks keys, types, stage names, that every path stays inside
// the project and that every model's path is a stage's out; not the graph.
Result<PipelineSpec> ParsePipeline(std::string_view text, std::string_view file);

// A compact binary form of a parsed spec, so that an unchanged keel.yaml is
// not parsed again (yaml-cpp reads ~3 MB/s: a big pipeline's keel.yaml
// would cost more than checking all its deps). DecodeSpec returns nullopt
// for anything EncodeSpec did not write.
std::string EncodeSpec(const PipelineSpec& spec);
std::optional<PipelineSpec> DecodeSpec(std::string_view data);

}  // namespace keel
