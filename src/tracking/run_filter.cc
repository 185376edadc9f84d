#include "tracking/run_filter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/yaml.h"

namespace keel {
namespace {

constexpr char kOperators[] = "expected =, !=, <, <=, >, >=, like or ilike";
constexpr char kStatuses[] = "expected running, finished, failed or killed";
constexpr size_t kShownMax = 40;

bool IsBare(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
         c == '/' || c == ':';
}

bool IsSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Input as an error shows it, cut short so that one long argument does not
// bury the message.
std::string Excerpt(std::string_view token) {
  if (token.size() <= kShownMax) return std::string(token);
  size_t cut = kShownMax;
  while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0) == 0x80) --cut;
  return std::string(token.substr(0, cut)) + "...";
}

std::string Shown(std::string_view token) {
  return "'" + Excerpt(token) + "'";
}

// A name as the user would type it: backtick-quoted unless all bare.
std::string TypedName(std::string_view name) {
  bool bare = std::all_of(name.begin(), name.end(), IsBare);
  return bare ? std::string(name) : "`" + std::string(name) + "`";
}

bool IsNumericAttribute(std::string_view key) {
  return key == "id" || key == "dirty" || key == "start_time" || key == "end_time";
}

std::string_view OpName(CompareOp op) {
  return op == CompareOp::kLike ? "like" : "ilike";
}

bool IsLike(CompareOp op) {
  return op == CompareOp::kLike || op == CompareOp::kILike;
}

struct Field {
  RunField field = RunField::kAttribute;
  std::string key;
  std::string label;  // how messages name it: "metrics.auc", "status"
};

struct Value {
  enum class Kind { kNumber, kString, kBool };
  Kind kind = Kind::kNumber;
  double number = 0;
  std::string text;  // a string's content, or a number or true/false as typed
};

// Reads `--where` or `--sort` text left to right; errors start with the flag.
class Cursor {
 public:
  Cursor(std::string_view text, std::string_view flag) : text_(text), flag_(flag) {}

  void SkipSpaces() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }
  bool AtEnd() {
    SkipSpaces();
    return pos_ >= text_.size();
  }
  size_t column() const { return pos_ + 1; }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void Skip() { ++pos_; }

  // The run of bare characters at the cursor; Take consumes it.
  std::string_view PeekBare() const { return PeekWhile(IsBare); }
  std::string_view TakeBare() { return Take(PeekBare()); }
  // Everything up to the next space, for showing what was found.
  std::string_view PeekToken() const {
    return PeekWhile([](char c) { return !IsSpace(c); });
  }
  std::string_view TakeWhile(bool (*pred)(char)) { return Take(PeekWhile(pred)); }
  std::string_view Since(size_t column) const {
    return text_.substr(column - 1, pos_ - (column - 1));
  }

  Status Error(size_t column, const std::string& message) const {
    return InvalidArgumentError(flag_ + ": column " + std::to_string(column) + ": " + message);
  }
  Status Error(const std::string& message) const {
    return InvalidArgumentError(flag_ + ": " + message);
  }

  Result<Field> ParseField();
  Result<std::string> TakeQuoted(char close, std::string_view what);

 private:
  template <typename Pred>
  std::string_view PeekWhile(Pred pred) const {
    size_t end = pos_;
    while (end < text_.size() && pred(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }
  std::string_view Take(std::string_view run) {
    pos_ += run.size();
    return run;
  }
  Result<Field> ResolveField(std::string_view prefix, std::string name, bool dotted, size_t column);
  Result<Field> Attribute(std::string_view name, std::string_view typed);
  Status UnknownField(std::string_view typed, std::string_view name) const;

  std::string_view text_;
  std::string flag_;
  size_t pos_ = 0;
};

// Reads from an opening `close` character to the matching one. In strings a
// backslash escapes a quote or itself; any other backslash stays as typed,
// so Windows paths and LIKE patterns need no doubling.
Result<std::string> Cursor::TakeQuoted(char close, std::string_view what) {
  size_t column = this->column();
  bool escapes = close != '`';
  std::string out;
  for (Skip(); pos_ < text_.size(); ++pos_) {
    char c = text_[pos_];
    if (c == close) {
      Skip();
      return out;
    }
    bool escaped = escapes && c == '\\' && pos_ + 1 < text_.size() &&
                   (text_[pos_ + 1] == '\'' || text_[pos_ + 1] == '"' || text_[pos_ + 1] == '\\');
    if (escaped) c = text_[++pos_];
    out += c;
  }
  return Error(column,
               "unterminated " + std::string(what) + " " + Excerpt(text_.substr(column - 1)));
}

// FIELD: `PREFIX.NAME`, `PREFIX.`NAME`` or a bare attribute. A NAME keeps
// its dots: params.train.max_depth is param "train.max_depth".
Result<Field> Cursor::ParseField() {
  size_t column = this->column();
  std::string_view run = TakeBare();
  if (run.empty()) {
    if (AtEnd()) return Error(column, "expected a field");
    return Error(column, "expected a field, found " + Shown(PeekToken()));
  }
  size_t dot = run.find('.');
  if (dot == std::string_view::npos) return ResolveField(run, "", false, column);
  std::string name(run.substr(dot + 1));
  if (name.empty() && Peek() == '`') {
    KEEL_ASSIGN_OR_RETURN(name, TakeQuoted('`', "name"));
  }
  return ResolveField(run.substr(0, dot), std::move(name), true, column);
}

Result<Field> Cursor::ResolveField(std::string_view prefix, std::string name, bool dotted,
                                   size_t column) {
  std::string_view typed = Since(column);
  if (!dotted) return Attribute(prefix, typed);
  if (prefix == "attributes") return Attribute(name, typed);
  RunField field;
  if (prefix == "metrics")
    field = RunField::kMetric;
  else if (prefix == "params")
    field = RunField::kParam;
  else if (prefix == "tags")
    field = RunField::kTag;
  else
    return UnknownField(typed, name);
  if (name.empty()) return Error(column, Shown(typed) + " needs a name after the dot");
  std::string label = std::string(prefix) + "." + TypedName(name);
  return Field{field, std::move(name), std::move(label)};
}

Result<Field> Cursor::Attribute(std::string_view name, std::string_view typed) {
  const std::vector<std::string>& names = RunAttributeNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) return UnknownField(typed, name);
  return Field{RunField::kAttribute, std::string(name), std::string(name)};
}

Status Cursor::UnknownField(std::string_view typed, std::string_view name) const {
  std::vector<std::string> known = RunAttributeNames();
  for (const char* prefix : {"metrics.", "params.", "tags.", "attributes."}) {
    known.push_back(prefix + TypedName(name));
  }
  for (const std::string& attribute : RunAttributeNames())
    known.push_back("attributes." + attribute);
  // "attributes.hots" is itself a candidate built from its name.
  std::erase(known, std::string(typed));
  std::string hint = DidYouMean(typed, known);
  if (hint.empty()) {
    hint =
        "; a field is metrics.NAME, params.NAME, tags.NAME or one of id, experiment, status, "
        "git_commit, dirty, host, start_time, end_time";
  }
  return Error("unknown field " + Shown(typed) + hint);
}

bool IsOperatorChar(char c) {
  return c == '=' || c == '!' || c == '<' || c == '>';
}

bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool IsValueChar(char c) {
  return !IsSpace(c) && c != '\'' && c != '"' && c != '`';
}

std::optional<CompareOp> OperatorNamed(std::string_view token) {
  if (token == "=") return CompareOp::kEq;
  if (token == "!=") return CompareOp::kNe;
  if (token == "<") return CompareOp::kLt;
  if (token == "<=") return CompareOp::kLe;
  if (token == ">") return CompareOp::kGt;
  if (token == ">=") return CompareOp::kGe;
  if (IEquals(token, "like")) return CompareOp::kLike;
  if (IEquals(token, "ilike")) return CompareOp::kILike;
  return std::nullopt;
}

Result<CompareOp> ParseOperator(Cursor& in, const Field& field) {
  if (in.AtEnd()) return in.Error(in.column(), "missing operator after " + Shown(field.label));
  size_t column = in.column();
  std::string_view token = IsOperatorChar(in.Peek()) ? in.TakeWhile(IsOperatorChar)
                           : IsWordChar(in.Peek())   ? in.TakeWhile(IsWordChar)
                                                     : in.PeekToken();
  std::optional<CompareOp> op = OperatorNamed(token);
  if (!op) return in.Error(column, "unknown operator " + Shown(token) + "; " + kOperators);
  return *op;
}

// The characters of a JSON-like number; strtod alone would also take hex,
// "inf" and "nan".
bool LooksNumeric(std::string_view token) {
  return std::all_of(token.begin(), token.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' ||
           c == 'e' || c == 'E';
  });
}

std::optional<double> ToNumber(std::string_view token) {
  if (!LooksNumeric(token)) return std::nullopt;
  std::string text(token);
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

Result<Value> ParseBareValue(Cursor& in) {
  size_t column = in.column();
  std::string_view token = in.TakeWhile(IsValueChar);
  if (token.empty()) return in.Error(column, "expected a value, found " + Shown(in.PeekToken()));
  char first = token[0];
  if (std::isdigit(static_cast<unsigned char>(first)) || first == '.' || first == '-' ||
      first == '+') {
    std::optional<double> number = ToNumber(token);
    if (!number) return in.Error(column, "bad number " + Shown(token));
    return Value{Value::Kind::kNumber, *number, std::string(token)};
  }
  if (IEquals(token, "true") || IEquals(token, "false")) {
    return Value{Value::Kind::kBool, IEquals(token, "true") ? 1.0 : 0.0, std::string(token)};
  }
  return in.Error(column,
                  Shown(token) + " is not a value; quote a string: '" + std::string(token) + "'");
}

Result<Value> ParseValue(Cursor& in, std::string_view op_token) {
  if (in.AtEnd()) return in.Error(in.column(), "missing value after " + Shown(op_token));
  if (in.Peek() != '\'' && in.Peek() != '"') return ParseBareValue(in);
  KEEL_ASSIGN_OR_RETURN(std::string text, in.TakeQuoted(in.Peek(), "string"));
  return Value{Value::Kind::kString, 0, std::move(text)};
}

std::string QuoteHint(const Value& value) {
  return "quote the value: '" + value.text + "'";
}

Result<FilterValue> NumericValue(const Cursor& in, const Field& field, CompareOp op,
                                 const Value& value) {
  if (IsLike(op)) {
    return in.Error(std::string(OpName(op)) + " compares strings, but " + field.label +
                    " is a number");
  }
  if (value.kind == Value::Kind::kString) {
    return in.Error(field.label + " is a number, but " + Shown(value.text) + " is a string");
  }
  return FilterValue(value.number);
}

// MLflow writes statuses in capitals ('FINISHED'): any case is accepted.
Result<FilterValue> StatusValue(const Cursor& in, CompareOp op, const Value& value) {
  if (IsLike(op)) return FilterValue(value.text);
  std::string lower = value.text;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ParseRunStatus(lower).ok()) return FilterValue(lower);
  std::string hint = DidYouMean(value.text, {"running", "finished", "failed", "killed"});
  return in.Error("unknown status " + Shown(value.text) + hint + "; " + kStatuses);
}

Result<FilterValue> StringAttributeValue(const Cursor& in, const Field& field, CompareOp op,
                                         const Value& value) {
  if (value.kind != Value::Kind::kString)
    return in.Error(field.label + " is a string; " + QuoteHint(value));
  if (field.key == "status") return StatusValue(in, op, value);
  return FilterValue(value.text);
}

// Params are numbers when the value given is one; tags are always text, so
// a number is kept as typed (tags.epoch = 5 matches the tag "5").
Result<FilterValue> ParamOrTagValue(const Cursor& in, const Field& field, CompareOp op,
                                    const Value& value) {
  if (value.kind == Value::Kind::kBool) {
    return in.Error(field.label +
                    ": true and false are only for numeric fields; to match the text, " +
                    QuoteHint(value));
  }
  if (value.kind == Value::Kind::kString) return FilterValue(value.text);
  if (IsLike(op))
    return in.Error(std::string(OpName(op)) + " compares strings; " + QuoteHint(value));
  if (field.field == RunField::kTag) return FilterValue(value.text);
  return FilterValue(value.number);
}

Result<FilterValue> TypedValue(const Cursor& in, const Field& field, CompareOp op,
                               const Value& value) {
  switch (field.field) {
    case RunField::kMetric:
      return NumericValue(in, field, op, value);
    case RunField::kAttribute:
      if (IsNumericAttribute(field.key)) return NumericValue(in, field, op, value);
      return StringAttributeValue(in, field, op, value);
    case RunField::kParam:
    case RunField::kTag:
      return ParamOrTagValue(in, field, op, value);
  }
  return in.Error("unknown field " + Shown(field.label));
}

std::string OrMessage(std::string_view token) {
  return Shown(token) + " is not supported; conditions are joined with 'and'";
}

Result<RunCondition> ParseCondition(Cursor& in) {
  size_t column = in.column();
  std::string_view word = in.PeekBare();
  if (IEquals(word, "and")) return in.Error(column, "empty condition before " + Shown(word));
  if (IEquals(word, "or")) return in.Error(column, OrMessage(word));
  KEEL_ASSIGN_OR_RETURN(Field field, in.ParseField());
  in.SkipSpaces();
  size_t op_column = in.column();
  KEEL_ASSIGN_OR_RETURN(CompareOp op, ParseOperator(in, field));
  KEEL_ASSIGN_OR_RETURN(Value value, ParseValue(in, in.Since(op_column)));
  KEEL_ASSIGN_OR_RETURN(FilterValue typed, TypedValue(in, field, op, value));
  return RunCondition{field.field, std::move(field.key), op, std::move(typed)};
}

// Consumes the `and` between two conditions.
Status ExpectAnd(Cursor& in) {
  size_t column = in.column();
  std::string_view word = in.PeekBare();
  if (IEquals(word, "or")) return in.Error(column, OrMessage(word));
  if (!IEquals(word, "and"))
    return in.Error(column, "expected 'and' or the end, found " + Shown(in.PeekToken()));
  in.TakeBare();
  if (in.AtEnd()) return in.Error(column, Shown(word) + " is not followed by a condition");
  return Status::Ok();
}

Status ParseDirection(Cursor& in, bool signed_key, RunSort* sort) {
  if (in.AtEnd()) return Status::Ok();
  size_t column = in.column();
  std::string_view word = in.PeekBare();
  if (!IEquals(word, "asc") && !IEquals(word, "desc")) {
    return in.Error(column, "expected asc or desc after the field, found " + Shown(in.PeekToken()));
  }
  in.TakeBare();
  if (signed_key)
    return in.Error(column, "give the direction once: a sign or " + Shown(word) + ", not both");
  sort->descending = IEquals(word, "desc");
  if (!in.AtEnd())
    return in.Error(in.column(), "unexpected " + Shown(in.PeekToken()) + " after " + Shown(word));
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& RunAttributeNames() {
  static const std::vector<std::string> names = {"id",    "experiment", "status",     "git_commit",
                                                 "dirty", "host",       "start_time", "end_time"};
  return names;
}

Result<std::vector<RunCondition>> ParseRunFilter(std::string_view text) {
  Cursor in(text, "--where");
  std::vector<RunCondition> conditions;
  if (in.AtEnd()) return conditions;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(RunCondition condition, ParseCondition(in));
    conditions.push_back(std::move(condition));
    if (in.AtEnd()) return conditions;
    KEEL_RETURN_IF_ERROR(ExpectAnd(in));
  }
}

Result<RunSort> ParseRunSort(std::string_view text) {
  Cursor in(text, "--sort");
  if (in.AtEnd())
    return in.Error("nothing to sort by; give a field such as metrics.auc or -start_time");
  RunSort sort;
  sort.descending = in.Peek() == '-';
  bool signed_key = in.Peek() == '-' || in.Peek() == '+';
  if (signed_key) in.Skip();
  in.SkipSpaces();
  KEEL_ASSIGN_OR_RETURN(Field field, in.ParseField());
  sort.field = field.field;
  sort.key = std::move(field.key);
  KEEL_RETURN_IF_ERROR(ParseDirection(in, signed_key, &sort));
  return sort;
}

}  // namespace keel
