// The V2 Open Inference Protocol's inference request ($inference_request in
// docs/format/inference.md): parsed with simdjson's on-demand API into
// buffers that are reused from one request to the next, so a steady stream
// of requests allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keel::serving {

// The protocol's tensor element types.
enum class Datatype : uint8_t {
  kBool, kUint8, kUint16, kUint32, kUint64, kInt8, kInt16, kInt32, kInt64,
  kFp16, kFp32, kFp64, kBytes,
};
// "FP32" -> kFp32; unknown names are kInvalidArgument naming the value.
Result<Datatype> ParseDatatype(std::string_view name);
std::string_view DatatypeName(Datatype datatype);

// One input tensor. Numbers (every datatype but BYTES) are held as float,
// the precision the trees compare in; a JSON null is a missing value (NaN).
// BYTES elements are views into the parser's memory (`null` is a view with
// a null data pointer).
struct InferInput {
  std::string name;
  Datatype datatype = Datatype::kFp32;
  std::vector<uint64_t> shape;
  std::vector<float> numbers;
  std::vector<std::string_view> strings;

  uint64_t ElementCount() const;  // the product of the shape
  size_t DataCount() const { return datatype == Datatype::kBytes ? strings.size() : numbers.size(); }
};

struct InferRequest {
  bool has_id = false;
  std::string id;
  // inputs[0, input_count): the vector keeps its elements, and their
  // buffers, for the next request.
  std::vector<InferInput> inputs;
  size_t input_count = 0;
  std::vector<std::string> outputs;  // the requested outputs' names; empty: all
};

// Parses request bodies. Not thread-safe: one parser per thread or
// connection. A parsed request's BYTES views stay valid until the next Parse.
class InferRequestParser {
 public:
  InferRequestParser();
  ~InferRequestParser();
  InferRequestParser(const InferRequestParser&) = delete;
  InferRequestParser& operator=(const InferRequestParser&) = delete;

  // Parses `body` into `request`. Fails with kInvalidArgument naming the
  // field: malformed JSON, a missing or mistyped field, an unknown datatype,
  // a shape whose element count differs from the data's, an element of the
  // wrong JSON type for the datatype (a string in FP32, a number in BYTES).
  // Numbers of every numeric datatype are read as float, whatever their
  // range. Fields keel does not use ("parameters") are skipped unread.
  Status Parse(std::string_view body, InferRequest* request);

  // Parse, reading the text in `body` where it is, without copying it:
  // the text is changed (its number arrays become spaces), and its
  // capacity grows by simdjson's padding when it has less to spare.
  Status ParseInPlace(std::string* body, InferRequest* request);

 private:
  // Parses the `size` bytes at `text`, which has `capacity` bytes writable.
  Status ParseText(char* text, size_t size, size_t capacity, InferRequest* request);

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace keel::serving
