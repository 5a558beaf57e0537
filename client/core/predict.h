// On-device inference (issue #14 item 1): body then head, class probabilities
// and the predicted class, usable without any round, under the trainer's arena
// rules: every buffer is carved from the app's Arena when the Predictor is
// made, and Predict() allocates nothing.
//
// The body runs as it is: float layers with dense_kernels.h's loops, or, for a
// calibrated body of int8 layers only, the integer kernels (Body::FeaturesInto).
// A body mixing float and int8 layers, or an int8 body not yet calibrated, is
// refused at creation (kFailedPrecondition): calibrate it first (Body::Calibrate
// on the device's own examples). The head is any float head, the global one or
// the device's personal head (personalization.h).
//
// Metering (pay-per-query) wraps this call (docs/metering.md), and so does
// telemetry's recorder (client/telemetry/recording_predictor.h), which reads
// features() for its activation probes.
#ifndef FEDTINY_CLIENT_CORE_PREDICT_H_
#define FEDTINY_CLIENT_CORE_PREDICT_H_

#include <cstdint>

#include "client/core/arena.h"
#include "client/core/model.h"
#include "client/core/span.h"
#include "client/core/status.h"

namespace fedtiny::client {

// Borrows the body and the head, which must outlive it and stay unchanged
// while it runs (a head may be retrained between calls: Predict reads its
// weights each time). Lives in the arena it was made in and is never deleted.
// Not thread-safe: one Predict at a time (its buffers are shared).
class Predictor {
 public:
  // A predictor for at most `max_rows` examples per call. kInvalidArgument for
  // a malformed head, a body whose output width differs from the head's input
  // or max_rows < 1; kFailedPrecondition for a mixed or uncalibrated int8 body;
  // kResourceExhausted naming the bytes needed when the arena is too small.
  static StatusOr<Predictor*> Create(const Body& body, const Head& head, int64_t max_rows,
                                     Arena& arena);
  // The arena bytes Create needs (an upper bound at any alignment); -1 when
  // Create would refuse the model.
  static int64_t ArenaBytes(const Body& body, const Head& head, int64_t max_rows);

  // Runs `rows` examples (rows x input_dim floats, row-major). `probabilities`
  // (rows x classes) gets the softmax of the logits, `classes` (rows) the
  // first most probable class; either may be empty (not wanted), otherwise it
  // must hold exactly that many values. kInvalidArgument for a null input, rows
  // outside [1, max_rows] or a wrong-sized output; kFailedPrecondition when the
  // head's shape changed since creation. Allocates nothing (a status's message
  // does, on error).
  Status Predict(const float* inputs, int64_t rows, Span<float> probabilities,
                 Span<int32_t> classes);

  // The body's outputs (the head's inputs) of the last successful Predict:
  // rows x feature_dim() floats, row-major; empty before the first call or
  // after a failed one. For telemetry's activation probes
  // (client/telemetry/recorder.h). Valid until the next Predict; with an empty
  // body they are the caller's inputs, so also only while those live. Costs
  // nothing per call: the body's last layer writes into its own arena buffer
  // (max_rows x feature_dim floats) that the head reads from.
  Span<const float> features() const {
    return Span<const float>(features_out_, static_cast<size_t>(feature_rows_ * feature_dim_));
  }
  int64_t feature_dim() const { return feature_dim_; }

  int64_t input_dim() const { return input_dim_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t max_rows() const { return max_rows_; }
  // Bytes carved from the arena.
  int64_t arena_bytes() const { return arena_bytes_; }

 private:
  Predictor(const Body& body, const Head& head) : body_(body), head_(head) {}
  bool Layout(int64_t max_rows, Arena& arena);
  // One float dense layer over `rows` rows from `in` (row-major, `layer.in()`
  // wide) into `out`.
  void Dense(const DenseLayer& layer, const float* in, int64_t rows, float* out);

  const Body& body_;
  const Head& head_;
  bool int8_body_ = false;
  int64_t input_dim_ = 0;
  int64_t num_classes_ = 0;
  int64_t max_rows_ = 0;
  int64_t max_width_ = 0;
  int64_t feature_dim_ = 0;
  int64_t feature_rows_ = 0;             // Of the last successful call.
  float* features_ = nullptr;            // max_rows x feature_dim; null for an empty body.
  const float* features_out_ = nullptr;  // features_, or the inputs for an empty body.
  int64_t arena_bytes_ = 0;
  // max_rows x the widest layer output (not the input, read in place),
  // alternating layer outputs.
  float* ping_ = nullptr;
  float* pong_ = nullptr;
  const float** rows_ = nullptr;  // max_rows row pointers.
  int8_t* int8_scratch_ = nullptr;
  int64_t int8_scratch_bytes_ = 0;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_PREDICT_H_
