#include "client/telemetry/recording_predictor.h"

#include <variant>

namespace fedtiny::client::telemetry {

int64_t MacsPerRow(const Body& body, const Head& head) {
  int64_t macs = 0;
  for (const BodyLayer& l : body.layers()) {
    macs += std::visit([](const auto& d) { return d.in() * d.out(); }, l);
  }
  for (const DenseLayer& l : head.layers) macs += l.in() * l.out();
  return macs;
}

RecordingPredictor::RecordingPredictor(Predictor& predictor, Recorder& recorder,
                                       Clock& clock, int64_t macs_per_row,
                                       int64_t stack_bytes)
    : predictor_(predictor),
      recorder_(recorder),
      clock_(clock),
      macs_per_row_(macs_per_row),
      stack_bytes_(stack_bytes),
      classes_(static_cast<size_t>(predictor.max_rows())) {}

Status RecordingPredictor::Predict(const float* inputs, int64_t rows,
                                   Span<float> probabilities,
                                   Span<int32_t> classes) {
  if (!recorder_.enabled())
    return predictor_.Predict(inputs, rows, probabilities, classes);
  if (classes.empty() && rows >= 1 && rows <= predictor_.max_rows()) {
    classes = Span<int32_t>(classes_.data(), static_cast<size_t>(rows));
  }
  const int64_t start = clock_.NowMicros();
  CLIENT_RETURN_IF_ERROR(
      predictor_.Predict(inputs, rows, probabilities, classes));
  Inference call;
  call.end_monotonic_us = clock_.NowMicros();
  call.latency_us = call.end_monotonic_us - start;
  call.classes = Span<const int32_t>(classes.data(), classes.size());
  call.features = predictor_.features();
  call.feature_dim = predictor_.feature_dim();
  call.macs = macs_per_row_ * rows;
  call.arena_bytes = predictor_.arena_bytes();
  call.stack_bytes = stack_bytes_;
  recorder_.RecordInference(call);
  return OkStatus();
}

}  // namespace fedtiny::client::telemetry
