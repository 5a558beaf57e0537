// A device's part of a round, one function for the device (client::Participant)
// and the simulator alike: pick the head (IFCA: the lowest local loss when the
// assignment carries several), train a copy of it with the caller's trainer,
// take the delta (trained - received, in Head::Flatten order), refuse a
// non-finite one, clip it to the plan's norm, and name the metrics to report.
#ifndef FEDTINY_CLIENT_CORE_ROUND_H_
#define FEDTINY_CLIENT_CORE_ROUND_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "client/core/function_ref.h"
#include "client/core/status.h"
#include "client/core/span.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"

namespace fedtiny::client {

// What the caller's trainer did with one head (trained in place).
struct LocalTraining {
  bool completed = true;    // false: stopped (device no longer eligible); resumable.
  std::string why_stopped;  // When !completed.
  TrainResult result;
};

// Trains `head` (a copy of heads[cluster]) in place. The device trains through
// its checkpointed TrainingJob; the simulator through a reused HeadTrainer.
using TrainFn = FunctionRef<StatusOr<LocalTraining>(int cluster, Head& head)>;

struct DeviceUpdate {
  bool completed = true;    // false: paused; nothing to upload yet.
  std::string why_stopped;
  int cluster = 0;
  int64_t example_count = 0;
  std::vector<float> delta;  // Clipped; empty when !completed.
  // Example-weighted metrics the server averages: "train_loss" (mean loss over
  // the training steps) and "train_accuracy" (fraction of examples the head
  // classified right at their forward pass, before that batch's step).
  std::vector<std::pair<std::string, double>> metrics;
};

// kInvalidArgument for no heads or shapes that disagree; kInvalidArgument for a
// diverged (non-finite) update; the trainer's errors as they are.
StatusOr<DeviceUpdate> RunRound(const std::vector<Head>& heads, const RowMatrixXf& features,
                                      Span<const int32_t> labels, double clip_norm,
                                      TrainFn train);

// trained - start in Head::Flatten order, into `delta` (resized). Both heads
// have the same shape.
void HeadDelta(const Head& trained, const Head& start, std::vector<float>& delta);

// Scales `delta` down to L2 norm `max_norm` when it is longer (0: no bound).
void ClipToNorm(std::vector<float>& delta, double max_norm);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_ROUND_H_
