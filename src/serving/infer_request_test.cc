#include "serving/infer_request.h"

#include <cmath>

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

TEST_F(InferRequestTest, HugeShapesDoNotOverflow) {
  EXPECT_EQ(ErrorOf(R"({"inputs":[{"name":"x","shape":[4294967296,4294967296,16],"datatype":"FP32","data":[1]}]})"),
            "inputs[0] 'x': shape [4294967296,4294967296,16] holds 18446744073709551615 elements but data has 1");
}

}  // namespace
}  // namespace keel::serving
