// Trains the head (the last layers) on the device: mini-batch SGD on softmax
// cross-entropy, optional momentum, optional FedProx proximal term, backprop
// only through the head.
//
// Memory contract: every buffer is sized from the plan and the head's widths
// when the trainer is made, either on the heap (Create) or in the app's fixed
// arena (CreateInArena: then Train() allocates nothing, checked by interposing
// malloc on the host and on Cortex-M). Each layer's update is applied in place as
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
#include <memory>
#include <string>
#include <vector>

#include "client/core/arena.h"
#include "client/core/function_ref.h"
#include "client/core/model.h"
#include "client/core/span.h"
#include "client/core/status.h"
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
  // The same bytes into `out` (replacing its contents): no allocation when
  // out.capacity() >= SerializedSize(), e.g. a string reserved at initialization.
  void SerializeTo(std::string& out, const Crypto& crypto) const;
  size_t SerializedSize() const;
  // SerializedSize of a state with `velocity` and `anchor` floats.
  static size_t SerializedSize(size_t velocity, size_t anchor);
  static StatusOr<TrainState> Parse(const std::string& bytes, const Crypto& crypto);
};

// The example order of `epoch` (a permutation of [0, order.size())): a
// Fisher-Yates shuffle from (seed, epoch) alone, so a resumed run sees the
// same order.
void EpochOrder(uint64_t seed, int epoch, Span<int64_t> order);

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

// One layer of a head as the trainer sees it (widths and activation).
struct HeadLayerShape {
  int64_t in = 0;
  int64_t out = 0;
  bool relu = true;
};

// What one trainer needs, in bytes. The "working set" of a training run is
// total(): everything Train() touches besides the examples themselves.
struct TrainerMemory {
  int64_t weights = 0;     // The head being trained (num_params floats).
  int64_t buffers = 0;     // The trainer's own block: activations, deltas, row
                           // pointers, example order, bookkeeping.
  int64_t state = 0;       // TrainState's velocity (momentum) and anchor (FedProx).
  int64_t checkpoint = 0;  // One serialized TrainState (TrainState::SerializeTo).
  int64_t stack = 0;       // Train()'s stack, an upper bound (kTrainStackBytes).
  int64_t total() const { return weights + buffers + state + checkpoint + stack; }
};

// Upper bound of the stack Train() uses below its caller's frame, measured on
// every target by painting the stack (head_trainer_test, tools/cross's
// core_selftest). The largest user is the shuffle's generator (mt19937_64, 2.5 KB).
inline constexpr int64_t kTrainStackBytes = 6 * 1024;

// Not thread-safe (one training at a time). Two ways to own its memory:
// - Create(): a heap block of its own, released with the trainer;
// - CreateInArena(): everything, the trainer object included, carved from the
//   app's Arena at initialization; Train() then allocates nothing at all (with
//   ReserveState for momentum or FedProx). Such a trainer lives as long as the
//   block and is never deleted.
class HeadTrainer {
 public:
  // kInvalidArgument for a malformed head or plan (epochs or batch size < 1,
  // learning rate not finite and > 0, momentum outside [0, 1), proximal mu not
  // finite and >= 0). Buffers grow with the batch size: a plan from outside is
  // checked against the device's ranges first (client/transport/limits.h).
  // Train() on such a trainer allocates the example order (n indices) when n
  // grows, and nothing inside the step loop.
  static StatusOr<std::unique_ptr<HeadTrainer>> Create(const Head& shape,
                                                       const TrainPlan& plan);

  // The trainer in `arena`, for at most `max_examples` examples per Train().
  // kResourceExhausted naming the bytes needed when the arena is too small
  // (the arena may then hold a partial carve: start over with a new Arena).
  static StatusOr<HeadTrainer*> CreateInArena(Span<const HeadLayerShape> shape,
                                              const TrainPlan& plan, int64_t max_examples,
                                              Arena& arena);
  static StatusOr<HeadTrainer*> CreateInArena(const Head& shape, const TrainPlan& plan,
                                              int64_t max_examples, Arena& arena);
  // The arena bytes CreateInArena needs (an upper bound, at any alignment);
  // -1 for a malformed shape.
  static int64_t ArenaBytes(Span<const HeadLayerShape> shape, const TrainPlan& plan,
                            int64_t max_examples);

  // Trains `head` in place on `features` (n x head input, row-major) and
  // labels. kInvalidArgument when shapes disagree with the head or labels are
  // out of range, or when a resumed `state` does not fit this plan, head or data
  // (buffer sizes, positions, non-finite values, correct outside [0,
  // examples_seen]); kResourceExhausted for more examples than an arena trainer
  // was sized for; nothing is trained then. Blocks for the duration of training.
  StatusOr<TrainResult> Train(Head& head, const RowMatrixXf& features,
                              Span<const int32_t> labels, FunctionRef<bool()> may_continue,
                              TrainState& state) {
    if (features.cols() != (num_layers_ > 0 ? layers_[0].in : -1)) {
      return InvalidArgumentError("train: head or data shape differs from the trainer's");
    }
    return Train(head, features.data(), features.rows(), labels, may_continue, state);
  }
  // The same on `rows` examples of contiguous row-major features (the head's
  // input width each).
  StatusOr<TrainResult> Train(Head& head, const float* features, int64_t rows,
                              Span<const int32_t> labels, FunctionRef<bool()> may_continue,
                              TrainState& state);
  // The same on a head stored flat (Head::Flatten's layout, the wire's: each
  // layer's weights column-major, then its bias), e.g. in the app's arena, and
  // on `rows` examples of contiguous row-major features.
  StatusOr<TrainResult> Train(Span<float> params, const float* features, int64_t rows,
                              Span<const int32_t> labels, FunctionRef<bool()> may_continue,
                              TrainState& state);

  // Gives `state` the capacity Train() fills (velocity, anchor), so that a
  // trainer with momentum or FedProx allocates nothing later. Call it at
  // initialization; a no-op for plain SGD.
  void ReserveState(TrainState& state) const;

  // The working set, part by part, and its total.
  TrainerMemory memory() const;
  int64_t working_bytes() const { return memory().total(); }
  const TrainPlan& plan() const { return plan_; }
  int64_t num_params() const { return num_params_; }
  int64_t input_dim() const { return layers_[0].in; }
  // Changes the shuffling seed, so one trainer's buffers serve many clients.
  void set_seed(uint64_t seed) { plan_.seed = seed; }

 private:
  struct LayerRef {
    float* w = nullptr;  // out x in, column-major.
    float* b = nullptr;
  };
  HeadTrainer() = default;
  // Carves every buffer from `arena` (or measures them); false when it ran out.
  bool Layout(Span<const HeadLayerShape> shape, const TrainPlan& plan, int64_t max_examples,
              Arena& arena);
  StatusOr<TrainResult> Run(const float* features, int64_t rows, Span<const int32_t> labels,
                            FunctionRef<bool()> may_continue, TrainState& state);
  void Step(const float* features, Span<const int32_t> labels, const int64_t* idx, int64_t b,
            TrainState& state);
  // Softmax cross-entropy of the logits into delta_a_: (softmax - onehot) / b.
  void LossDelta(Span<const int32_t> labels, const int64_t* idx, int64_t b, TrainState& state);
  void UpdateLayer(int l, int64_t b, float* velocity, const float* anchor);
  const float* const* Rows(int l) const { return rows_ + l * plan_.batch_size; }

  TrainPlan plan_;
  int num_layers_ = 0;
  int64_t num_params_ = 0;
  int64_t max_examples_ = 0;  // Capacity of order_; grows on the heap when owned_.
  HeadLayerShape* layers_ = nullptr;
  int64_t* param_offset_ = nullptr;  // Flat offset of each layer's weights.
  LayerRef* refs_ = nullptr;         // The head being trained (set by Train).
  float** acts_ = nullptr;           // Per layer: B x width after it, row-major.
  float* delta_a_ = nullptr;         // B x widest non-input width, ping-pong ...
  float* delta_b_ = nullptr;         // ... with this one.
  float* transposed_ = nullptr;      // One layer's weights, out x in row-major.
  const float** rows_ = nullptr;     // Row pointers of each layer's input (B each).
  const float** delta_rows_ = nullptr;  // Row pointers of delta_a_ (B).
  int64_t* order_ = nullptr;         // Example order of the current epoch.
  int64_t block_bytes_ = 0;          // What Layout carved.
  // Create()'s own memory (empty for an arena trainer).
  std::unique_ptr<unsigned char[]> owned_;
  std::vector<int64_t> owned_order_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_HEAD_TRAINER_H_
