// The tree runtime in three steps: ReadModelJson turns model.json into
// plain arrays (RawModel), Compile checks them and lays every tree out in
// one flat node array (Forest), a second time as complete trees when they
// are shallow and numeric (complete_trees.h); TreeModel evaluates the
// forest for blocks of rows.
#include "runtime/tree_model.h"

#include "runtime/complete_trees.h"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace keel::runtime {
namespace {

namespace od = simdjson::ondemand;

// ---- model.json as read -------------------------------------------------

struct RawTree {
  std::vector<int64_t> left, right, split_index, default_left, split_type;
  std::vector<float> split_condition;  // a leaf's value on leaves
  std::vector<int64_t> categories, categories_nodes, categories_segments, categories_sizes;
};

struct RawModel {
  std::vector<int64_t> version;  // of XGBoost that wrote it: {1, 7, 4}
  std::string booster;           // "gbtree" | "dart" | "gblinear"
  std::string objective;
  std::string base_score;  // "5E-1"
  int64_t num_class = 0;
  int64_t num_feature = 0;
  int64_t num_target = 1;
  std::vector<int64_t> tree_info;  // each tree's output group (class)
  std::vector<RawTree> trees;
};

Status JsonError(simdjson::error_code error, std::string_view where) {
  return CorruptError(std::string(where) + ": " + simdjson::error_message(error));
}

// "learner" + "objective" -> "learner.objective".
std::string FieldPath(std::string_view where, std::string_view key) {
  return where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
}

// A number token, including XGBoost's bare NaN and Infinity (which JSON
// lacks), parsed straight to float as XGBoost's reader does.
simdjson::error_code ParseFloat(std::string_view text, float* out) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    return simdjson::INCORRECT_TYPE;
  return simdjson::SUCCESS;
}

// learner_model_param holds numbers as strings ("5E-1", "3").
template <typename T>
simdjson::error_code ReadNumberString(od::value value, T* out) {
  std::string_view text;
  SIMDJSON_TRY(value.get_string().get(text));
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  if (ec != std::errc() || end != text.data() + text.size()) return simdjson::INCORRECT_TYPE;
  return simdjson::SUCCESS;
}

simdjson::error_code ReadFloats(od::value value, std::vector<float>* out) {
  od::array array;
  SIMDJSON_TRY(value.get_array().get(array));
  for (auto element : array) {
    std::string_view token;
    SIMDJSON_TRY(element.raw_json_token().get(token));
    SIMDJSON_TRY(ParseFloat(token, &out->emplace_back()));
  }
  return simdjson::SUCCESS;
}

// Integers; true and false count as 1 and 0 (default_left).
simdjson::error_code ReadInts(od::value value, std::vector<int64_t>* out) {
  od::array array;
  SIMDJSON_TRY(value.get_array().get(array));
  for (auto element : array) {
    od::json_type type;
    SIMDJSON_TRY(element.type().get(type));
    if (type == od::json_type::boolean) {
      bool b = false;
      SIMDJSON_TRY(element.get_bool().get(b));
      out->push_back(b ? 1 : 0);
    } else {
      SIMDJSON_TRY(element.get_int64().get(out->emplace_back()));
    }
  }
  return simdjson::SUCCESS;
}

// Reads field `key` of `object` with `read`; a missing field is an error
// unless `optional`.
template <typename Reader, typename T>
Status ReadField(od::object& object, std::string_view key, Reader read, T* out,
                 std::string_view where, bool optional = false) {
  od::value value;
  simdjson::error_code error = object.find_field_unordered(key).get(value);
  if (error == simdjson::NO_SUCH_FIELD && optional) return Status::Ok();
  if (!error) error = read(value, out);
  return error ? JsonError(error, FieldPath(where, key)) : Status::Ok();
}

simdjson::error_code ReadString(od::value value, std::string* out) {
  std::string_view s;
  SIMDJSON_TRY(value.get_string().get(s));
  out->assign(s);
  return simdjson::SUCCESS;
}

Status ReadObject(od::object& parent, std::string_view key, od::object* out,
                  std::string_view where) {
  simdjson::error_code error = parent.find_field_unordered(key).get_object().get(*out);
  return error ? JsonError(error, FieldPath(where, key)) : Status::Ok();
}

Status ReadTree(od::value value, RawTree* tree, const std::string& where) {
  od::object t;
  if (auto error = value.get_object().get(t)) return JsonError(error, where);
  // In the order XGBoost writes them, so each lookup is a forward scan.
  constexpr bool kOptional = true;  // older models have no categorical splits
  KEEL_RETURN_IF_ERROR(ReadField(t, "categories", ReadInts, &tree->categories, where, kOptional));
  KEEL_RETURN_IF_ERROR(
      ReadField(t, "categories_nodes", ReadInts, &tree->categories_nodes, where, kOptional));
  KEEL_RETURN_IF_ERROR(
      ReadField(t, "categories_segments", ReadInts, &tree->categories_segments, where, kOptional));
  KEEL_RETURN_IF_ERROR(
      ReadField(t, "categories_sizes", ReadInts, &tree->categories_sizes, where, kOptional));
  KEEL_RETURN_IF_ERROR(ReadField(t, "default_left", ReadInts, &tree->default_left, where));
  KEEL_RETURN_IF_ERROR(ReadField(t, "left_children", ReadInts, &tree->left, where));
  KEEL_RETURN_IF_ERROR(ReadField(t, "right_children", ReadInts, &tree->right, where));
  KEEL_RETURN_IF_ERROR(ReadField(t, "split_conditions", ReadFloats, &tree->split_condition, where));
  KEEL_RETURN_IF_ERROR(ReadField(t, "split_indices", ReadInts, &tree->split_index, where));
  return ReadField(t, "split_type", ReadInts, &tree->split_type, where, kOptional);
}

Status ReadGbtree(od::object& gbtree, RawModel* model) {
  const std::string where = "learner.gradient_booster.model";
  KEEL_RETURN_IF_ERROR(ReadField(gbtree, "tree_info", ReadInts, &model->tree_info, where));
  od::array trees;
  if (auto error = gbtree.find_field_unordered("trees").get_array().get(trees)) {
    return JsonError(error, where + ".trees");
  }
  for (auto tree : trees) {
    std::string tree_where = where + ".trees[" + std::to_string(model->trees.size()) + "]";
    od::value value;
    if (auto error = tree.get(value)) return JsonError(error, tree_where);
    KEEL_RETURN_IF_ERROR(ReadTree(value, &model->trees.emplace_back(), tree_where));
  }
  return Status::Ok();
}

Status ReadLearner(od::object& learner, RawModel* model) {
  od::object param, objective, booster;
  KEEL_RETURN_IF_ERROR(ReadObject(learner, "learner_model_param", &param, "learner"));
  const char* where = "learner.learner_model_param";
  KEEL_RETURN_IF_ERROR(ReadField(param, "base_score", ReadString, &model->base_score, where));
  KEEL_RETURN_IF_ERROR(
      ReadField(param, "num_class", ReadNumberString<int64_t>, &model->num_class, where));
  KEEL_RETURN_IF_ERROR(
      ReadField(param, "num_feature", ReadNumberString<int64_t>, &model->num_feature, where));
  KEEL_RETURN_IF_ERROR(ReadField(param, "num_target", ReadNumberString<int64_t>, &model->num_target,
                                 where, /*optional=*/true));
  KEEL_RETURN_IF_ERROR(ReadObject(learner, "objective", &objective, "learner"));
  KEEL_RETURN_IF_ERROR(
      ReadField(objective, "name", ReadString, &model->objective, "learner.objective"));
  KEEL_RETURN_IF_ERROR(ReadObject(learner, "gradient_booster", &booster, "learner"));
  KEEL_RETURN_IF_ERROR(
      ReadField(booster, "name", ReadString, &model->booster, "learner.gradient_booster"));
  if (model->booster != "gbtree") return Status::Ok();  // dart and gblinear: not ours to read
  od::object gbtree;
  KEEL_RETURN_IF_ERROR(ReadObject(booster, "model", &gbtree, "learner.gradient_booster"));
  return ReadGbtree(gbtree, model);
}

// A word of XGBoost's that JSON lacks (bare NaN and Infinity outside
// strings; ParseFloat reads them), blanked for a validating parse.
struct BlankedWord {
  size_t at;
  std::string_view word;
};

// Whether a value may start after text[0, at): at the start, after
// whitespace, '[', ',' or ':', or after a '-' that itself may start one.
bool ValueMayStartAt(const char* text, size_t at) {
  if (at > 0 && text[at - 1] == '-') --at;
  if (at == 0) return true;
  const char before = text[at - 1];
  return before == '[' || before == ',' || before == ':' || before == ' ' || before == '\n' ||
         before == '\t' || before == '\r';
}

// Blanks every NaN and Infinity outside strings in text[0, size) that
// stands where a value may start to a 0 and returns where, so that they
// can be put back. Elsewhere (as in 1NaN) it stays, and is malformed.
std::vector<BlankedWord> BlankNonJsonWords(char* text, size_t size) {
  std::vector<BlankedWord> blanked;
  const std::string_view all(text, size);
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    if (in_string) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == '"') {
        in_string = false;
      }
      continue;
    }
    if (text[i] == '"') {
      in_string = true;
      continue;
    }
    if ((text[i] != 'N' && text[i] != 'I') || !ValueMayStartAt(text, i)) continue;
    for (std::string_view word : {std::string_view("NaN"), std::string_view("Infinity")}) {
      if (all.compare(i, word.size(), word) != 0) continue;
      blanked.push_back({i, word});
      text[i] = '0';
      std::memset(text + i + 1, ' ', word.size() - 1);
      i += word.size() - 1;
      break;
    }
  }
  return blanked;
}

Result<RawModel> ReadModelJson(std::string_view json, std::string_view source) {
  simdjson::padded_string padded(json);
  // The whole text is checked first: simdjson's On-Demand API validates
  // only what it reads, and an unordered field lookup that wraps around an
  // object assumes the part it skipped was well-formed (on malformed JSON
  // it reaches a point its code marks unreachable, found by
  // tree_model_fuzz). The check reads the same copy, with the words JSON
  // lacks blanked and then put back.
  {
    const std::vector<BlankedWord> blanked = BlankNonJsonWords(padded.data(), padded.size());
    simdjson::dom::parser validator;
    if (auto error = validator.parse(padded).error()) {
      return JsonError(error, "malformed JSON").WithPrefix(source);
    }
    for (const BlankedWord& b : blanked) {
      std::memcpy(padded.data() + b.at, b.word.data(), b.word.size());
    }
  }
  od::parser parser;
  od::document document;
  od::object root, learner;
  RawModel model;
  Status status;
  if (auto error = parser.iterate(padded).get(document)) {
    status = JsonError(error, "malformed JSON");
  } else if (auto error = document.get_object().get(root)) {
    status = JsonError(error, "malformed JSON");
  } else {
    status = ReadObject(root, "learner", &learner, "");
    if (status.ok()) status = ReadLearner(learner, &model);
    if (status.ok())
      status = ReadField(root, "version", ReadInts, &model.version, "", /*optional=*/true);
  }
  if (!status.ok()) return status.WithPrefix(source);
  return model;
}

// ---- the compiled forest ------------------------------------------------

// One node of the flat layout. An internal node's children are adjacent:
// the left one at `left`, the right one at `left + 1`. A leaf is its own
// left child and never goes right (its threshold is NaN and it is not
// kDefaultRight), so every row can take the same number of steps through a
// tree. A leaf's value and a node's flags are in arrays of their own, so
// the common walk (no missing value, numeric splits) reads 12 bytes a step.
struct Node {
  // Numeric split: the row goes right when !(value < threshold).
  // Categorical split: the bits are the index of its CategorySet.
  float threshold;
  uint32_t feature;
  uint32_t left;
};
static_assert(sizeof(Node) == 12);

// Node flags.
constexpr uint8_t kDefaultRight = 1;  // a missing value goes right
constexpr uint8_t kCategorical = 2;

// XGBoost reads a category as an integer below 2^24; any other value
// (negative, larger, or a category outside the set) goes left.
constexpr float kCategoryLimit = 16777216.0f;

struct CategorySet {
  uint32_t begin;  // into Forest::category_bits
  uint32_t words;  // bit c of word c / 32 is category c
};

struct Tree {
  uint32_t root;
  uint32_t depth;  // the steps from the root to the deepest leaf
  uint32_t group;  // the output margin it adds to
};

enum class Transform { kIdentity, kSigmoid, kSoftmax };

struct Forest {
  std::vector<Node> nodes;
  std::vector<float> leaf_values;  // by node index
  std::vector<uint8_t> flags;      // by node index
  std::vector<CategorySet> category_sets;
  std::vector<uint32_t> category_bits;
  std::vector<Tree> trees;
  bool categorical = false;  // some split is
  // The complete layout (complete_trees.h), when no split is categorical
  // and no tree is deeper than kMaxCompleteDepth: blocks of rows go through
  // it with no child index to load. Both layouts are kept: the compact one
  // serves categorical splits, deep trees and single rows.
  std::vector<Slot> slots;
  std::vector<uint8_t> slot_default_right;  // by slot, 0 or 1
  std::vector<CompleteTree> complete_trees;  // empty: no complete layout
  size_t groups = 1;         // margins per row
  float base_margin = 0;
  Transform transform = Transform::kIdentity;
};

// ---- compiling ----------------------------------------------------------

struct ObjectiveInfo {
  std::string_view name;
  Transform transform;
  bool logit_base;  // the base margin is logit(base_score)
};

// XGBoost 1.7's PredTransform and ProbToMargin for each objective covered
// (binary:logitraw starts from base_score itself, not its logit).
constexpr ObjectiveInfo kObjectives[] = {
    {"binary:logistic", Transform::kSigmoid, true},
    {"reg:logistic", Transform::kSigmoid, true},
    {"binary:logitraw", Transform::kIdentity, false},
    {"reg:squarederror", Transform::kIdentity, false},
    {"reg:linear", Transform::kIdentity, false},
    {"multi:softprob", Transform::kSoftmax, false},
    {"multi:softmax", Transform::kSoftmax, false},
};

// How the margins become the outputs.
struct Output {
  Transform transform;
  size_t groups;  // margins per row
  float base_margin;
};

Status Unsupported(std::string why) {
  return FailedPreconditionError("keel's tree runtime does not evaluate " + why);
}

// XGBoost's ProbToMargin for logistic objectives, in float.
float Logit(float p) {
  return -std::log(1.0f / p - 1.0f);
}

// What the model's objective makes of its margins; kFailedPrecondition for
// what the runtime does not cover.
Result<Output> PlanOutput(const RawModel& model) {
  if (!model.version.empty() && model.version[0] != 1) {
    return Unsupported("models of XGBoost " + std::to_string(model.version[0]) + ".x");
  }
  if (model.booster != "gbtree") return Unsupported("booster '" + model.booster + "'");
  const ObjectiveInfo* objective = nullptr;
  for (const ObjectiveInfo& o : kObjectives) {
    if (o.name == model.objective) objective = &o;
  }
  if (objective == nullptr) return Unsupported("objective '" + model.objective + "'");
  if (model.num_target != 1) return Unsupported(std::to_string(model.num_target) + " targets");
  float base_score = 0;
  const std::string& text = model.base_score;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), base_score);
  if (ec != std::errc() || end != text.data() + text.size())
    return Unsupported("base_score '" + text + "'");
  if (objective->logit_base && !(base_score > 0.0f && base_score < 1.0f)) {
    return Unsupported("base_score " + text + " outside (0, 1)");
  }
  return Output{objective->transform, static_cast<size_t>(std::max<int64_t>(model.num_class, 1)),
                objective->logit_base ? Logit(base_score) : base_score};
}

// kFailedPrecondition when the model's inputs or outputs are not the
// signature's.
Status CheckSignature(const RawModel& model, const Output& output, const Signature& signature) {
  size_t features = signature.FeatureCount();
  if (model.num_feature < 0 || static_cast<size_t>(model.num_feature) != features) {
    return Unsupported("a model of " + std::to_string(model.num_feature) +
                       " features for a signature of " + std::to_string(features));
  }
  bool multiclass = signature.task == Task::kMulticlass;
  size_t outputs = multiclass ? signature.classes.size() : 1;
  if ((output.transform == Transform::kSoftmax) != multiclass || output.groups != outputs) {
    return Unsupported("a model of objective " + model.objective + " and " +
                       std::to_string(model.num_class) + " classes for a " +
                       std::string(TaskName(signature.task)) + " signature");
  }
  return Status::Ok();
}

std::string NodeName(int64_t node) {
  return "node " + std::to_string(node);
}

Status CheckTreeArrays(const RawTree& tree) {
  size_t n = tree.left.size();
  if (n == 0) return CorruptError("no nodes");
  auto check = [n](size_t size, std::string_view name) {
    if (size == n) return Status::Ok();
    return CorruptError(std::string(name) + " has " + std::to_string(size) +
                        " entries, left_children " + std::to_string(n));
  };
  KEEL_RETURN_IF_ERROR(check(tree.right.size(), "right_children"));
  KEEL_RETURN_IF_ERROR(check(tree.split_index.size(), "split_indices"));
  KEEL_RETURN_IF_ERROR(check(tree.split_condition.size(), "split_conditions"));
  KEEL_RETURN_IF_ERROR(check(tree.default_left.size(), "default_left"));
  if (!tree.split_type.empty()) KEEL_RETURN_IF_ERROR(check(tree.split_type.size(), "split_type"));
  size_t c = tree.categories_nodes.size();
  if (tree.categories_segments.size() != c || tree.categories_sizes.size() != c) {
    return CorruptError(
        "categories_nodes, categories_segments and categories_sizes differ in length");
  }
  return Status::Ok();
}

// Compiles one tree into `forest`; errors name the node.
class TreeCompiler {
 public:
  TreeCompiler(const RawTree& raw, size_t num_feature, Forest* forest)
      : raw_(raw), n_(raw.left.size()), num_feature_(num_feature), forest_(forest) {}

  Status Compile(uint32_t group) {
    KEEL_RETURN_IF_ERROR(CheckTreeArrays(raw_));
    KEEL_RETURN_IF_ERROR(IndexCategories());
    KEEL_RETURN_IF_ERROR(Renumber());
    Tree tree{static_cast<uint32_t>(forest_->nodes.size()), 0, group};
    forest_->nodes.resize(tree.root + order_.size());
    forest_->leaf_values.resize(forest_->nodes.size());
    forest_->flags.resize(forest_->nodes.size());
    for (int64_t i : order_) {
      tree.depth = std::max(tree.depth, depth_[i]);
      KEEL_RETURN_IF_ERROR(EmitNode(i));
    }
    forest_->trees.push_back(tree);
    return Status::Ok();
  }

 private:
  static constexpr uint32_t kUnreached = std::numeric_limits<uint32_t>::max();
  static constexpr uint64_t kMaxNodes = uint64_t{1} << 31;

  Status IndexCategories() {
    category_entry_.assign(n_, -1);
    for (size_t k = 0; k < raw_.categories_nodes.size(); ++k) {
      int64_t node = raw_.categories_nodes[k], begin = raw_.categories_segments[k],
              size = raw_.categories_sizes[k];
      if (node < 0 || static_cast<size_t>(node) >= n_) {
        return CorruptError("categories_nodes names " + NodeName(node) + " of " +
                            std::to_string(n_));
      }
      if (begin < 0 || size < 0 ||
          static_cast<uint64_t>(begin) + static_cast<uint64_t>(size) > raw_.categories.size()) {
        return CorruptError(NodeName(node) + ": its categories are outside the categories array");
      }
      category_entry_[node] = static_cast<int64_t>(k);
    }
    return Status::Ok();
  }

  // Breadth first from the root, giving each internal node's children
  // adjacent indices; every node must be reached at most once.
  Status Renumber() {
    uint32_t base = static_cast<uint32_t>(forest_->nodes.size());
    index_.assign(n_, kUnreached);
    depth_.assign(n_, 0);
    index_[0] = base;
    order_ = {0};
    uint64_t next = base + 1;
    for (size_t k = 0; k < order_.size(); ++k) {
      int64_t i = order_[k];
      int64_t l = raw_.left[i], r = raw_.right[i];
      if (l == -1 && r == -1) continue;
      for (int64_t child : {l, r}) {
        if (child < 0 || static_cast<size_t>(child) >= n_) {
          return CorruptError(NodeName(i) + ": child " + std::to_string(child) +
                              " is out of range (" + std::to_string(n_) + " nodes)");
        }
        if (index_[child] != kUnreached) {
          return CorruptError(NodeName(child) + " is reached twice (a cycle or a shared child)");
        }
        if (next >= kMaxNodes) return CorruptError("the model has over 2^31 nodes");
        index_[child] = static_cast<uint32_t>(next++);
        depth_[child] = depth_[i] + 1;
        order_.push_back(child);
      }
    }
    return Status::Ok();
  }

  Status EmitNode(int64_t i) {
    Node& node = forest_->nodes[index_[i]];
    if (raw_.left[i] == -1) {
      node = {std::numeric_limits<float>::quiet_NaN(), 0, index_[i]};
      forest_->leaf_values[index_[i]] = raw_.split_condition[i];
      return Status::Ok();
    }
    int64_t feature = raw_.split_index[i];
    if (feature < 0 || static_cast<size_t>(feature) >= num_feature_) {
      return CorruptError(NodeName(i) + ": split on feature " + std::to_string(feature) +
                          ", the model has " + std::to_string(num_feature_) + " features");
    }
    node.feature = static_cast<uint32_t>(feature);
    uint8_t& flags = forest_->flags[index_[i]];
    flags = raw_.default_left[i] ? 0 : kDefaultRight;
    node.left = index_[raw_.left[i]];
    int64_t type = raw_.split_type.empty() ? 0 : raw_.split_type[i];
    if (type == 0) {
      // XGBoost sends every present value right past a NaN threshold.
      float t = raw_.split_condition[i];
      node.threshold = std::isnan(t) ? -std::numeric_limits<float>::infinity() : t;
      return Status::Ok();
    }
    if (type != 1) return CorruptError(NodeName(i) + ": split_type " + std::to_string(type));
    forest_->categorical = true;
    flags |= kCategorical;
    return EmitCategorySet(i, &node);
  }

  Status EmitCategorySet(int64_t i, Node* node) {
    if (category_entry_[i] < 0)
      return CorruptError(NodeName(i) + ": a categorical split without categories");
    int64_t begin = raw_.categories_segments[category_entry_[i]];
    int64_t size = raw_.categories_sizes[category_entry_[i]];
    int64_t largest = -1;
    for (int64_t k = begin; k < begin + size; ++k) {
      int64_t c = raw_.categories[k];
      if (c < 0) return CorruptError(NodeName(i) + ": negative category " + std::to_string(c));
      if (c < static_cast<int64_t>(kCategoryLimit)) largest = std::max(largest, c);
    }
    CategorySet set{static_cast<uint32_t>(forest_->category_bits.size()),
                    static_cast<uint32_t>(largest / 32 + 1)};
    if (largest < 0) set.words = 0;
    forest_->category_bits.resize(set.begin + set.words);
    for (int64_t k = begin; k < begin + size; ++k) {
      int64_t c = raw_.categories[k];
      if (c <= largest) forest_->category_bits[set.begin + c / 32] |= 1u << (c % 32);
    }
    node->threshold = std::bit_cast<float>(static_cast<uint32_t>(forest_->category_sets.size()));
    forest_->category_sets.push_back(set);
    return Status::Ok();
  }

  const RawTree& raw_;
  size_t n_;
  size_t num_feature_;
  Forest* forest_;
  std::vector<int64_t> category_entry_;  // by node: its categories_nodes entry, or -1
  std::vector<uint32_t> index_;          // by node: its index in the forest
  std::vector<uint32_t> depth_;
  std::vector<int64_t> order_;  // reached nodes, breadth first
};

// Fills the complete layout's subtree at `slot`, `levels` above the last
// level, with compact node `index` (see CompleteTree).
void FillSlots(Forest* forest, uint32_t first, uint32_t index, uint32_t slot, uint32_t levels) {
  const Node& node = forest->nodes[index];
  const bool leaf = node.left == index;
  if (levels == 0) {
    forest->slots[first + slot] = {forest->leaf_values[index], 0};
    return;
  }
  if (leaf) {
    forest->slots[first + slot] = {0.0f, 0};  // either way leads to this leaf
    FillSlots(forest, first, index, 2 * slot + 1, levels - 1);
    FillSlots(forest, first, index, 2 * slot + 2, levels - 1);
    return;
  }
  forest->slots[first + slot] = {node.threshold, static_cast<uint32_t>(node.feature * kBlock)};
  forest->slot_default_right[first + slot] = (forest->flags[index] & kDefaultRight) != 0;
  FillSlots(forest, first, node.left, 2 * slot + 1, levels - 1);
  FillSlots(forest, first, node.left + 1, 2 * slot + 2, levels - 1);
}

// Adds the complete layout when the forest fits it.
void LayOutComplete(Forest* forest, size_t num_feature) {
  if (forest->categorical || num_feature > (uint64_t{1} << 28)) return;
  size_t total = 0;
  for (const Tree& tree : forest->trees) {
    if (tree.depth > kMaxCompleteDepth) return;
    total += (size_t{2} << tree.depth) - 1;
  }
  if (total > std::numeric_limits<uint32_t>::max()) return;
  forest->slots.assign(total, Slot{0.0f, 0});
  forest->slot_default_right.assign(total, 0);
  uint32_t first = 0;
  for (const Tree& tree : forest->trees) {
    forest->complete_trees.push_back({first, tree.depth, tree.group});
    FillSlots(forest, first, tree.root, 0, tree.depth);
    first += (uint32_t{2} << tree.depth) - 1;
  }
}

Result<Forest> Compile(const RawModel& model, const Output& output) {
  Forest forest;
  forest.groups = output.groups;
  forest.transform = output.transform;
  forest.base_margin = output.base_margin;
  if (model.tree_info.size() != model.trees.size()) {
    return CorruptError("learner.gradient_booster.model: tree_info has " +
                        std::to_string(model.tree_info.size()) + " entries for " +
                        std::to_string(model.trees.size()) + " trees");
  }
  for (size_t t = 0; t < model.trees.size(); ++t) {
    int64_t group = model.tree_info[t];
    Status s = group >= 0 && static_cast<size_t>(group) < forest.groups
                   ? TreeCompiler(model.trees[t], model.num_feature, &forest)
                         .Compile(static_cast<uint32_t>(group))
                   : CorruptError("tree_info gives class " + std::to_string(group) + " of " +
                                  std::to_string(forest.groups));
    if (!s.ok()) return s.WithPrefix("tree " + std::to_string(t));
  }
  LayOutComplete(&forest, static_cast<size_t>(model.num_feature));
  return forest;
}

// ---- evaluation ---------------------------------------------------------

// XGBoost 1.7's common::Sigmoid, bit for bit.
inline float Sigmoid(float x) {
  constexpr float kEps = 1e-16f;
  x = std::min(-x, 88.7f);
  float denom = std::exp(x) + 1.0f + kEps;
  return 1.0f / denom;
}

// XGBoost 1.7's common::Softmax: float exponents summed in double.
void Softmax(float* p, size_t n) {
  float largest = p[0];
  for (size_t i = 1; i < n; ++i) largest = std::fmax(p[i], largest);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    p[i] = std::exp(p[i] - largest);
    sum += p[i];
  }
  for (size_t i = 0; i < n; ++i) p[i] /= static_cast<float>(sum);
}

bool CategoryGoesRight(const Forest& forest, const Node& node, float value) {
  if (!(value >= 0.0f) || value >= kCategoryLimit) return false;
  uint32_t category = static_cast<uint32_t>(value);  // truncates, like XGBoost
  CategorySet set = forest.category_sets[std::bit_cast<uint32_t>(node.threshold)];
  if (category / 32 >= set.words) return false;
  return (forest.category_bits[set.begin + category / 32] >> (category % 32)) & 1;
}

// How rows walk the trees: kPresent when no value of the block is missing
// and all splits are numeric, kNumeric with missing values, and
// kCategorical when some split is categorical.
enum class Walk { kPresent, kNumeric, kCategorical };

// One step down a tree from node `index` for `row`; a leaf stays put.
template <Walk kWalk>
inline uint32_t Step(const Forest& forest, const Node* nodes, uint32_t index, const float* row) {
  const Node& node = nodes[index];
  float value = row[node.feature];
  // A present value goes right when !(value < threshold): value >= threshold,
  // as neither is NaN (a leaf's NaN threshold keeps every row in place).
  if constexpr (kWalk == Walk::kPresent) return node.left + (value >= node.threshold);
  bool missing = std::isnan(value);
  uint8_t flags = forest.flags[index];
  bool default_right = (flags & kDefaultRight) != 0;
  if (kWalk == Walk::kCategorical && (flags & kCategorical)) {
    return node.left + (missing ? default_right : CategoryGoesRight(forest, node, value));
  }
  return node.left + ((value >= node.threshold) | (missing & default_right));
}

// Walks kRows rows (from `rows`, `cols` apart) down `tree` in lockstep, a
// fixed number of steps so that their loads overlap, to their leaves.
template <size_t kRows, Walk kWalk>
inline void WalkTree(const Forest& forest, const Tree& tree, const float* rows, size_t cols,
                     uint32_t* index) {
  const Node* nodes = forest.nodes.data();
  for (size_t r = 0; r < kRows; ++r) index[r] = tree.root;
  for (uint32_t d = 0; d < tree.depth; ++d) {
#pragma GCC unroll 16  // so that index[] lives in registers
    for (size_t r = 0; r < kRows; ++r)
      index[r] = Step<kWalk>(forest, nodes, index[r], rows + r * cols);
  }
}

// Walks one row down kTrees trees from `tree` in lockstep, `depth` steps,
// to their leaves.
template <size_t kTrees, Walk kWalk>
inline void WalkTrees(const Forest& forest, const Tree* tree, uint32_t depth, const float* row,
                      uint32_t* index) {
  const Node* nodes = forest.nodes.data();
  for (size_t t = 0; t < kTrees; ++t) index[t] = tree[t].root;
  for (uint32_t d = 0; d < depth; ++d) {
#pragma GCC unroll 16
    for (size_t t = 0; t < kTrees; ++t) index[t] = Step<kWalk>(forest, nodes, index[t], row);
  }
}

// The margin of one row of a single-group forest. Its walks overlap in
// lockstep, eight trees at a time when they are about as deep (the
// shallower ones idle at their leaves meanwhile), else one tree at a time.
template <Walk kWalk>
float RowMargin(const Forest& forest, const float* row) {
  constexpr size_t kTrees = 8;
  float margin = forest.base_margin;
  const Tree* tree = forest.trees.data();
  const Tree* end = tree + forest.trees.size();
  while (tree < end) {
    uint32_t deepest = 0, steps = 0, leaf[kTrees];
    bool eight = end - tree >= static_cast<ptrdiff_t>(kTrees);
    for (size_t t = 0; eight && t < kTrees; ++t) {
      deepest = std::max(deepest, tree[t].depth);
      steps += tree[t].depth;
    }
    if (eight && deepest * kTrees <= steps + kTrees) {
      WalkTrees<kTrees, kWalk>(forest, tree, deepest, row, leaf);
      for (size_t t = 0; t < kTrees; ++t) margin += forest.leaf_values[leaf[t]];
      tree += kTrees;
    } else {
      WalkTrees<1, kWalk>(forest, tree, tree->depth, row, leaf);
      margin += forest.leaf_values[leaf[0]];
      ++tree;
    }
  }
  return margin;
}

// Writes the margins of kRows rows to `out`: each starts from the base
// margin and adds its leaf of every tree in tree order, in float, as
// XGBoost does.
template <size_t kRows, Walk kWalk>
void AddTrees(const Forest& forest, const float* rows, size_t cols, float* out) {
  uint32_t leaf[kRows];
  if (forest.groups > 1) {
    std::fill(out, out + kRows * forest.groups, forest.base_margin);
    for (const Tree& tree : forest.trees) {
      WalkTree<kRows, kWalk>(forest, tree, rows, cols, leaf);
      for (size_t r = 0; r < kRows; ++r)
        out[r * forest.groups + tree.group] += forest.leaf_values[leaf[r]];
    }
  } else if constexpr (kRows == 1) {
    out[0] = RowMargin<kWalk>(forest, rows);
  } else {
    float margin[kRows];  // in registers
    for (size_t r = 0; r < kRows; ++r) margin[r] = forest.base_margin;
    for (const Tree& tree : forest.trees) {
      WalkTree<kRows, kWalk>(forest, tree, rows, cols, leaf);
      for (size_t r = 0; r < kRows; ++r) margin[r] += forest.leaf_values[leaf[r]];
    }
    std::copy(margin, margin + kRows, out);
  }
}

// Whether any of `n` values is NaN; a bit test, so it vectorizes.
bool AnyMissing(const float* values, size_t n) {
  uint32_t found = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, values + i, sizeof bits);
    found |= (bits & 0x7fffffffu) > 0x7f800000u;
  }
  return found != 0;
}

// The margins of kBlock rows (from `rows`, `cols` apart) on the complete
// layout, which takes them stored feature by feature.
void AddCompleteRows(const Forest& forest, const float* rows, size_t cols, float* out) {
  thread_local std::vector<float> block;
  block.resize(cols * kBlock);
  bool missing = false;
  for (size_t r = 0; r < kBlock; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      const float value = rows[r * cols + c];
      missing |= std::isnan(value);
      block[c * kBlock + r] = value;
    }
  }
  const CompleteForest complete = {forest.slots.data(), forest.slot_default_right.data(),
                                   forest.complete_trees.data(), forest.complete_trees.size(),
                                   forest.groups, forest.base_margin};
  AddCompleteBlock(complete, block.data(), missing ? BlockValues::kMayBeMissing : BlockValues::kPresent,
                   out);
}

// Predicts kRows rows into `out`: their margins, then the transform.
template <size_t kRows>
void PredictRows(const Forest& forest, const float* rows, size_t cols, float* out) {
  // Single rows keep to the compact layout: laying one out feature by
  // feature would cost more than the steps it saves.
  if (kRows == kBlock && !forest.complete_trees.empty()) {
    AddCompleteRows(forest, rows, cols, out);
  } else if (forest.categorical) {
    AddTrees<kRows, Walk::kCategorical>(forest, rows, cols, out);
  } else if (AnyMissing(rows, kRows * cols)) {
    AddTrees<kRows, Walk::kNumeric>(forest, rows, cols, out);
  } else {
    AddTrees<kRows, Walk::kPresent>(forest, rows, cols, out);
  }
  switch (forest.transform) {
    case Transform::kIdentity:
      break;
    case Transform::kSigmoid:
      for (size_t r = 0; r < kRows; ++r) out[r] = Sigmoid(out[r]);
      break;
    case Transform::kSoftmax:
      for (size_t r = 0; r < kRows; ++r) Softmax(out + r * forest.groups, forest.groups);
      break;
  }
}

class TreeModel : public Model {
 public:
  TreeModel(Forest forest, Signature signature)
      : forest_(std::move(forest)),
        signature_(std::move(signature)),
        cols_(signature_.FeatureCount()) {}

  const Signature& signature() const override { return signature_; }
  std::string_view Backend() const override { return "keel-trees"; }

  Status PredictInto(std::span<const float> features, size_t rows,
                     std::span<float> out) const override {
    if (features.size() != rows * cols_ || out.size() != rows * forest_.groups) {
      return InvalidArgumentError("predict: " + std::to_string(features.size()) + " features and " +
                                  std::to_string(out.size()) + " outputs for " +
                                  std::to_string(rows) + " rows of " + std::to_string(cols_) +
                                  " features");
    }
    // kBlock rows go through the trees together; the rest one by one.
    size_t r = 0;
    for (; r + kBlock <= rows; r += kBlock) {
      PredictRows<kBlock>(forest_, features.data() + r * cols_, cols_,
                          out.data() + r * forest_.groups);
    }
    for (; r < rows; ++r)
      PredictRows<1>(forest_, features.data() + r * cols_, cols_, out.data() + r * forest_.groups);
    return Status::Ok();
  }

 private:
  Forest forest_;
  Signature signature_;
  size_t cols_;
};

}  // namespace

Result<std::unique_ptr<Model>> LoadTreeModel(std::string_view model_json, Signature signature,
                                             std::string_view source) {
  KEEL_ASSIGN_OR_RETURN(RawModel raw, ReadModelJson(model_json, source));
  Result<Output> output = PlanOutput(raw);
  Status fits = output.ok() ? CheckSignature(raw, *output, signature) : output.status();
  if (!fits.ok()) return fits.WithPrefix(source);
  Result<Forest> forest = Compile(raw, *output);
  if (!forest.ok()) return forest.status().WithPrefix(source);
  return std::unique_ptr<Model>(new TreeModel(std::move(*forest), std::move(signature)));
}

}  // namespace keel::runtime
