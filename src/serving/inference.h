// One V2 inference: parse the request, route it to a version, predict, write
// the response. Independent of HTTP: the server passes bodies in and out.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "serving/deployments.h"
#include "serving/infer_request.h"

namespace keel::serving {

// Buffers one thread or connection reuses from request to request, so a
// steady stream of requests allocates nothing.
struct InferScratch {
  InferRequestParser parser;
  InferRequest request;
  std::vector<float> features;
  std::vector<float> outputs;
  std::vector<float> shadow_features;
  std::vector<float> shadow_outputs;
  uint64_t random_state = 0x9e3779b97f4a7c15ULL;  // for canary routing of requests without an id
};

struct InferTarget {
  std::string_view model;
  std::string_view version;  // empty: the route decides (primary or canary)
};

// Runs the request in `body` against `routes` and writes the response body
// into `response` (cleared first; its capacity is reused). The body is
// parsed in place (InferRequestParser::ParseInPlace), which changes it.
// `served` is set to the version that answered, or, when the request fails,
// to the version it counts against (the one asked for, else the route's
// primary), so its counters can be updated; null when no route matched.
// Errors: kNotFound (unknown model or version), kUnavailable (not ready),
// kInvalidArgument (the request; the message names the field or input).
Status Infer(const Routes& routes, const InferTarget& target, std::string* body, InferScratch* scratch,
             std::string* response, std::shared_ptr<const ServedModel>* served);

// Infer's first half: parses and routes the request and writes its features
// into scratch->features; returns the row count. `served` and the errors as
// for Infer. The second half is CompleteInference, or the version's batcher
// and WriteInferResponse.
Result<size_t> PrepareInference(const Routes& routes, const InferTarget& target, std::string* body,
                                InferScratch* scratch, std::shared_ptr<const ServedModel>* served);

// Infer's second half, without a batcher: predicts the prepared rows into
// scratch->outputs, appends the response to `response`, and runs the
// route's shadow, if any.
Status CompleteInference(const Routes& routes, const InferTarget& target, const ServedModel& model, size_t rows,
                         InferScratch* scratch, std::string* response);

// Appends the response body for `rows` rows of `outputs` (rows x
// OutputWidth() as the model predicted them); `outputs_wanted` empty: all.
void WriteInferResponse(const ServedModel& model, bool has_id, std::string_view id,
                        const std::vector<std::string>& outputs_wanted, size_t rows, std::span<const float> outputs,
                        std::string* out);

// Writes the shadow's features for a request the primary read as `rows`
// rows into `features`; an error when the shadow reads it otherwise.
Status PrepareShadow(const ServedModel& shadow, const InferRequest& request, size_t rows,
                     std::vector<float>* features);

// Counts the rows where the shadow's outputs disagree with the primary's
// (the predicted class, or the value of a regression).
void CompareShadow(const ServedModel& shadow, const ServedModel& primary, size_t rows,
                   std::span<const float> primary_outputs, std::span<const float> shadow_outputs);

// The canary gets `percent` of requests: by a hash of the request id when
// there is one (the same id always goes the same way), else at random.
bool RouteToCanary(const InferRequest& request, int percent, uint64_t* random_state);

// Appends `text` as a JSON string literal.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace keel::serving
