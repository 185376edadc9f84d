#include "runtime/complete_trees.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

namespace keel::runtime {
namespace {

constexpr size_t kFeatures = 5;

// A random forest of complete trees of the given depths, `groups` margins.
struct RandomForest {
  RandomForest(const std::vector<uint32_t>& depths, size_t groups, std::mt19937* random) {
    std::uniform_real_distribution<float> threshold(-1.5f, 1.5f), leaf(-1.0f, 1.0f);
    std::uniform_int_distribution<uint32_t> feature(0, kFeatures - 1), bit(0, 1), kind(0, 9);
    for (size_t t = 0; t < depths.size(); ++t) {
      const uint32_t first = static_cast<uint32_t>(slots.size());
      const uint32_t inner = (1u << depths[t]) - 1;
      for (uint32_t i = 0; i < inner; ++i) {
        const uint32_t k = kind(*random);
        const float split = k == 0 ? 0.0f : k == 1 ? -0.0f : threshold(*random);
        slots.push_back({split, feature(*random) * static_cast<uint32_t>(kBlock)});
        default_right.push_back(static_cast<uint8_t>(bit(*random)));
        thresholds.push_back(split);
      }
      for (uint32_t i = 0; i <= inner; ++i) {
        slots.push_back({leaf(*random), 0});
        default_right.push_back(0);
      }
      trees.push_back({first, depths[t], static_cast<uint32_t>(t % groups)});
    }
    view = {slots.data(), default_right.data(), trees.data(), trees.size(), groups, 0.25f};
  }

  // Each row walks each tree, as the layout's comment says a row goes.
  std::vector<float> Reference(const float* block) const {
    std::vector<float> out(kBlock * view.groups, view.base_margin);
    for (size_t r = 0; r < kBlock; ++r) {
      for (const CompleteTree& tree : trees) {
        uint32_t index = 0;
        for (uint32_t d = 0; d < tree.depth; ++d) {
          const Slot& slot = slots[tree.first_slot + index];
          const float value = block[slot.column + r];
          const bool right = std::isnan(value) ? default_right[tree.first_slot + index] != 0
                                               : !(value < slot.threshold);
          index = 2 * index + 1 + right;
        }
        out[r * view.groups + tree.group] += slots[tree.first_slot + index].threshold;
      }
    }
    return out;
  }

  std::vector<Slot> slots;
  std::vector<uint8_t> default_right;
  std::vector<CompleteTree> trees;
  std::vector<float> thresholds;  // of the splits
  CompleteForest view;
};

// kBlock rows of kFeatures values, feature by feature: some infinite, some
// zeros of either sign, some equal to a split's threshold (which goes
// right); with kMayBeMissing, a fifth of them NaN.
std::vector<float> RandomBlock(const RandomForest& forest, BlockValues values, std::mt19937* random) {
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<size_t> split(0, forest.thresholds.empty() ? 0 : forest.thresholds.size() - 1);
  std::vector<float> block(kFeatures * kBlock);
  for (float& v : block) {
    v = value(*random);
    const int k = kind(*random);
    if (values == BlockValues::kMayBeMissing && k < 2) v = std::numeric_limits<float>::quiet_NaN();
    if (k == 2) v = std::copysign(std::numeric_limits<float>::infinity(), v);
    if (k == 3) v = std::copysign(0.0f, v);
    if (k >= 4 && k < 7 && !forest.thresholds.empty()) v = forest.thresholds[split(*random)];
  }
  return block;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Every build this machine runs, by name.
std::vector<std::pair<const char*, AddCompleteBlockFunction>> InstructionSets() {
  std::vector<std::pair<const char*, AddCompleteBlockFunction>> sets = {{"base", AddCompleteBlockBase},
                                                                        {"chosen", AddCompleteBlock}};
#if defined(KEEL_HAVE_AVX2_TREES)
  if (CpuHasAvx2()) sets.push_back({"avx2", AddCompleteBlockAvx2});
#endif
  return sets;
}

// Each depth up to kMaxCompleteDepth, so both the trees chosen whole and
// the walked ones, with every build, with and without missing values, one
// and three groups: every margin equals the rows' own walks bit for bit.
TEST(CompleteTreesTest, EveryInstructionSetAddsWhatEachRowsWalkReaches) {
  std::mt19937 random(7);
  for (size_t groups : {size_t{1}, size_t{3}}) {
    for (uint32_t depth = 0; depth <= kMaxCompleteDepth; ++depth) {
      RandomForest forest({depth, depth, 1, depth, 0, depth, 2, depth, depth}, groups, &random);
      for (BlockValues values : {BlockValues::kPresent, BlockValues::kMayBeMissing}) {
        for (int round = 0; round < 20; ++round) {
          const std::vector<float> block = RandomBlock(forest, values, &random);
          const std::vector<float> expected = forest.Reference(block.data());
          for (const auto& [name, add] : InstructionSets()) {
            std::vector<float> out(kBlock * groups, 99.0f);
            add(forest.view, block.data(), values, out.data());
            ASSERT_TRUE(SameBits(out, expected))
                << name << ": depth " << depth << ", groups " << groups << ", missing "
                << (values == BlockValues::kMayBeMissing) << ", round " << round << ": row 0 "
                << out[0] << " vs " << expected[0];
          }
        }
      }
    }
  }
}

// A block whose only missing values are on the default-right side: without
// `missing` they would go left, so the flag is what sends them right.
TEST(CompleteTreesTest, MissingValuesTakeTheirSlotsDefault) {
  std::vector<Slot> slots = {{0.5f, 0}, {-1.0f, 0}, {1.0f, 0}};  // a stump on feature 0
  for (uint8_t right : {uint8_t{0}, uint8_t{1}}) {
    std::vector<uint8_t> default_right = {right, 0, 0};
    std::vector<CompleteTree> trees = {{0, 1, 0}};
    const CompleteForest forest = {slots.data(), default_right.data(), trees.data(), 1, 1, 0.0f};
    std::vector<float> block(kBlock, std::numeric_limits<float>::quiet_NaN());
    block[1] = 0.0f;
    block[2] = 2.0f;
    for (const auto& [name, add] : InstructionSets()) {
      std::vector<float> out(kBlock);
      add(forest, block.data(), BlockValues::kMayBeMissing, out.data());
      EXPECT_EQ(out[0], right ? 1.0f : -1.0f) << name;
      EXPECT_EQ(out[1], -1.0f) << name;
      EXPECT_EQ(out[2], 1.0f) << name;
    }
  }
}

// A negative zero leaf on a negative zero base margin stays negative zero,
// as XGBoost's float adds keep it.
TEST(CompleteTreesTest, NegativeZeroesAddAsFloats) {
  std::vector<Slot> slots = {{-0.0f, 0}, {0.5f, 0}, {-0.0f, 0}, {-0.0f, 0}};
  std::vector<uint8_t> default_right(slots.size(), 0);
  std::vector<CompleteTree> trees = {{0, 0, 0}, {1, 1, 0}};  // a lone leaf, then a stump
  const CompleteForest forest = {slots.data(), default_right.data(), trees.data(), 2, 1, -0.0f};
  std::vector<float> block(kBlock, 1.0f);
  for (const auto& [name, add] : InstructionSets()) {
    std::vector<float> out(kBlock, 1.0f);
    add(forest, block.data(), BlockValues::kPresent, out.data());
    for (float margin : out) EXPECT_TRUE(margin == 0.0f && std::signbit(margin)) << name << ": " << margin;
  }
}

// AddCompleteBlock runs the AVX2 build wherever the CPU has AVX2.
TEST(CompleteTreesTest, TheAvx2BuildIsChosenWhereTheCpuHasIt) {
#if defined(KEEL_HAVE_AVX2_TREES)
  EXPECT_EQ(ChosenCompleteBlock(), CpuHasAvx2() ? AddCompleteBlockAvx2 : AddCompleteBlockBase);
#else
  EXPECT_EQ(ChosenCompleteBlock(), AddCompleteBlockBase);
#endif
}

}  // namespace
}  // namespace keel::runtime
