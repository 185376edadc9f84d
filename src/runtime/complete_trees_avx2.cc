// Complete trees with AVX2: this file alone is compiled with -mavx2, and
// runs only where CpuHasAvx2().
#include "runtime/complete_trees.h"

#include "runtime/complete_trees_eval.h"

namespace keel::runtime {

// A block's values of a feature fill one register; choosing a tree whole
// pays up to depth 6.
void AddCompleteBlockAvx2(const CompleteForest& forest, const float* block, BlockValues values,
                          float* out) {
  AddSelectedBlock<6>(forest, block, values, out);
}

}  // namespace keel::runtime
