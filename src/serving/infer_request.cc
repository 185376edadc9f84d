#include "serving/infer_request.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <utility>

#include <simdjson.h>

namespace keel::serving {
namespace {

namespace od = simdjson::ondemand;

constexpr std::array<std::pair<std::string_view, Datatype>, 13> kDatatypes = {{
    {"BOOL", Datatype::kBool},   {"UINT8", Datatype::kUint8}, {"UINT16", Datatype::kUint16},
    {"UINT32", Datatype::kUint32}, {"UINT64", Datatype::kUint64}, {"INT8", Datatype::kInt8},
    {"INT16", Datatype::kInt16}, {"INT32", Datatype::kInt32}, {"INT64", Datatype::kInt64},
    {"FP16", Datatype::kFp16},   {"FP32", Datatype::kFp32},   {"FP64", Datatype::kFp64},
    {"BYTES", Datatype::kBytes},
}};

// Nested data arrays deeper than this are refused rather than recursed into.
constexpr int kMaxDataDepth = 32;

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

Status JsonError(std::string_view where, simdjson::error_code error) {
  std::string message = "malformed JSON";
  if (!where.empty()) message += " at " + std::string(where);
  return InvalidArgumentError(message + ": " + simdjson::error_message(error));
}

std::string_view JsonTypeName(od::json_type type) {
  switch (type) {
    case od::json_type::array: return "an array";
    case od::json_type::object: return "an object";
    case od::json_type::number: return "a number";
    case od::json_type::string: return "a string";
    case od::json_type::boolean: return "a boolean";
    case od::json_type::null: return "null";
  }
  return "a value";
}

Status WrongType(const std::string& where, std::string_view expected, od::json_type got) {
  return InvalidArgumentError(where + ": expected " + std::string(expected) + ", got " +
                              std::string(JsonTypeName(got)));
}

// Where an input's errors are: "inputs[0] 'age'". Kept as its parts and
// only spelled out for an error, so a valid request builds no strings.
struct Named {
  const std::string& where;
  const std::string& name;  // empty: not known (yet)
};
const std::string kNoName;
std::string Text(const Named& named) {
  return named.name.empty() ? named.where : named.where + " '" + named.name + "'";
}

// Reads the value of field `key` of `at` as a string into `out`.
Status StringValue(od::value value, const Named& at, std::string_view key, std::string* out) {
  od::json_type type = od::json_type::null;
  simdjson::error_code error = value.type().get(type);
  if (!error && type == od::json_type::string) {
    std::string_view text;
    if (!(error = value.get_string().get(text))) {
      out->assign(text);
      return Status::Ok();
    }
  }
  const std::string where = Text(at) + "." + std::string(key);
  return error ? JsonError(where, error) : WrongType(where, "a string", type);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The powers of ten a double holds exactly.
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// One JSON number at `p`, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?,
// read as double and then rounded to float (what a client's float64 holds
// and what the trees compare). Returns its end, or nullptr when `p` holds
// no JSON number or one beyond a double's range (a number too small for
// a double is zero).
//
// Clinger's fast path when the significant digits and the power of ten are
// both exact doubles (one IEEE operation then rounds correctly);
// std::from_chars, correctly rounded, otherwise. simdjson's get_double is
// not used: Debian's 3.0.1 misreads "0." followed by 20 or more digits
// (simdjson issue #2093: 0.95000000000000000000 gives 0.0277).
//
// This is the whole reading; ScanNumber below takes the common numbers
// faster and hands the rest to it.
const char* ScanNumberExact(const char* p, const char* end, float* out) {
  const char* start = p;
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  if (p == end || !IsDigit(*p)) return nullptr;
  uint64_t mantissa = 0;
  int digits = 0;  // significant digits in `mantissa`
  int exponent = 0;
  if (*p == '0') {
    ++p;
  } else {
    for (; p != end && IsDigit(*p); ++p, ++digits) mantissa = mantissa * 10 + static_cast<uint64_t>(*p - '0');
  }
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return nullptr;
    for (; p != end && IsDigit(*p); ++p) {
      --exponent;
      if (mantissa == 0 && *p == '0') continue;  // the leading zeros of 0.00123
      mantissa = mantissa * 10 + static_cast<uint64_t>(*p - '0');
      ++digits;
    }
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    bool negative_exponent = false;
    if (p != end && (*p == '+' || *p == '-')) negative_exponent = *p++ == '-';
    if (p == end || !IsDigit(*p)) return nullptr;
    int e = 0;
    for (; p != end && IsDigit(*p); ++p) {
      if (e < 100000) e = e * 10 + (*p - '0');
    }
    exponent += negative_exponent ? -e : e;
  }
  double value = 0;
  if (digits <= 15 && exponent >= -22 && exponent <= 22) {  // 15 digits: below 2^53, exact
    value = static_cast<double>(mantissa);
    value = exponent < 0 ? value / kPow10[-exponent] : value * kPow10[exponent];
    if (negative) value = -value;
  } else {
    std::from_chars_result r = std::from_chars(start, p, value);
    if (r.ptr != p) return nullptr;
    if (r.ec == std::errc::result_out_of_range && exponent + digits < 0) {
      value = negative ? -0.0 : 0.0;  // below the least subnormal: zero, as strtod and Python read it
    } else if (r.ec != std::errc()) {
      return nullptr;  // beyond a double's range
    }
  }
  *out = static_cast<float>(value);
  return p;
}

// ScanNumberExact for a number in a document that a NUL follows (Parse
// writes one at its end), so that its digit loops need no bound. A number
// without exponent whose digits fit a double exactly (most that clients
// send: 17.99, 0.006399, 1001) is read here, in one pass with no branch
// per digit beyond the loop's own; any other goes to ScanNumberExact.
inline const char* ScanNumber(const char* p, const char* end, float* out) {
  const char* start = p;
  const bool negative = *p == '-';
  p += negative;
  const char* integer = p;
  uint64_t mantissa = 0;
  unsigned digit;
  while ((digit = static_cast<unsigned char>(*p) - '0') < 10) {
    mantissa = mantissa * 10 + digit;
    ++p;
  }
  const ptrdiff_t integer_digits = p - integer;
  if (integer_digits == 0 || (*integer == '0' && integer_digits > 1)) return nullptr;  // no digit; 012
  ptrdiff_t fraction_digits = 0;
  if (*p == '.') {
    const char* fraction = ++p;
    while ((digit = static_cast<unsigned char>(*p) - '0') < 10) {
      mantissa = mantissa * 10 + digit;
      ++p;
    }
    fraction_digits = p - fraction;
    if (fraction_digits == 0) return nullptr;
  }
  // 19 digits cannot overflow the mantissa; up to 2^53 it is an exact
  // double, as is every power of ten up to 1e22.
  if ((*p | 0x20) == 'e' || integer_digits + fraction_digits > 19 || mantissa > (uint64_t{1} << 53) ||
      fraction_digits > 22) {
    return ScanNumberExact(start, end, out);
  }
  const double value = static_cast<double>(mantissa) / kPow10[fraction_digits];
  *out = static_cast<float>(negative ? -value : value);
  return p;
}

// A raw JSON token (simdjson's raw_json_token: the value, then any
// whitespace) that is a number, into `out`.
bool ReadNumberToken(std::string_view token, float* out) {
  const char* end = token.data() + token.size();
  const char* p = ScanNumber(token.data(), end, out);
  if (p == nullptr) return false;
  for (; p != end; ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') return false;
  }
  return true;
}

// Fields keel does not use ("parameters") nest no deeper than this.
constexpr int kMaxSkippedDepth = 64;

// Reads through a value keel does not use, so that malformed JSON in it is
// an error as anywhere else (simdjson's on-demand API would otherwise pass
// over it unchecked). `where` names the field.
Status CheckJson(od::value value, const std::string& where, int depth = 0) {
  od::json_type type;
  simdjson::error_code error = value.type().get(type);
  if (error) return JsonError(where, error);
  if ((type == od::json_type::object || type == od::json_type::array) && depth >= kMaxSkippedDepth) {
    return InvalidArgumentError(where + ": nested deeper than " + std::to_string(kMaxSkippedDepth));
  }
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if ((error = value.get_object().get(object))) return JsonError(where, error);
      for (auto field : object) {
        std::string_view key;
        od::value child;
        if ((error = field.unescaped_key().get(key)) || (error = field.value().get(child))) {
          return JsonError(where, error);
        }
        KEEL_RETURN_IF_ERROR(CheckJson(child, where, depth + 1));
      }
      return Status::Ok();
    }
    case od::json_type::array: {
      od::array array;
      if ((error = value.get_array().get(array))) return JsonError(where, error);
      for (auto element : array) {
        od::value child;
        if ((error = element.get(child))) return JsonError(where, error);
        KEEL_RETURN_IF_ERROR(CheckJson(child, where, depth + 1));
      }
      return Status::Ok();
    }
    case od::json_type::string: {
      std::string_view text;
      error = value.get_string().get(text);
      break;
    }
    case od::json_type::number: {
      float number = 0;
      if (!ReadNumberToken(value.raw_json_token(), &number)) error = simdjson::NUMBER_ERROR;
      break;
    }
    case od::json_type::boolean: {
      bool flag = false;
      error = value.get_bool().get(flag);
      break;
    }
    case od::json_type::null: {
      bool null = false;
      error = value.is_null().get(null);
      if (!error && !null) error = simdjson::N_ATOM_ERROR;
      break;
    }
  }
  return error ? JsonError(where, error) : Status::Ok();
}

// Appends the elements of a (possibly nested) data array, row-major.
class DataReader {
 public:
  DataReader(InferInput* input, const Named& named) : input_(input), named_(named) {}

  Status Read(od::value value, int depth) {
    od::json_type type;
    simdjson::error_code error = value.type().get(type);
    if (error) return JsonError(Where(), error);
    if (type != od::json_type::array) return Element(value, type);
    if (depth >= kMaxDataDepth) {
      return InvalidArgumentError(Text(named_) + ".data: data nested deeper than " + std::to_string(kMaxDataDepth));
    }
    od::array array;
    if ((error = value.get_array().get(array))) return JsonError(Where(), error);
    const bool numeric = input_->datatype != Datatype::kBytes;
    for (auto element : array) {
      od::value child;
      if ((error = element.get(child))) return JsonError(Where(), error);
      // The common case first: a number, read from its token; the value
      // stays unread for the general path to examine.
      float number = 0;
      if (numeric && ReadNumberToken(child.raw_json_token(), &number) && !std::isinf(number)) {
        input_->numbers.push_back(number);
        continue;
      }
      KEEL_RETURN_IF_ERROR(Read(child, depth + 1));
    }
    return Status::Ok();
  }

 private:
  std::string Where() const { return Text(named_) + ".data[" + std::to_string(input_->DataCount()) + "]"; }

  Status Element(od::value value, od::json_type type) {
    if (type == od::json_type::null) {
      bool null = false;  // the type is only its first letter's
      simdjson::error_code error = value.is_null().get(null);
      if (!error && !null) error = simdjson::N_ATOM_ERROR;
      if (error) return JsonError(Where(), error);
      if (input_->datatype == Datatype::kBytes) {
        input_->strings.emplace_back();
      } else {
        input_->numbers.push_back(kMissing);
      }
      return Status::Ok();
    }
    if (input_->datatype == Datatype::kBytes) {
      if (type != od::json_type::string) return WrongType(Where(), "a string (datatype BYTES)", type);
      std::string_view text;
      simdjson::error_code error = value.get_string().get(text);
      if (error) return JsonError(Where(), error);
      input_->strings.push_back(text.data() == nullptr ? std::string_view("", 0) : text);
      return Status::Ok();
    }
    if (type == od::json_type::boolean && input_->datatype == Datatype::kBool) {
      bool flag = false;
      simdjson::error_code error = value.get_bool().get(flag);
      if (error) return JsonError(Where(), error);
      input_->numbers.push_back(flag ? 1.0f : 0.0f);
      return Status::Ok();
    }
    if (type != od::json_type::number) {
      return WrongType(Where(), "a number (datatype " + std::string(DatatypeName(input_->datatype)) + ")", type);
    }
    float number = 0;
    const std::string_view token = value.raw_json_token();
    if (!ReadNumberToken(token, &number)) return JsonError(Where(), simdjson::NUMBER_ERROR);
    if (std::isinf(number)) {
      // XGBoost refuses infinite features; a float is what the trees compare.
      return InvalidArgumentError(Where() + ": " + std::string(token.substr(0, token.find_first_of(" \t\r\n"))) +
                                  " is beyond the range of a float (about ±3.4e38), in which the model reads features");
    }
    input_->numbers.push_back(number);
    return Status::Ok();
  }

  InferInput* input_;
  const Named& named_;
};

// The common case of a numeric tensor's data, read straight from the JSON
// text: an array of numbers, possibly nested, with nothing else in it.
// Returns the end of the array (past its ']') with every number appended
// to `out`, or nullptr on anything else (null, a boolean, a string, bad
// JSON, too deep), leaving the general reader to read it and name what is
// wrong. `p` points at the array's '['; `end` is the end of the document.
class NumberArrayScanner {
 public:
  NumberArrayScanner(const char* end, std::vector<float>* out) : end_(end), out_(out) {}

  const char* Scan(const char* p) {
    int depth = 0;
    for (;;) {
      // At the start of a value: '[' opens an array, which may be empty.
      if (*p == '[') {
        if (++depth > kMaxDataDepth) return nullptr;
        p = SkipSpace(p + 1);
        if (p == end_) return nullptr;
        if (*p == ']') {
          p = CloseArrays(p, &depth);
          if (p == nullptr || depth == 0) return p;
          continue;
        }
        continue;
      }
      p = Number(p);
      if (p == nullptr) return nullptr;
      p = SkipSpace(p);
      if (p == end_) return nullptr;
      if (*p == ',') {
        p = SkipSpace(p + 1);
        if (p == end_) return nullptr;
        continue;
      }
      if (*p != ']') return nullptr;
      p = CloseArrays(p, &depth);
      if (p == nullptr || depth == 0) return p;
    }
  }

 private:
  const char* SkipSpace(const char* p) const {
    while (p != end_ && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
    return p;
  }

  // At a ']': closes it and every ']' that follows; then expects ',' and
  // the next value, unless the outermost array closed. Returns the start
  // of the next value, or the end of the outermost array.
  const char* CloseArrays(const char* p, int* depth) const {
    for (;;) {
      --*depth;
      p = SkipSpace(p + 1);
      if (*depth == 0) return p;
      if (p == end_) return nullptr;
      if (*p == ',') {
        p = SkipSpace(p + 1);
        return p == end_ ? nullptr : p;
      }
      if (*p != ']') return nullptr;
    }
  }

  // Declines a number beyond float's range, for the general reader to
  // name.
  const char* Number(const char* p) {
    float value = 0;
    p = ScanNumber(p, end_, &value);
    if (p == nullptr || std::isinf(value)) return nullptr;
    out_->push_back(value);
    return p;
  }

  const char* end_;
  std::vector<float>* out_;
};

Status ReadShape(od::value value, const Named& named, InferInput* input) {
  od::array shape;
  if (value.get_array().get(shape)) {
    return InvalidArgumentError(Text(named) + ".shape: expected an array of non-negative integers");
  }
  for (auto dim : shape) {
    uint64_t size = 0;
    if (dim.get_uint64().get(size)) {
      return InvalidArgumentError(Text(named) + ".shape: expected an array of non-negative integers");
    }
    input->shape.push_back(size);
  }
  return Status::Ok();
}

// The numeric data arrays of a request, read from its text before simdjson
// indexes it. Every array of numbers that follows a key "data" is read by
// NumberArrayScanner and then blanked to spaces between its brackets in
// simdjson's copy of the text, so that simdjson indexes an empty array
// there instead of two tokens per number, and does not walk those tokens
// again to step over the array. (That walk cost a quarter of the parse of
// a 64-row request.) Blanking a well-formed array of numbers leaves a
// valid document valid and an invalid one invalid: only digits, signs,
// points, exponents, commas, brackets and spaces change, and an array the
// scanner accepts is well-formed wherever it stands. In a valid document
// the text `"data" : [` is always a key and the start of its value, as a
// string cannot hold an unescaped quote; the key may also end one with
// an escaped quote ("x\"data") or sit in "parameters", whose values keel
// only checks, and which the scanner has checked.
class DataArrays {
 public:
  // Reads and blanks the arrays in `text`, which a NUL ends.
  void Read(char* text, size_t size) {
    arrays_.clear();
    numbers_.clear();
    const char* end = text + size;
    const std::string_view view(text, size);
    static constexpr std::string_view kKey = "\"data\"";
    for (size_t at = view.find(kKey); at != std::string_view::npos; at = view.find(kKey, at)) {
      at += kKey.size();
      char* p = SkipSpace(text + at);
      if (*p != ':') continue;
      p = SkipSpace(p + 1);
      if (*p != '[') continue;
      const size_t first = numbers_.size();
      const char* after = NumberArrayScanner(end, &numbers_).Scan(p);
      if (after == nullptr) {
        numbers_.resize(first);
        continue;
      }
      char* close = text + (after - text) - 1;  // the last ']', before the spaces the scanner passed
      while (*close != ']') --close;
      std::fill(p + 1, close, ' ');
      arrays_.push_back({p, first, numbers_.size() - first});
      at = static_cast<size_t>(close - text);
    }
  }

  // Moves the numbers of the array whose '[' is at `open` into `numbers`;
  // false when it was not read here. The one array of a request that has
  // one is swapped in, not copied.
  bool Take(const char* open, std::vector<float>* numbers) {
    for (const Array& array : arrays_) {
      if (array.open != open) continue;
      if (arrays_.size() == 1) {
        numbers->swap(numbers_);
        arrays_.clear();
      } else {
        numbers->assign(numbers_.begin() + array.first, numbers_.begin() + array.first + array.count);
      }
      return true;
    }
    return false;
  }

 private:
  struct Array {
    const char* open;
    size_t first;  // into numbers_
    size_t count;
  };
  static char* SkipSpace(char* p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') ++p;
    return p;
  }

  std::vector<Array> arrays_;
  std::vector<float> numbers_;
};

// Reads `data` into `input`: from DataArrays when they read it (in
// simdjson's text it is then an empty array), else element by element.
Status ReadData(od::value data, const Named& named, DataArrays* arrays, InferInput* input) {
  std::string_view token = data.raw_json_token();
  if (token.empty() || !arrays->Take(token.data(), &input->numbers)) return DataReader(input, named).Read(data, 0);
  if (input->datatype == Datatype::kBytes && !input->numbers.empty()) {
    return WrongType(Text(named) + ".data[0]", "a string (datatype BYTES)", od::json_type::number);
  }
  od::array array;
  std::string_view raw;
  simdjson::error_code error = data.get_array().get(array);
  if (!error) error = array.raw_json().get(raw);
  if (error) return JsonError(Text(named) + ".data", error);
  return Status::Ok();
}

// One pass over the input's fields in the client's order; `data` before
// `datatype` (which says how to read it) is looked up again at the end.
// Other fields ("parameters") are checked to be well-formed JSON.
Status ReadInput(od::object object, const std::string& where, DataArrays* arrays, InferInput* input) {
  input->name.clear();
  input->shape.clear();
  input->numbers.clear();
  input->strings.clear();
  const Named named{where, input->name};
  bool has_name = false, has_shape = false, has_datatype = false, has_data = false, data_later = false;
  auto once = [&](bool* seen, std::string_view key) -> Status {
    if (*seen) return InvalidArgumentError(Text(named) + ": field '" + std::string(key) + "' given twice");
    *seen = true;
    return Status::Ok();
  };
  for (auto field : object) {
    std::string_view key;
    od::value value;
    simdjson::error_code error = field.unescaped_key().get(key);
    if (!error) error = field.value().get(value);
    if (error) return JsonError(Text(named), error);
    if (key == "name") {
      KEEL_RETURN_IF_ERROR(once(&has_name, key));
      KEEL_RETURN_IF_ERROR(StringValue(value, Named{where, kNoName}, key, &input->name));
    } else if (key == "shape") {
      KEEL_RETURN_IF_ERROR(once(&has_shape, key));
      KEEL_RETURN_IF_ERROR(ReadShape(value, named, input));
    } else if (key == "datatype") {
      KEEL_RETURN_IF_ERROR(once(&has_datatype, key));
      std::string datatype;
      KEEL_RETURN_IF_ERROR(StringValue(value, named, key, &datatype));
      Result<Datatype> parsed = ParseDatatype(datatype);
      if (!parsed.ok()) return InvalidArgumentError(Text(named) + ": " + parsed.status().message());
      input->datatype = *parsed;
    } else if (key == "data") {
      KEEL_RETURN_IF_ERROR(once(&has_data, key));
      if (has_datatype) {
        KEEL_RETURN_IF_ERROR(ReadData(value, named, arrays, input));
      } else {
        data_later = true;
        KEEL_RETURN_IF_ERROR(CheckJson(value, Text(named) + ".data"));
      }
    } else {
      KEEL_RETURN_IF_ERROR(CheckJson(value, Text(named) + "." + std::string(key)));
    }
  }
  if (!has_name) return InvalidArgumentError(where + ": missing field 'name'");
  if (!has_shape) return InvalidArgumentError(Text(named) + ": missing field 'shape'");
  if (!has_datatype) return InvalidArgumentError(Text(named) + ": missing field 'datatype'");
  if (!has_data) return InvalidArgumentError(Text(named) + ": missing field 'data'");
  if (data_later) {
    od::value data;
    bool ignored = false;
    simdjson::error_code error = object.reset().get(ignored);
    if (!error) error = object.find_field_unordered("data").get(data);
    if (error) return JsonError(Text(named) + ".data", error);
    KEEL_RETURN_IF_ERROR(ReadData(data, named, arrays, input));
  }
  if (input->DataCount() != input->ElementCount()) {
    std::string shape = "[";
    for (size_t i = 0; i < input->shape.size(); ++i) shape += (i ? "," : "") + std::to_string(input->shape[i]);
    return InvalidArgumentError(Text(named) + ": shape " + shape + "] holds " + std::to_string(input->ElementCount()) +
                                " elements but data has " + std::to_string(input->DataCount()));
  }
  return Status::Ok();
}

Status ReadInputs(od::value value, DataArrays* arrays, InferRequest* request) {
  od::array inputs;
  if (value.get_array().get(inputs)) return InvalidArgumentError("'inputs': expected an array of input tensors");
  for (auto element : inputs) {
    const std::string where = "inputs[" + std::to_string(request->input_count) + "]";
    od::object object;
    if (element.get_object().get(object)) return InvalidArgumentError(where + ": expected an object");
    if (request->input_count == request->inputs.size()) request->inputs.emplace_back();
    KEEL_RETURN_IF_ERROR(ReadInput(object, where, arrays, &request->inputs[request->input_count]));
    ++request->input_count;
  }
  if (request->input_count == 0) return InvalidArgumentError("'inputs' is empty");
  return Status::Ok();
}

Status ReadOutputs(od::value value, InferRequest* request) {
  od::array outputs;
  if (value.get_array().get(outputs)) return InvalidArgumentError("'outputs': expected an array of requested outputs");
  for (auto element : outputs) {
    const std::string where = "outputs[" + std::to_string(request->outputs.size()) + "]";
    od::object object;
    if (element.get_object().get(object)) return InvalidArgumentError(where + ": expected an object");
    std::string name;
    bool has_name = false;
    for (auto field : object) {
      std::string_view key;
      od::value field_value;
      simdjson::error_code error = field.unescaped_key().get(key);
      if (!error) error = field.value().get(field_value);
      if (error) return JsonError(where, error);
      if (key == "name" && !has_name) {
        has_name = true;
        KEEL_RETURN_IF_ERROR(StringValue(field_value, Named{where, kNoName}, key, &name));
      } else if (key == "name") {
        return InvalidArgumentError(where + ": field 'name' given twice");
      } else {
        KEEL_RETURN_IF_ERROR(CheckJson(field_value, where + "." + std::string(key)));
      }
    }
    if (!has_name) return InvalidArgumentError(where + ": missing field 'name'");
    request->outputs.push_back(std::move(name));
  }
  return Status::Ok();
}

}  // namespace

Result<Datatype> ParseDatatype(std::string_view name) {
  for (const auto& [text, datatype] : kDatatypes) {
    if (text == name) return datatype;
  }
  return InvalidArgumentError("unknown datatype '" + std::string(name) +
                              "' (one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)");
}

std::string_view DatatypeName(Datatype datatype) {
  for (const auto& [text, value] : kDatatypes) {
    if (value == datatype) return text;
  }
  return "?";
}

uint64_t InferInput::ElementCount() const {
  uint64_t count = 1;
  for (uint64_t dim : shape) {
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / dim) return std::numeric_limits<uint64_t>::max();
    count *= dim;
  }
  return count;
}

struct InferRequestParser::State {
  od::parser parser;
  std::string buffer;  // the body and simdjson's padding
  DataArrays data_arrays;
};

InferRequestParser::InferRequestParser() : state_(std::make_unique<State>()) {}
InferRequestParser::~InferRequestParser() = default;

Status InferRequestParser::Parse(std::string_view body, InferRequest* request) {
  std::string& buffer = state_->buffer;
  if (buffer.size() < body.size() + simdjson::SIMDJSON_PADDING) buffer.resize(body.size() + simdjson::SIMDJSON_PADDING);
  std::copy(body.begin(), body.end(), buffer.begin());
  return ParseText(buffer.data(), body.size(), buffer.size(), request);
}

Status InferRequestParser::ParseInPlace(std::string* body, InferRequest* request) {
  // The string grows by the padding for the parse and shrinks back after,
  // keeping its capacity for the next body read into it.
  const size_t size = body->size();
  body->resize(size + simdjson::SIMDJSON_PADDING);
  const Status status = ParseText(body->data(), size, body->size(), request);
  body->resize(size);
  return status;
}

Status InferRequestParser::ParseText(char* text, size_t size, size_t capacity, InferRequest* request) {
  request->has_id = false;
  request->id.clear();
  request->input_count = 0;
  request->outputs.clear();

  text[size] = '\0';  // ends ScanNumber's digit loops
  state_->data_arrays.Read(text, size);
  od::document doc;
  simdjson::error_code error = state_->parser.iterate(text, size, capacity).get(doc);
  if (error) return JsonError("", error);
  od::object root;
  if ((error = doc.get_object().get(root))) {
    return error == simdjson::INCORRECT_TYPE ? InvalidArgumentError("the request body must be a JSON object")
                                             : JsonError("", error);
  }
  // One pass over the fields in document order; fields the protocol has but
  // keel does not use ("parameters") are skipped unread.
  bool has_inputs = false;
  for (auto field : root) {
    std::string_view key;
    if ((error = field.unescaped_key().get(key))) return JsonError("", error);
    od::value value;
    if ((error = field.value().get(value))) return JsonError(key, error);
    if (key == "id") {
      std::string_view id;
      if (value.get_string().get(id)) return InvalidArgumentError("'id': expected a string");
      request->id.assign(id);
      request->has_id = true;
    } else if (key == "inputs") {
      if (has_inputs) return InvalidArgumentError("'inputs' given twice");
      has_inputs = true;
      KEEL_RETURN_IF_ERROR(ReadInputs(value, &state_->data_arrays, request));
    } else if (key == "outputs") {
      KEEL_RETURN_IF_ERROR(ReadOutputs(value, request));
    } else {
      KEEL_RETURN_IF_ERROR(CheckJson(value, "'" + std::string(key) + "'"));
    }
  }
  if (!has_inputs) return InvalidArgumentError("missing field 'inputs'");
  // With the whole object read, a location still inside the document means
  // something follows it.
  const char* rest = nullptr;
  if (!doc.current_location().get(rest)) {
    return InvalidArgumentError("malformed JSON: content after the request object");
  }
  return Status::Ok();
}

}  // namespace keel::serving
