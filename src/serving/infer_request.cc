#include "serving/infer_request.h"

#include <array>
#include <cmath>
#include <limits>
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

// Reads one field of `object` as a string into `out`; false when absent.
Result<bool> StringField(od::object& object, std::string_view key, const std::string& where,
                         std::string* out) {
  od::value value;
  simdjson::error_code error = object.find_field_unordered(key).get(value);
  if (error == simdjson::NO_SUCH_FIELD) return false;
  if (error) return JsonError(where, error);
  od::json_type type;
  if ((error = value.type().get(type))) return JsonError(where + "." + std::string(key), error);
  if (type != od::json_type::string) return WrongType(where + "." + std::string(key), "a string", type);
  std::string_view text;
  if ((error = value.get_string().get(text))) return JsonError(where + "." + std::string(key), error);
  out->assign(text);
  return true;
}

// Appends the elements of a (possibly nested) data array, row-major.
class DataReader {
 public:
  DataReader(InferInput* input, const std::string& where) : input_(input), where_(where) {}

  Status Read(od::value value, int depth) {
    od::json_type type;
    simdjson::error_code error = value.type().get(type);
    if (error) return JsonError(Where(), error);
    if (type != od::json_type::array) return Element(value, type);
    if (depth >= kMaxDataDepth) {
      return InvalidArgumentError(where_ + ": data nested deeper than " + std::to_string(kMaxDataDepth));
    }
    od::array array;
    if ((error = value.get_array().get(array))) return JsonError(Where(), error);
    for (auto element : array) {
      od::value child;
      if ((error = element.get(child))) return JsonError(Where(), error);
      KEEL_RETURN_IF_ERROR(Read(child, depth + 1));
    }
    return Status::Ok();
  }

 private:
  std::string Where() const { return where_ + "[" + std::to_string(input_->DataCount()) + "]"; }

  Status Element(od::value value, od::json_type type) {
    if (type == od::json_type::null) {
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
    double number = 0;
    simdjson::error_code error = value.get_double().get(number);
    if (error) return JsonError(Where(), error);
    input_->numbers.push_back(static_cast<float>(number));
    return Status::Ok();
  }

  InferInput* input_;
  const std::string& where_;
};

Status ReadShape(od::object& object, const std::string& where, InferInput* input) {
  od::array shape;
  simdjson::error_code error = object.find_field_unordered("shape").get_array().get(shape);
  if (error == simdjson::NO_SUCH_FIELD) return InvalidArgumentError(where + ": missing field 'shape'");
  if (error) return InvalidArgumentError(where + ".shape: expected an array of non-negative integers");
  for (auto dim : shape) {
    uint64_t size = 0;
    if (dim.get_uint64().get(size)) {
      return InvalidArgumentError(where + ".shape: expected an array of non-negative integers");
    }
    input->shape.push_back(size);
  }
  return Status::Ok();
}

Status ReadInput(od::object object, const std::string& where, InferInput* input) {
  input->shape.clear();
  input->numbers.clear();
  input->strings.clear();
  KEEL_ASSIGN_OR_RETURN(bool has_name, StringField(object, "name", where, &input->name));
  if (!has_name) return InvalidArgumentError(where + ": missing field 'name'");
  const std::string named = where + " '" + input->name + "'";
  std::string datatype;
  KEEL_ASSIGN_OR_RETURN(bool has_datatype, StringField(object, "datatype", named, &datatype));
  if (!has_datatype) return InvalidArgumentError(named + ": missing field 'datatype'");
  Result<Datatype> parsed = ParseDatatype(datatype);
  if (!parsed.ok()) return InvalidArgumentError(named + ": " + parsed.status().message());
  input->datatype = *parsed;
  KEEL_RETURN_IF_ERROR(ReadShape(object, named, input));

  od::value data;
  simdjson::error_code error = object.find_field_unordered("data").get(data);
  if (error == simdjson::NO_SUCH_FIELD) return InvalidArgumentError(named + ": missing field 'data'");
  if (error) return JsonError(named + ".data", error);
  const std::string data_where = named + ".data";
  KEEL_RETURN_IF_ERROR(DataReader(input, data_where).Read(data, 0));
  if (input->DataCount() != input->ElementCount()) {
    std::string shape = "[";
    for (size_t i = 0; i < input->shape.size(); ++i) shape += (i ? "," : "") + std::to_string(input->shape[i]);
    return InvalidArgumentError(named + ": shape " + shape + "] holds " + std::to_string(input->ElementCount()) +
                                " elements but data has " + std::to_string(input->DataCount()));
  }
  return Status::Ok();
}

Status ReadInputs(od::value value, InferRequest* request) {
  od::array inputs;
  if (value.get_array().get(inputs)) return InvalidArgumentError("'inputs': expected an array of input tensors");
  for (auto element : inputs) {
    const std::string where = "inputs[" + std::to_string(request->input_count) + "]";
    od::object object;
    if (element.get_object().get(object)) return InvalidArgumentError(where + ": expected an object");
    if (request->input_count == request->inputs.size()) request->inputs.emplace_back();
    KEEL_RETURN_IF_ERROR(ReadInput(object, where, &request->inputs[request->input_count]));
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
    KEEL_ASSIGN_OR_RETURN(bool has_name, StringField(object, "name", where, &name));
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
};

InferRequestParser::InferRequestParser() : state_(std::make_unique<State>()) {}
InferRequestParser::~InferRequestParser() = default;

Status InferRequestParser::Parse(std::string_view body, InferRequest* request) {
  request->has_id = false;
  request->id.clear();
  request->input_count = 0;
  request->outputs.clear();

  std::string& buffer = state_->buffer;
  if (buffer.size() < body.size() + simdjson::SIMDJSON_PADDING) buffer.resize(body.size() + simdjson::SIMDJSON_PADDING);
  std::copy(body.begin(), body.end(), buffer.begin());
  od::document doc;
  simdjson::error_code error = state_->parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc);
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
      KEEL_RETURN_IF_ERROR(ReadInputs(value, request));
    } else if (key == "outputs") {
      KEEL_RETURN_IF_ERROR(ReadOutputs(value, request));
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
