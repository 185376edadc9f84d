// Complete trees with the machine's base vectors, and the choice of
// instruction set.
#include "runtime/complete_trees.h"

#include "runtime/complete_trees_eval.h"

namespace keel::runtime {

// A block's values of a feature take two SSE registers, and choosing even
// a tree of depth 3 whole was slower than walking it: every tree is walked.
void AddCompleteBlockBase(const CompleteForest& forest, const float* block, bool missing, float* out) {
  AddWalkedBlock(forest, block, missing, out);
}

#if defined(KEEL_HAVE_AVX2_TREES)
bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

void AddCompleteBlock(const CompleteForest& forest, const float* block, bool missing, float* out) {
#if defined(KEEL_HAVE_AVX2_TREES)
  if (CpuHasAvx2()) return AddCompleteBlockAvx2(forest, block, missing, out);
#endif
  AddCompleteBlockBase(forest, block, missing, out);
}

}  // namespace keel::runtime
