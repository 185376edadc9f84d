#include "serving/infer_request.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>

#include <gtest/gtest.h>

namespace keel::serving {
namespace {

class InferRequestTest : public ::testing::Test {
 protected:
  Status Parse(std::string_view body) { return parser_.Parse(body, &request_); }

  std::string ErrorOf(std::string_view body) {
    Status status = Parse(body);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << body;
    return status.message();
  }

  InferRequestParser parser_;
  InferRequest request_;
};

TEST_F(InferRequestTest, MatrixInputWithId) {
  ASSERT_TRUE(Parse(R"({"id":"r1","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5.5,-6]}]})").ok());
  EXPECT_TRUE(request_.has_id);
  EXPECT_EQ(request_.id, "r1");
  ASSERT_EQ(request_.input_count, 1u);
  const InferInput& in = request_.inputs[0];
  EXPECT_EQ(in.name, "x");
  EXPECT_EQ(in.datatype, Datatype::kFp32);
  EXPECT_EQ(in.shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(in.numbers, (std::vector<float>{1, 2, 3, 4, 5.5f, -6}));
}

TEST_F(InferRequestTest, NestedDataIsFlattenedRowMajorAndFieldsComeInAnyOrder) {
  ASSERT_TRUE(Parse(R"({"inputs":[{"data":[[1,2],[3,4]],"datatype":"FP64","shape":[2,2],"name":"m"}]})").ok());
  EXPECT_FALSE(request_.has_id);
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(request_.inputs[0].datatype, Datatype::kFp64);
}

TEST_F(InferRequestTest, BytesNullsBoolsAndOutputs) {
  ASSERT_TRUE(Parse(R"({"inputs":[
      {"name":"c","shape":[3],"datatype":"BYTES","data":["a","b\"q",null]},
      {"name":"n","shape":[3],"datatype":"FP32","data":[1,null,2]},
      {"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]}],
      "outputs":[{"name":"probability"}],"parameters":{"x":{"y":[1,2]}}})")
                  .ok());
  ASSERT_EQ(request_.input_count, 3u);
  const InferInput& c = request_.inputs[0];
  ASSERT_EQ(c.strings.size(), 3u);
  EXPECT_EQ(c.strings[0], "a");
  EXPECT_EQ(c.strings[1], "b\"q");
  EXPECT_EQ(c.strings[2].data(), nullptr);
  EXPECT_TRUE(std::isnan(request_.inputs[1].numbers[1]));
  EXPECT_EQ(request_.inputs[2].numbers, (std::vector<float>{1, 0}));
  EXPECT_EQ(request_.outputs, (std::vector<std::string>{"probability"}));
}

TEST_F(InferRequestTest, BuffersAreReusedAcrossRequests) {
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},
                                   {"name":"b","shape":[1],"datatype":"FP32","data":[2]}]})").ok());
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"z","shape":[1],"datatype":"FP32","data":[3]}]})").ok());
  EXPECT_EQ(request_.input_count, 1u);
  EXPECT_EQ(request_.inputs[0].name, "z");
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{3}));
  EXPECT_FALSE(request_.has_id);
}

TEST_F(InferRequestTest, ErrorsNameTheField) {
  EXPECT_NE(ErrorOf("{").find("malformed JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("malformed JSON"), std::string::npos);
  EXPECT_EQ(ErrorOf("[1]"), "the request body must be a JSON object");
  EXPECT_EQ(ErrorOf("{}"), "missing field 'inputs'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[]})"), "'inputs' is empty");
  EXPECT_EQ(ErrorOf(R"({"inputs":{}})"), "'inputs': expected an array of input tensors");
  EXPECT_EQ(ErrorOf(R"({"id":7,"inputs":[]})"), "'id': expected a string");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})"), "inputs[0]: missing field 'name'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP33","data":[1]}]})"),
            "inputs[0] 'x': unknown datatype 'FP33' (one of BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]})"),
            "inputs[0] 'x'.shape: expected an array of non-negative integers");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})"), "inputs[0] 'x': missing field 'shape'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]})"),
            "inputs[0] 'x': shape [2,2] holds 4 elements but data has 3");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"a"]}]})"),
            "inputs[0] 'x'.data[1]: expected a number (datatype FP32), got a string");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":[1]}]})"),
            "inputs[0] 'x'.data[0]: expected a string (datatype BYTES), got a number");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})"), "inputs[0] 'x': missing field 'data'");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{}]})"),
            "outputs[0]: missing field 'name'");
  std::string deep = R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":)" + std::string(40, '[') + "1" +
                     std::string(40, ']') + "}]}";
  EXPECT_EQ(ErrorOf(deep), "inputs[0] 'x'.data: data nested deeper than 32");
}

TEST_F(InferRequestTest, NothingMayFollowTheRequestObject) {
  const std::string request = R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})";
  EXPECT_TRUE(Parse(request + " \n\t").ok());
  EXPECT_EQ(ErrorOf(request + " x").substr(0, 14), "malformed JSON");
  EXPECT_EQ(ErrorOf(request + "{}").substr(0, 14), "malformed JSON");
  EXPECT_EQ(ErrorOf(request + "]").substr(0, 14), "malformed JSON");
}

// A number as glibc's strtod (correctly rounded) reads it, then as float:
// what keel must hold for it, bit for bit. None for a number beyond a
// double's range, which keel refuses.
std::optional<float> StrtodFloat(const std::string& text) {
  errno = 0;
  double value = std::strtod(text.c_str(), nullptr);
  if (errno == ERANGE && std::isinf(value)) return std::nullopt;
  if (std::isinf(static_cast<float>(value))) return std::nullopt;  // beyond float: refused
  return static_cast<float>(value);
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST_F(InferRequestTest, NumbersAreCorrectlyRoundedBitForBit) {
  std::vector<std::string> texts = {"0", "-0", "0.0", "-0.0e0", "1", "-1", "17.99", "0.07871", "1001", "2019.0",
                                    "0.006399", "1e0", "1E+2", "1e-2", "123456789012345", "1234567890123456",
                                    "12345678901234567890", "123456789012345678901234567890", "9007199254740993",
                                    "0.1", "0.30000000000000004", "3.4028235e38", "3.4028236e38", "1e39", "-1e39",
                                    "1.4e-45", "7e-46", "4.9e-324", "2.2250738585072014e-308", "1e-400", "1e22",
                                    "1e23", "9.999999999999999e22", "0.000000000000000000000000001", "1.5e-22",
                                    "8.589", "153.4", "0.1184000000000000000000001", "1.00000005960464477539",
                                    "0.95000000000000000000", "1e400", "-1e400", "1e-400", "-1e-400", "123e-330"};
  std::mt19937_64 random(7);
  for (int i = 0; i < 3000; ++i) {
    std::string t = (random() % 2) ? "-" : "";
    int int_digits = static_cast<int>(random() % 12);
    t += int_digits == 0 ? "0" : std::to_string(1 + random() % 9);
    for (int d = 1; d < int_digits; ++d) t += static_cast<char>('0' + random() % 10);
    if (random() % 3) {
      t += '.';
      for (int d = 0, n = 1 + static_cast<int>(random() % 20); d < n; ++d) t += static_cast<char>('0' + random() % 10);
    }
    if (random() % 3 == 0) t += "e" + std::to_string(static_cast<int>(random() % 80) - 40);
    texts.push_back(t);
  }
  for (const std::string& text : texts) {
    std::optional<float> want = StrtodFloat(text);
    Status status = Parse(R"({"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[[ )" + text + " ]]}]}");
    if (!want) {
      EXPECT_FALSE(status.ok()) << text;
      EXPECT_FALSE(Parse(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[null, )" + text + "]}]}").ok());
      continue;
    }
    ASSERT_TRUE(status.ok()) << text << ": " << status.ToString();
    ASSERT_EQ(request_.inputs[0].numbers.size(), 1u);
    EXPECT_TRUE(SameBits(request_.inputs[0].numbers[0], *want))
        << text << ": keel " << request_.inputs[0].numbers[0] << ", strtod " << *want;
    // The same number beside a null, which the general reader reads.
    ASSERT_TRUE(Parse(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[null, )" + text + "]}]}").ok());
    EXPECT_TRUE(SameBits(request_.inputs[0].numbers[1], *want))
        << text << " beside null: keel " << request_.inputs[0].numbers[1] << ", strtod " << *want;
  }
}

TEST_F(InferRequestTest, NumberArraysWithOtherContentOrBadJsonTakeTheGeneralReader) {
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[ [ 1 ,2 ] ,
                       [3,4]]}]})").ok());
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{1, 2, 3, 4}));
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"x","shape":[2,0],"datatype":"FP32","data":[[],[]]}]})").ok());
  EXPECT_TRUE(request_.inputs[0].numbers.empty());
  // A null after numbers: no number is read twice.
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,null]]}]})").ok());
  ASSERT_EQ(request_.inputs[0].numbers.size(), 4u);
  EXPECT_EQ(request_.inputs[0].numbers[2], 3);
  EXPECT_TRUE(std::isnan(request_.inputs[0].numbers[3]));
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2,"3"]}]})"),
            "inputs[0] 'x'.data[2]: expected a number (datatype FP32), got a string");
  // A number beyond float's range would be an infinite feature, which
  // XGBoost refuses; in parameters, which keel does not read, it is fine.
  for (const char* data : {"[1,-3.5e38,3]", "[[1],[-3.5e38 ],[3]]"}) {
    EXPECT_EQ(ErrorOf(std::string(R"({"inputs":[{"name":"x","shape":[3],"datatype":"FP64","data":)") + data + "}]}"),
              "inputs[0] 'x'.data[1]: -3.5e38 is beyond the range of a float (about ±3.4e38), in which the model "
              "reads features");
  }
  EXPECT_TRUE(Parse(R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"k":1e39}}]})").ok());
  for (const char* bad : {"[1,]", "[1 2]", "[01]", "[1.]", "[-]", "[1e]", "[.5]", "[+1]", "[1,,2]", "[[1],2]]",
                          "[NaN]", "[1e400]", "[0x10]"}) {
    Status status = Parse(std::string(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":)") + bad + "}]}");
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(InferRequestTest, FieldsKeelSkipsMustStillBeWellFormedJson) {
  const std::string input = R"({"name":"x","shape":[1],"datatype":"FP32","data":[1])";
  // Well-formed parameters anywhere are accepted and ignored.
  ASSERT_TRUE(Parse(R"({"parameters":{"a":[1,-2.5e3,"s\n",true,false,null,{}]},"inputs":[)" + input +
                    R"(,"parameters":{"binary_data":false}}],"outputs":[{"name":"probability","parameters":{}}]})")
                  .ok());
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{1}));
  EXPECT_EQ(request_.outputs, (std::vector<std::string>{"probability"}));
  // Malformed JSON inside them is an error naming the field.
  EXPECT_EQ(ErrorOf(R"({"parameters":{"a":[1,2,]},"inputs":[)" + input + "}]}").substr(0, 32),
            "malformed JSON at 'parameters': ");
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + R"(,"parameters":{"k":tru}}]})").substr(0, 44),
            "malformed JSON at inputs[0] 'x'.parameters: ");
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + R"(,"parameters":{"k":01}}]})").substr(0, 44),
            "malformed JSON at inputs[0] 'x'.parameters: ");
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + R"(}],"outputs":[{"name":"p","parameters":"\x"}]})").substr(0, 41),
            "malformed JSON at outputs[0].parameters: ");
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + R"(}],"parameters":)" + std::string(70, '[') + std::string(70, ']') + "}"),
            "'parameters': nested deeper than 64");
  // A field given twice is refused rather than read one way or the other.
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + R"(,"data":[2]}]})"), "inputs[0] 'x': field 'data' given twice");
  EXPECT_EQ(ErrorOf(R"({"inputs":[)" + input + R"(}],"outputs":[{"name":"a","name":"b"}]})"),
            "outputs[0]: field 'name' given twice");
  // data before datatype is read once datatype is known.
  ASSERT_TRUE(Parse(R"({"inputs":[{"data":["a",null],"shape":[2],"name":"c","datatype":"BYTES"}]})").ok());
  ASSERT_EQ(request_.inputs[0].strings.size(), 2u);
  EXPECT_EQ(request_.inputs[0].strings[0], "a");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"data":[1,2,],"shape":[2],"name":"c","datatype":"FP32"}]})").substr(0, 14),
            "malformed JSON");
}

// Number arrays after a key "data" are read before simdjson sees the text
// and blanked in its copy; whatever else stands where such a key appears
// must read as it did.
TEST_F(InferRequestTest, DataArraysReadAheadChangeNothingElse) {
  // "data" in parameters, and a key ending in an escaped quote: checked,
  // ignored, and the input's own data is read.
  ASSERT_TRUE(Parse(R"({"parameters":{"data":[9,8]},"inputs":[{"name":"x","x\"data":[7],"shape":[2],)"
                    R"("datatype":"FP32","parameters":{"data":[[6]]},"data":[1,2]}]})").ok());
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{1, 2}));
  // A string that spells such a key keeps every byte.
  ASSERT_TRUE(Parse(R"({"id":"\"data\": [1, 2] \"data\":[3]","inputs":[{"name":"x","shape":[1],"datatype":"FP32",)"
                    R"("data":[5]}]})").ok());
  EXPECT_EQ(request_.id, R"("data": [1, 2] "data":[3])");
  // The key spelled with an escape takes the general reader.
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","d\u0061ta":[3,4]}]})").ok());
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{3, 4}));
  // Two inputs, data before datatype, nested: each gets its own numbers.
  ASSERT_TRUE(Parse(R"({"inputs":[{"data":[[1,2],[3,4]],"name":"a","shape":[2,2],"datatype":"FP64"},)"
                    R"({"name":"b","shape":[1],"datatype":"INT64","data" : [ 5 ]}]})").ok());
  ASSERT_EQ(request_.input_count, 2u);
  EXPECT_EQ(request_.inputs[0].numbers, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(request_.inputs[1].numbers, (std::vector<float>{5}));
  // Numbers where BYTES are declared, before or after the datatype.
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"c","shape":[1],"datatype":"BYTES","data":[[1]]}]})"),
            "inputs[0] 'c'.data[0]: expected a string (datatype BYTES), got a number");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"data":[1],"name":"c","shape":[1],"datatype":"BYTES"}]})"),
            "inputs[0] 'c'.data[0]: expected a string (datatype BYTES), got a number");
  ASSERT_TRUE(Parse(R"({"inputs":[{"name":"c","shape":[0],"datatype":"BYTES","data":[]}]})").ok());
  EXPECT_TRUE(request_.inputs[0].strings.empty());
  // Documents that are not JSON stay refused whatever the arrays hold (and
  // a null is spelled out).
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"c","shape":[2],"datatype":"BYTES","data":["x",nul]}]})").substr(0, 14),
            "malformed JSON");
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"c","shape":[2],"datatype":"FP32","data":[1,nulx]}]})").substr(0, 14),
            "malformed JSON");
  for (const char* bad : {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1}]})",
                          R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]]}]})",
                          R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]} "data":[2])",
                          R"({"id":"a" "data":[1],"inputs":[]})", R"({"inputs":[{"data":[1] "data":[2]}]})"}) {
    EXPECT_EQ(ErrorOf(bad).substr(0, 14), "malformed JSON") << bad;
  }
}

TEST_F(InferRequestTest, HugeShapesDoNotOverflow) {
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[4294967296,4294967296,16],"datatype":"FP32","data":[1]}]})"),
            "inputs[0] 'x': shape [4294967296,4294967296,16] holds 18446744073709551615 elements but data has 1");
}

// ParseInPlace reads what Parse reads and fails where it fails, with the
// body's own buffer as simdjson's: grown when it lacks the padding, and
// kept at its size.
TEST_F(InferRequestTest, ParsingInPlaceReadsWhatACopyReads) {
  const std::string bodies[] = {
      R"({"id":"r","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1.5,-2,3e2,null]}]})",
      R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP64","data":[1,2]},
                    {"name":"c","shape":[2],"datatype":"BYTES","data":["red","b\"q"]}]})",
      R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"two"]}]})",
      R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]} trailing)",
  };
  for (const std::string& text : bodies) {
    const Status copied = Parse(text);
    const InferRequest expected = request_;
    std::vector<std::vector<std::string>> expected_strings;  // the views die with the next parse
    for (size_t i = 0; i < expected.input_count; ++i)
      expected_strings.emplace_back(expected.inputs[i].strings.begin(), expected.inputs[i].strings.end());
    std::string body = text;
    body.shrink_to_fit();  // no room for the padding: it must grow
    InferRequest request;
    const Status in_place = parser_.ParseInPlace(&body, &request);
    EXPECT_EQ(in_place.code(), copied.code()) << text;
    EXPECT_EQ(in_place.message(), copied.message()) << text;
    EXPECT_EQ(body.size(), text.size());
    if (!copied.ok()) continue;
    EXPECT_EQ(request.id, expected.id);
    ASSERT_EQ(request.input_count, expected.input_count) << text;
    for (size_t i = 0; i < request.input_count; ++i) {
      const InferInput &got = request.inputs[i], &want = expected.inputs[i];
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.shape, want.shape);
      ASSERT_EQ(got.numbers.size(), want.numbers.size());
      for (size_t k = 0; k < got.numbers.size(); ++k) {
        EXPECT_TRUE(got.numbers[k] == want.numbers[k] || (std::isnan(got.numbers[k]) && std::isnan(want.numbers[k])));
      }
      EXPECT_EQ(std::vector<std::string>(got.strings.begin(), got.strings.end()), expected_strings[i]);
    }
  }
}

}  // namespace
}  // namespace keel::serving
