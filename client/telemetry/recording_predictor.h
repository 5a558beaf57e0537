// A Predictor (client/core/predict.h) that records each call into a telemetry
// Recorder: its wall time on the platform's monotonic clock, the predicted
// classes, the body's outputs (Predictor::features), the multiply-adds for
// the energy model and the arena and stack bytes. Costs two clock reads and
// one Recorder::RecordInference per call (docs/benchmarks.md, "Telemetry");
// allocates nothing per call.
//
// Not thread-safe (as the Predictor). Borrows the predictor, the recorder and
// the clock, which must outlive it.
#ifndef FEDTINY_CLIENT_TELEMETRY_RECORDING_PREDICTOR_H_
#define FEDTINY_CLIENT_TELEMETRY_RECORDING_PREDICTOR_H_

#include <cstdint>
#include <vector>

#include "client/core/model.h"
#include "client/core/platform.h"
#include "client/core/predict.h"
#include "client/core/span.h"
#include "client/core/status.h"
#include "client/telemetry/recorder.h"

namespace fedtiny::client::telemetry {

// MacsPerRow counts the multiply-adds of one example through the body and the
// head (in x out per dense layer, float or int8).
int64_t MacsPerRow(const Body& body, const Head& head);

class RecordingPredictor {
 public:
  // `stack_bytes`: the app's bound or measure of the stack Predict uses (for
  // PEAK_STACK_BYTES; 0 = unknown).
  RecordingPredictor(Predictor& predictor, Recorder& recorder, Clock& clock,
                     int64_t macs_per_row, int64_t stack_bytes = 0);

  // Predict runs Predictor::Predict (its contract and codes) and records the
  // call when it succeeds. When `classes` is empty the classes go to a buffer
  // of its own (sized at construction), for the class histogram.
  Status Predict(const float* inputs, int64_t rows, Span<float> probabilities,
                 Span<int32_t> classes);

  Predictor& predictor() { return predictor_; }

 private:
  Predictor& predictor_;
  Recorder& recorder_;
  Clock& clock_;
  const int64_t macs_per_row_;
  const int64_t stack_bytes_;
  std::vector<int32_t> classes_;  // max_rows, when the caller wants none.
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_RECORDING_PREDICTOR_H_
