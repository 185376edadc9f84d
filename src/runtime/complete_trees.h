// Complete trees: the layout keel's tree runtime adds for a numeric forest
// whose trees are shallow, and its evaluation for blocks of kBlock rows.
// The evaluation is compiled once per instruction set a machine may have
// (complete_trees_avx2.cc is built with -mavx2) and AddCompleteBlock picks
// the best the machine runs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace keel::runtime {

// How many rows go through the trees together.
inline constexpr size_t kBlock = 8;

// The deepest trees laid out complete: 2^9 - 1 slots, 4 KiB, a tree.
inline constexpr uint32_t kMaxCompleteDepth = 8;

// A node of the complete layout: an internal node's split, its feature as
// the offset `feature * kBlock` into a block of rows stored feature by
// feature; or, at the last level, a leaf's value in `threshold`.
struct Slot {
  float threshold;
  uint32_t column;
};
static_assert(sizeof(Slot) == 8);

// A tree of depth D is a complete binary tree in slots[first_slot,
// first_slot + 2^(D+1) - 1): node i's children are 2i+1 and 2i+2, and its
// leaves are the slots a row reaches after D steps. A leaf above the last
// level fills its whole subtree there.
struct CompleteTree {
  uint32_t first_slot;
  uint32_t depth;
  uint32_t group;  // the output margin it adds to
};

// A forest in the complete layout. A row goes right at a slot when
// !(value < threshold), or when its value is missing (NaN) and the slot's
// default_right is 1.
struct CompleteForest {
  const Slot* slots;
  const uint8_t* default_right;  // by slot, 0 or 1
  const CompleteTree* trees;
  size_t tree_count;
  size_t groups;  // margins per row
  float base_margin;
};

// Whether a block may hold missing values (NaN): kPresent skips the test
// for them, and then a NaN goes left whatever its slot's default.
enum class BlockValues { kPresent, kMayBeMissing };

// Writes the margins of kBlock rows, stored feature by feature in `block`
// (feature f of row r at block[f * kBlock + r]), to out[r * groups + g]:
// each the base margin plus the row's leaf of every tree of group g, added
// in tree order in float, as XGBoost sums them.
// REQUIRES: `block` holds kBlock values of every feature a slot names and
// `out` kBlock * groups floats; `values` is kMayBeMissing if any is NaN.
void AddCompleteBlock(const CompleteForest& forest, const float* block, BlockValues values,
                      float* out);

// AddCompleteBlock for one instruction set. The base build walks each row
// down each tree and runs anywhere. The AVX2 build, where CMakeLists.txt
// compiles it (x86-64), evaluates trees up to depth 6 for the whole block
// at once; it must only run where CpuHasAvx2().
using AddCompleteBlockFunction = void (*)(const CompleteForest&, const float*, BlockValues, float*);
void AddCompleteBlockBase(const CompleteForest& forest, const float* block, BlockValues values,
                          float* out);
#if defined(KEEL_HAVE_AVX2_TREES)
void AddCompleteBlockAvx2(const CompleteForest& forest, const float* block, BlockValues values,
                          float* out);
// Whether this CPU runs AVX2 (and its OS saves the AVX registers).
bool CpuHasAvx2();
#endif

// The build AddCompleteBlock calls on this machine.
AddCompleteBlockFunction ChosenCompleteBlock();

}  // namespace keel::runtime
