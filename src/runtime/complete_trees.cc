// Complete trees for any machine, and the choice of the build to run.
#include "runtime/complete_trees.h"

#include "runtime/complete_trees_eval.h"

namespace keel::runtime {

// With SSE2's registers a block's values of a feature take two, and
// choosing even a tree of depth 3 whole was slower than walking it: every
// tree is walked.
void AddCompleteBlockBase(const CompleteForest& forest, const float* block, BlockValues values,
                          float* out) {
  AddWalkedBlock(forest, block, values, out);
}

#if defined(KEEL_HAVE_AVX2_TREES)
bool CpuHasAvx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

AddCompleteBlockFunction ChosenCompleteBlock() {
#if defined(KEEL_HAVE_AVX2_TREES)
  if (CpuHasAvx2()) return AddCompleteBlockAvx2;
#endif
  return AddCompleteBlockBase;
}

void AddCompleteBlock(const CompleteForest& forest, const float* block, BlockValues values,
                      float* out) {
  static const AddCompleteBlockFunction chosen = ChosenCompleteBlock();
  chosen(forest, block, values, out);
}

}  // namespace keel::runtime
