// Fuzzes keel::ParsePipeline (keel.yaml, docs/format/pipeline.md), the stage
// graph built from what it accepts (keel::Dag::Build), and
// keel::ParamsFile::Parse on the same bytes.
//
// Properties:
//   - a failed parse (pipeline, graph or params) names its input first and
//     is not an internal error;
//   - a graph that builds has one node per stage; order() is a permutation
//     of the stages with every upstream stage before the stage itself;
//     upstream and downstream are sorted, in range, free of self-edges and
//     mirror each other; Closure of a stage holds its upstream/downstream;
//   - every leaf of a params file that parses is found by Select with its
//     value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "pipeline/dag.h"
#include "pipeline/params.h"
#include "pipeline/pipeline_file.h"

namespace {

bool Contains(const std::vector<size_t>& v, size_t x) {
  for (size_t y : v) {
    if (y == x) return true;
  }
  return false;
}

void CheckDag(const keel::PipelineSpec& spec, const keel::Dag& dag) {
  const size_t n = spec.stages.size();
  KEEL_FUZZ_CHECK(dag.size() == n, "the graph has one node per stage");
  const std::vector<size_t>& order = dag.order();
  KEEL_FUZZ_CHECK(order.size() == n, "order() lists every stage");
  std::vector<size_t> position(n, n);
  for (size_t i = 0; i < order.size(); ++i) {
    KEEL_FUZZ_CHECK(order[i] < n, "order() holds stage indices");
    KEEL_FUZZ_CHECK(position[order[i]] == n, "order() lists each stage once");
    position[order[i]] = i;
  }
  for (size_t s = 0; s < n; ++s) {
    const std::vector<size_t>& ups = dag.upstream(s);
    const std::vector<size_t>& downs = dag.downstream(s);
    for (size_t k = 0; k < ups.size(); ++k) {
      const size_t u = ups[k];
      KEEL_FUZZ_CHECK(u < n, "upstream() holds stage indices");
      KEEL_FUZZ_CHECK(u != s, "no stage is upstream of itself");
      KEEL_FUZZ_CHECK(k == 0 || ups[k - 1] < u, "upstream() is sorted and unique");
      KEEL_FUZZ_CHECK(position[u] < position[s], "every upstream stage comes before its stage in order()");
      KEEL_FUZZ_CHECK(Contains(dag.downstream(u), s), "upstream and downstream mirror each other");
    }
    for (size_t k = 0; k < downs.size(); ++k) {
      const size_t d = downs[k];
      KEEL_FUZZ_CHECK(d < n, "downstream() holds stage indices");
      KEEL_FUZZ_CHECK(k == 0 || downs[k - 1] < d, "downstream() is sorted and unique");
      KEEL_FUZZ_CHECK(Contains(dag.upstream(d), s), "downstream and upstream mirror each other");
    }
  }
  // Closures, for the first few stages (each is linear in the graph).
  for (size_t s = 0; s < n && s < 8; ++s) {
    for (keel::Direction dir : {keel::Direction::kUpstream, keel::Direction::kDownstream}) {
      std::vector<bool> in = dag.Closure({s}, dir);
      KEEL_FUZZ_CHECK(in.size() == n && in[s], "a closure holds its target");
      for (size_t t = 0; t < n; ++t) {
        if (!in[t]) continue;
        const std::vector<size_t>& next = dir == keel::Direction::kUpstream ? dag.upstream(t) : dag.downstream(t);
        for (size_t x : next) KEEL_FUZZ_CHECK(in[x], "a closure is closed");
      }
    }
  }
}

void CheckParams(std::string_view text) {
  keel::Result<keel::ParamsFile> params = keel::ParamsFile::Parse(text, "params.yaml");
  if (!params.ok()) {
    keel::CheckParseError(params.status(), "params.yaml");
    return;
  }
  for (const auto& [key, value] : params->values()) {
    keel::ParamValues selected;
    KEEL_FUZZ_CHECK(params->Select(key, &selected), "every leaf key is found by Select");
    auto it = selected.find(key);
    KEEL_FUZZ_CHECK(it != selected.end() && it->second == value, "Select gives the leaf's value");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckParams(text);
  // The parse cache's decoder must refuse, not misread or crash, on any bytes.
  if (std::optional<keel::PipelineSpec> decoded = keel::DecodeSpec(text)) {
    KEEL_FUZZ_CHECK(keel::EncodeSpec(*decoded) == text, "a decoded spec encodes to the same bytes");
  }

  keel::Result<keel::PipelineSpec> spec = keel::ParsePipeline(text, "keel.yaml");
  if (!spec.ok()) {
    keel::CheckParseError(spec.status(), "keel.yaml");
    return 0;
  }
  KEEL_FUZZ_CHECK(spec->file == "keel.yaml", "the spec names its file");
  for (const keel::StageSpec& stage : spec->stages) {
    KEEL_FUZZ_CHECK(!stage.cmd.empty() || stage.cmd_is_list, "a stage has a command");
    for (const keel::OutSpec& out : stage.outs) KEEL_FUZZ_CHECK(!out.path.empty(), "an out is not the project");
    for (const keel::DepSpec& dep : stage.deps) KEEL_FUZZ_CHECK(!dep.path.empty(), "a dep is not the project");
  }

  keel::Result<keel::Dag> dag = keel::Dag::Build(*spec, [](const std::string&) { return true; });
  if (!dag.ok()) {
    keel::CheckParseError(dag.status(), "keel.yaml");
    return 0;
  }
  CheckDag(*spec, *dag);
  return 0;
}
