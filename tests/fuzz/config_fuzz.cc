// Fuzzes keel::ParseProjectConfig (.keel/config, docs/format/config.md).
// Property: a config that parses has a cache.type order that, written back
// as a config, parses to the same order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cas/object_store.h"
#include "data/project.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  keel::Result<keel::ProjectConfig> config = keel::ParseProjectConfig(text, "fuzz/config");
  if (!config.ok()) {
    keel::CheckParseError(config.status(), "fuzz/config");
    return 0;
  }
  if (config->clone_order.empty()) return 0;
  std::string type;
  for (keel::CloneMethod method : config->clone_order) {
    type += (type.empty() ? "" : ",") + keel::CloneMethodName(method);
  }
  keel::Result<keel::ProjectConfig> again =
      keel::ParseProjectConfig("cache:\n  type: " + type + "\n", "again/config");
  KEEL_FUZZ_CHECK(again.ok(), "a written-back cache.type parses");
  KEEL_FUZZ_CHECK(again->clone_order == config->clone_order, "cache.type survives the round trip");
  return 0;
}
