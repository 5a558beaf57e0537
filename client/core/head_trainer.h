// Trains the head (the last layers) on the device: mini-batch SGD on softmax
// cross-entropy, optional momentum, optional FedProx proximal term, backprop
// only through the head.
//
// Memory contract: Create() sizes every buffer from the plan and the head's
// widths; Train() allocates only the example order (n indices) on entry and
// nothing inside the step loop. Each layer's update is applied in place as
// backpropagation passes it, so no full gradient copy exists: working memory is
// the weights, batch activations, two delta buffers and one transposed copy of
// the largest non-first layer (+ one weight-sized buffer for momentum, + one
// for the proximal anchor). A batch's input rows are read where they lie in
// `features`, not copied.
//
// Speed: the products are dense_kernels.h's register-blocked loops, not a
// general GEMM: at these sizes (e.g. 128 -> 64 -> 10, batch 10) packing and
// dispatch would cost more than the arithmetic. Build with --config=x86_64_v3
// (.bazelrc) for AVX2/FMA on x86; the default build stays portable.
//
// Interruption: `may_continue` is called before every batch; when it returns
// false, Train() returns kIneligible with `state` positioned at the next batch.
// Calling Train() again with the same head, data and state resumes bit-exactly.
#ifndef FEDTINY_CLIENT_CORE_HEAD_TRAINER_H_
#define FEDTINY_CLIENT_CORE_HEAD_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/core/status.h"
#include "client/core/model.h"
#include "client/core/platform.h"

namespace fedtiny::client {

struct TrainPlan {
  int epochs = 1;
  int batch_size = 10;
  float learning_rate = 0.05f;
  float momentum = 0;     // 0: plain SGD.
  float proximal_mu = 0;  // 0: no FedProx term.
  uint64_t seed = 0;      // Shuffling; the same seed gives the same run.
};

// Where training stands; persist it (Serialize) to survive a process restart.
struct TrainState {
  bool started = false;
  int epoch = 0;
  int64_t next_batch = 0;
  int64_t examples_seen = 0;
  double loss_sum = 0;
  int64_t correct = 0;          // Examples predicted right before their batch's step.
  std::vector<float> velocity;  // Momentum buffer (flat, Head::Flatten order).
  std::vector<float> anchor;    // Proximal anchor: the head training started from.

  // Bytes with a SHA-256 trailer; Parse returns kDataLoss for truncated or
  // corrupt input. Parse also reads the format before `correct` existed (magic
  // "FTTS"): such a state resumes with correct = 0, so its run counts only the
  // examples seen after the resumption.
  // The checksum comes through the platform's `crypto`.
  std::string Serialize(const Crypto& crypto) const;
  static StatusOr<TrainState> Parse(const std::string& bytes, const Crypto& crypto);
};

// The example order of `epoch` (a permutation of [0, order.size())): a
// Fisher-Yates shuffle from (seed, epoch) alone, so a resumed run sees the
// same order.
void EpochOrder(uint64_t seed, int epoch, std::vector<int64_t>& order);

enum class StopReason { kCompleted, kIneligible };

struct TrainResult {
  StopReason reason = StopReason::kCompleted;
  int64_t examples_seen = 0;  // Over the whole run, across resumptions.
  double mean_loss = 0;       // Mean training loss over the examples seen.
  // Examples whose prediction (argmax of the logits of the forward pass, before
  // that batch's step; first maximum on ties) equalled the label, over the
  // whole run: a free training-accuracy figure, correct / examples_seen.
  int64_t correct = 0;
};

// Owns its buffers; not thread-safe (one training at a time).
class HeadTrainer {
 public:
  // kInvalidArgument for a malformed head or plan (epochs or batch size < 1,
  // learning rate not finite and > 0, momentum outside [0, 1), proximal mu not
  // finite and >= 0). Buffers grow with the batch size: a plan from outside is
  // checked against the device's ranges first (client/transport/limits.h).
  static StatusOr<std::unique_ptr<HeadTrainer>> Create(const Head& shape,
                                                             const TrainPlan& plan);

  // Trains `head` in place on `features` (n x head input, row-major) and
  // labels. kInvalidArgument when shapes disagree with the head or labels are
  // out of range, or when a resumed `state` does not fit this plan, head or data
  // (buffer sizes, positions, non-finite values, correct outside [0,
  // examples_seen]); nothing is trained then. Blocks for the duration of training.
  StatusOr<TrainResult> Train(Head& head, const RowMatrixXf& features,
                                    Span<const int32_t> labels,
                                    const std::function<bool()>& may_continue, TrainState& state);

  // Bytes of weights + every training buffer (the working set of a step).
  int64_t working_bytes() const;
  const TrainPlan& plan() const { return plan_; }
  // Changes the shuffling seed, so one trainer's buffers serve many clients.
  void set_seed(uint64_t seed) { plan_.seed = seed; }

 private:
  HeadTrainer(const Head& shape, const TrainPlan& plan);
  void Step(Head& head, const RowMatrixXf& features, Span<const int32_t> labels,
            const int64_t* idx, int64_t b, TrainState& state);
  // Softmax cross-entropy of the logits into delta_a_: (softmax - onehot) / b.
  void LossDelta(Span<const int32_t> labels, const int64_t* idx, int64_t b,
                 TrainState& state);
  void UpdateLayer(DenseLayer& layer, int l, int64_t b, float* velocity, const float* anchor);
  const float* const* Rows(int l) const { return rows_.data() + l * plan_.batch_size; }

  TrainPlan plan_;
  std::vector<int64_t> widths_;           // input, hidden..., classes
  std::vector<std::vector<float>> acts_;  // B x width after each layer, row-major
  std::vector<float> delta_a_, delta_b_;  // B x width, ping-pong
  std::vector<float> transposed_;         // One layer's weights, out x in row-major
  std::vector<const float*> rows_;        // Row pointers of each layer's input (B each)
  std::vector<const float*> delta_rows_;  // Row pointers of delta_a_ (B)
  std::vector<int64_t> param_offset_;     // Flat offset of each layer's weights.
  std::vector<int64_t> order_;            // Example order of the current epoch.
  int64_t num_params_ = 0;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_HEAD_TRAINER_H_
