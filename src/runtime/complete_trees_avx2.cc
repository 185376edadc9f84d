// Complete trees with AVX2: this file alone is compiled with -mavx2, and
// runs only where CpuHasAvx2().
#include "runtime/complete_trees.h"

#include "runtime/complete_trees_eval.h"

namespace keel::runtime {

void AddCompleteBlockAvx2(const CompleteForest& forest, const float* block, BlockValues values,
                          float* out) {
  AddSelectedBlock(forest, block, values, out);
}

}  // namespace keel::runtime
