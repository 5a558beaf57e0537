// The model's author in the telemetry fleet simulator: trains a 784-128 body
// + 128-64-10 head briefly on Fashion-MNIST (the real client trainer,
// client/core/head_trainer.h, over the whole network), then writes the
// TelemetrySpec devices record against, with references measured on
// held-out clean images through the same model:
//   - "class": PREDICTED_CLASS over the 10 classes;
//   - "act_<unit>": ACTIVATION probes for the body outputs of highest variance
//     on the clean images, bins at the deciles of their clean values;
//   - "latency_us": INFERENCE_LATENCY_US, log-spaced bins, no reference.
// The drift probes get `drift_epsilon` each, the latency `latency_epsilon`;
// daily_epsilon is their sum and the window one UTC day, so each device's one
// report a day fits its budget exactly.
//
// Free functions; thread-safe.
#ifndef FEDTINY_SIM_TELEMETRY_MODEL_AUTHOR_H_
#define FEDTINY_SIM_TELEMETRY_MODEL_AUTHOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "client/core/model.h"
#include "proto/telemetry.pb.h"
#include "sim/fashion_mnist.h"

namespace fedtiny::sim::telemetry {

struct AuthorOptions {
  int train_examples = 12000;  // The first rows of the training set.
  int epochs = 2;
  // Reference images: the last rows of the training set (never trained on).
  int reference_examples = 10000;
  int activation_probes = 2;
  int activation_bins = 10;
  double drift_epsilon = 2;
  double latency_epsilon = 0.5;
  uint64_t seed = 1;
};

struct AuthoredModel {
  client::Body body;
  client::Head head;
  fedtiny::telemetry::TelemetrySpec spec;
  double test_accuracy = 0;  // On the 10,000 clean test images.
};

// TrainAndAuthor trains the model and writes its spec. kInvalidArgument for
// options the data cannot serve; the trainer's codes otherwise.
absl::StatusOr<AuthoredModel> TrainAndAuthor(const FashionMnist& data,
                                             const AuthorOptions& options);

// QuantileBinning bins `values` (non-empty) at up to bins - 1 strictly
// increasing cuts, the quantiles j / bins (ties merged; a cut at the minimum
// moves just above it, so a ReLU's zeros fill bin 0 alone; a cut that would
// leave an empty bin is skipped), plus an outer edge on each side.
fedtiny::telemetry::Binning QuantileBinning(std::vector<float> values,
                                            int bins);

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_MODEL_AUTHOR_H_
