// The evaluation of complete trees (complete_trees.h), included once by each
// instruction set's file: complete_trees.cc (the machine's base vectors)
// and complete_trees_avx2.cc (-mavx2). Everything here has internal
// linkage, and nothing here instantiates a library template, so no
// function compiled for AVX2 can be shared with code that runs without it.
#pragma once

#include <cstring>

#include "runtime/complete_trees.h"

namespace keel::runtime {
namespace {

// The leaf each of the block's rows reaches in a tree, into `leaves`: the
// rows walk it in lockstep, so that their loads overlap.
template <BlockValues kValues>
void WalkLeaves(const Slot* slots, const uint8_t* default_right, uint32_t depth, const float* block,
                float* leaves) {
  uint32_t index[kBlock] = {};
  for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
    for (size_t r = 0; r < kBlock; ++r) {
      const Slot& slot = slots[index[r]];
      const float value = block[slot.column + r];
      bool right = value >= slot.threshold;
      if constexpr (kValues == BlockValues::kMayBeMissing) {
        right |= (value != value) & (default_right[index[r]] != 0);
      }
      index[r] = 2 * index[r] + 1 + right;
    }
  }
  for (size_t r = 0; r < kBlock; ++r) leaves[r] = slots[index[r]].threshold;
}

// One float per row of a block, the leaves of a tree or the margins: a
// struct here, an AVX register (Lanes, below) in the AVX2 build.
struct RowFloats {
  float row[kBlock];
  float operator[](size_t r) const { return row[r]; }
  RowFloats& operator+=(const RowFloats& other) {
    for (size_t r = 0; r < kBlock; ++r) row[r] += other.row[r];
    return *this;
  }
};

inline RowFloats SplatRows(float v) {
  RowFloats out;
  for (float& x : out.row) x = v;
  return out;
}

// Adds every tree's leaves, leaves_of(tree) as a Rows, to the block's
// margins in tree order, each a float add per row as XGBoost's: a single
// group's margins in registers, several groups' in `out`.
template <typename Rows, typename LeavesOf>
[[gnu::always_inline]] inline void AddTrees(const CompleteForest& forest, Rows base, float* out,
                                            LeavesOf leaves_of) {
  const size_t groups = forest.groups;
  if (groups > 1) {
    for (size_t i = 0; i < kBlock * groups; ++i) out[i] = forest.base_margin;
  }
  Rows margin = base;
  for (size_t t = 0; t < forest.tree_count; ++t) {
    const CompleteTree& tree = forest.trees[t];
    const Rows leaves = leaves_of(tree);
    if (groups == 1) {
      margin += leaves;
    } else {
      for (size_t r = 0; r < kBlock; ++r) out[r * groups + tree.group] += leaves[r];
    }
  }
  if (groups == 1) std::memcpy(out, &margin, sizeof margin);
}

// Calls add.template operator()<kValues>() with the block's BlockValues as
// a constant, so that the code for present values has no NaN test.
template <typename Add>
[[gnu::always_inline]] inline void WithBlockValues(BlockValues values, Add add) {
  if (values == BlockValues::kMayBeMissing) {
    add.template operator()<BlockValues::kMayBeMissing>();
  } else {
    add.template operator()<BlockValues::kPresent>();
  }
}

// Adds the block's margins with each row walking each tree.
inline void AddWalkedBlock(const CompleteForest& forest, const float* block, BlockValues values,
                           float* out) {
  WithBlockValues(values, [&]<BlockValues kValues>() {
    AddTrees(forest, SplatRows(forest.base_margin), out, [&](const CompleteTree& tree) {
      RowFloats leaves;
      WalkLeaves<kValues>(forest.slots + tree.first_slot, forest.default_right + tree.first_slot,
                          tree.depth, block, leaves.row);
      return leaves;
    });
  });
}

#if defined(__AVX2__)
// One float, and one mask, per row of a block: the compilers' vector
// extension, one AVX register.
static_assert(kBlock == 8);
using Lanes = float __attribute__((vector_size(kBlock * sizeof(float))));
using LaneMask = int32_t __attribute__((vector_size(kBlock * sizeof(int32_t))));

// `v` in every lane: v - 0 is v, -0 and NaN included.
inline Lanes Splat(float v) { return v - Lanes{}; }

inline Lanes Select(LaneMask right, Lanes if_right, Lanes if_left) {
  LaneMask a, b;
  std::memcpy(&a, &if_right, sizeof a);
  std::memcpy(&b, &if_left, sizeof b);
  const LaneMask chosen = (a & right) | (b & ~right);
  Lanes out;
  std::memcpy(&out, &chosen, sizeof out);
  return out;
}

// The rows of the block that go right at `slot`.
template <BlockValues kValues>
[[gnu::always_inline]] inline LaneMask GoRight(const Slot& slot, uint8_t default_right,
                                               const float* block) {
  Lanes value;
  std::memcpy(&value, block + slot.column, sizeof value);
  LaneMask right = value >= Splat(slot.threshold);  // false for NaN
  if constexpr (kValues == BlockValues::kMayBeMissing) {
    right |= (value != value) & (LaneMask{} - static_cast<int32_t>(default_right != 0));
  }
  return right;
}

// The leaf values the block's rows reach in the subtree of depth kDepth at
// `node`: evaluated from its last level up, each split choosing between its
// children's values for all rows at once. A tree of depth D takes 2^D - 1
// compares for the block, where walking it takes D dependent steps per
// row, so this pays for shallow trees, and most trees of a boosted forest
// are shallow.
template <BlockValues kValues, uint32_t kDepth>
[[gnu::always_inline]] inline Lanes Subtree(const Slot* slots, const uint8_t* default_right,
                                            uint32_t node, const float* block) {
  if constexpr (kDepth == 0) {
    return Splat(slots[node].threshold);
  } else {
    return Select(GoRight<kValues>(slots[node], default_right[node], block),
                  Subtree<kValues, kDepth - 1>(slots, default_right, 2 * node + 2, block),
                  Subtree<kValues, kDepth - 1>(slots, default_right, 2 * node + 1, block));
  }
}

// The leaf values of one tree: chosen whole up to depth 6 (where a
// block's values of a feature fill one register, that pays), walked when
// deeper.
template <BlockValues kValues>
Lanes TreeLeaves(const Slot* slots, const uint8_t* default_right, uint32_t depth,
                 const float* block) {
  switch (depth) {
    case 0: return Subtree<kValues, 0>(slots, default_right, 0, block);
    case 1: return Subtree<kValues, 1>(slots, default_right, 0, block);
    case 2: return Subtree<kValues, 2>(slots, default_right, 0, block);
    case 3: return Subtree<kValues, 3>(slots, default_right, 0, block);
    case 4: return Subtree<kValues, 4>(slots, default_right, 0, block);
    case 5: return Subtree<kValues, 5>(slots, default_right, 0, block);
    case 6: return Subtree<kValues, 6>(slots, default_right, 0, block);
  }
  float walked[kBlock];
  WalkLeaves<kValues>(slots, default_right, depth, block, walked);
  Lanes leaves;
  std::memcpy(&leaves, walked, sizeof leaves);
  return leaves;
}

// Adds the block's margins with the trees up to depth 6 chosen whole.
inline void AddSelectedBlock(const CompleteForest& forest, const float* block, BlockValues values,
                             float* out) {
  WithBlockValues(values, [&]<BlockValues kValues>() {
    AddTrees(forest, Splat(forest.base_margin), out, [&](const CompleteTree& tree) {
      return TreeLeaves<kValues>(forest.slots + tree.first_slot,
                                 forest.default_right + tree.first_slot, tree.depth, block);
    });
  });
}
#endif  // __AVX2__

}  // namespace
}  // namespace keel::runtime
