#include "client/core/head_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <random>

#include "client/core/str_cat.h"
#include "client/core/dense_kernels.h"
#include "client/core/byte_io.h"

namespace fedtiny::client {

void EpochOrder(uint64_t seed, int epoch, Span<int64_t> order) {
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  for (size_t i = order.size(); i > 1; --i) {
    const size_t j = rng() % i;
    std::swap(order[i - 1], order[j]);
  }
}

namespace {

Status CheckPlan(const TrainPlan& plan) {
  // Infinity passes "> 0" and ">= 0" and would turn the head into NaN.
  if (plan.epochs < 1 || plan.batch_size < 1 ||
      !(plan.learning_rate > 0 && std::isfinite(plan.learning_rate)) ||
      !(plan.momentum >= 0 && plan.momentum < 1) ||
      !(plan.proximal_mu >= 0 && std::isfinite(plan.proximal_mu))) {
    return InvalidArgumentError(
        "train plan: need epochs >= 1, batch_size >= 1, finite learning_rate > 0, "
        "momentum in [0, 1), finite proximal_mu >= 0");
  }
  return OkStatus();
}

// Consecutive widths agree, every width is positive, the last layer is linear.
bool ValidShape(Span<const HeadLayerShape> shape) {
  if (shape.empty() || shape[shape.size() - 1].relu) return false;
  for (size_t l = 0; l < shape.size(); ++l) {
    if (shape[l].in < 1 || shape[l].out < 1) return false;
    if (l > 0 && shape[l].in != shape[l - 1].out) return false;
  }
  return true;
}

// A head's shape without allocating: at most this many layers in an arena
// trainer made from a Head (the flat form takes any number).
constexpr size_t kMaxHeadLayers = 16;

Span<const HeadLayerShape> ShapeOf(const Head& head, HeadLayerShape (&out)[kMaxHeadLayers]) {
  if (head.layers.size() > kMaxHeadLayers) return {};
  for (size_t l = 0; l < head.layers.size(); ++l) {
    out[l] = {head.layers[l].in(), head.layers[l].out(), head.layers[l].relu};
  }
  return Span<const HeadLayerShape>(out, head.layers.size());
}

// x = a * x + c * (y - z) over n floats (z may be null: y alone).
void Blend(float* x, float a, float c, const float* y, const float* z, int64_t n) {
  for (int64_t k = 0; k < n; ++k) x[k] = a * x[k] + c * (z ? y[k] - z[k] : y[k]);
}

}  // namespace

bool HeadTrainer::Layout(Span<const HeadLayerShape> shape, const TrainPlan& plan,
                         int64_t max_examples, Arena& arena) {
  const size_t before = arena.used();
  plan_ = plan;
  num_layers_ = static_cast<int>(shape.size());
  max_examples_ = max_examples;
  const size_t nl = shape.size();
  const int64_t b = plan.batch_size;
  int64_t offset = 0, max_transposed = 0, max_width = 1;
  for (size_t l = 0; l < nl; ++l) {
    offset += shape[l].in * shape[l].out + shape[l].out;
    // Deltas exist for every layer's output and for the inputs of layers after
    // the first (the head's own input needs none).
    max_width = std::max(max_width, shape[l].out);
    if (l > 0) {
      max_transposed = std::max(max_transposed, shape[l].in * shape[l].out);
      max_width = std::max(max_width, shape[l].in);
    }
  }
  num_params_ = offset;
  layers_ = arena.Allocate<HeadLayerShape>(nl);
  param_offset_ = arena.Allocate<int64_t>(nl);
  refs_ = arena.Allocate<LayerRef>(nl);
  acts_ = arena.Allocate<float*>(nl);
  for (size_t l = 0; l < nl; ++l) {
    float* act = arena.Allocate<float>(static_cast<size_t>(b * shape[l].out));
    if (acts_ != nullptr) acts_[l] = act;
  }
  delta_a_ = arena.Allocate<float>(static_cast<size_t>(b * max_width));
  delta_b_ = arena.Allocate<float>(static_cast<size_t>(b * max_width));
  transposed_ = arena.Allocate<float>(static_cast<size_t>(max_transposed));
  rows_ = arena.Allocate<const float*>(static_cast<size_t>(b) * nl);
  delta_rows_ = arena.Allocate<const float*>(static_cast<size_t>(b));
  order_ = arena.Allocate<int64_t>(static_cast<size_t>(max_examples));
  block_bytes_ = static_cast<int64_t>(arena.used() - before);
  if (arena.failed()) return false;
  offset = 0;
  for (size_t l = 0; l < nl; ++l) {
    layers_[l] = shape[l];
    param_offset_[l] = offset;
    offset += shape[l].in * shape[l].out + shape[l].out;
  }
  return true;
}

int64_t HeadTrainer::ArenaBytes(Span<const HeadLayerShape> shape, const TrainPlan& plan,
                                int64_t max_examples) {
  if (!ValidShape(shape) || !CheckPlan(plan).ok() || max_examples < 0) return -1;
  Arena measuring = Arena::Measuring();
  measuring.AllocateBytes(sizeof(HeadTrainer), alignof(HeadTrainer));
  HeadTrainer probe;
  probe.Layout(shape, plan, max_examples, measuring);
  return static_cast<int64_t>(measuring.used());
}

StatusOr<std::unique_ptr<HeadTrainer>> HeadTrainer::Create(const Head& shape,
                                                           const TrainPlan& plan) {
  CLIENT_RETURN_IF_ERROR(shape.Validate());
  CLIENT_RETURN_IF_ERROR(CheckPlan(plan));
  HeadLayerShape layers[kMaxHeadLayers];
  std::vector<HeadLayerShape> many;
  Span<const HeadLayerShape> s = ShapeOf(shape, layers);
  if (s.empty()) {
    for (const DenseLayer& l : shape.layers) many.push_back({l.in(), l.out(), l.relu});
    s = many;
  }
  std::unique_ptr<HeadTrainer> t(new HeadTrainer());
  Arena measuring = Arena::Measuring();
  t->Layout(s, plan, 0, measuring);
  // The block starts on a 64-byte boundary, so each array in it sits at the
  // same offset from a cache line whatever address the heap returned.
  // Vectorized reductions peel up to an aligned address, so that offset
  // decides their rounding (with AVX's 32-byte packets): fixed, a device's
  // update is bit-identical in every process (sim/mpi_distribution.h).
  constexpr size_t kBlockAlign = 64;
  size_t space = measuring.used() + kBlockAlign;
  t->owned_.reset(new unsigned char[space]);
  void* base = t->owned_.get();
  std::align(kBlockAlign, measuring.used(), base, space);
  Arena own(static_cast<unsigned char*>(base), measuring.used());
  if (!t->Layout(s, plan, 0, own)) return InternalError("train: layout exceeded its measure");
  return t;
}

StatusOr<HeadTrainer*> HeadTrainer::CreateInArena(Span<const HeadLayerShape> shape,
                                                  const TrainPlan& plan, int64_t max_examples,
                                                  Arena& arena) {
  if (!ValidShape(shape)) {
    return InvalidArgumentError(
        "head: needs layers whose widths are positive and agree, the last one linear");
  }
  CLIENT_RETURN_IF_ERROR(CheckPlan(plan));
  if (max_examples < 0) return InvalidArgumentError("train: max_examples < 0");
  const size_t free_bytes = arena.capacity() - arena.used();
  void* at = arena.AllocateBytes(sizeof(HeadTrainer), alignof(HeadTrainer));
  HeadTrainer* t = at ? new (at) HeadTrainer() : nullptr;
  if (t == nullptr || !t->Layout(shape, plan, max_examples, arena)) {
    return ResourceExhaustedError(StrCat("train: the arena has ", free_bytes,
                                         " bytes free; the trainer needs ",
                                         ArenaBytes(shape, plan, max_examples)));
  }
  return t;
}

StatusOr<HeadTrainer*> HeadTrainer::CreateInArena(const Head& shape, const TrainPlan& plan,
                                                  int64_t max_examples, Arena& arena) {
  CLIENT_RETURN_IF_ERROR(shape.Validate());
  HeadLayerShape layers[kMaxHeadLayers];
  Span<const HeadLayerShape> s = ShapeOf(shape, layers);
  if (s.empty()) {
    return InvalidArgumentError(StrCat("train: an arena trainer from a Head takes at most ",
                                       kMaxHeadLayers, " layers (the flat form takes any)"));
  }
  return CreateInArena(s, plan, max_examples, arena);
}

void HeadTrainer::ReserveState(TrainState& state) const {
  if (plan_.momentum > 0) state.velocity.reserve(static_cast<size_t>(num_params_));
  if (plan_.proximal_mu > 0) state.anchor.reserve(static_cast<size_t>(num_params_));
}

TrainerMemory HeadTrainer::memory() const {
  TrainerMemory m;
  m.weights = num_params_ * static_cast<int64_t>(sizeof(float));
  m.buffers = block_bytes_ + static_cast<int64_t>(sizeof(HeadTrainer)) +
              static_cast<int64_t>(owned_order_.capacity() * sizeof(int64_t));
  const size_t velocity = plan_.momentum > 0 ? static_cast<size_t>(num_params_) : 0;
  const size_t anchor = plan_.proximal_mu > 0 ? static_cast<size_t>(num_params_) : 0;
  m.state = static_cast<int64_t>((velocity + anchor) * sizeof(float));
  m.checkpoint = static_cast<int64_t>(TrainState::SerializedSize(velocity, anchor));
  m.stack = kTrainStackBytes;
  return m;
}

// Applies one layer's update in place: W -= lr * (dZ^T A + mu (W - W0)), with
// momentum folded in; dZ is in delta_a_ (b x out), A the layer's input rows.
void HeadTrainer::UpdateLayer(int l, int64_t b, float* velocity, const float* anchor) {
  const float lr = plan_.learning_rate, mu = plan_.proximal_mu;
  const int64_t in = layers_[l].in, out = layers_[l].out, nw = in * out;
  float* w = refs_[l].w;
  float* bias = refs_[l].b;
  if (velocity == nullptr) {
    if (anchor != nullptr) {
      Blend(w, 1.f, -lr * mu, w, anchor, nw);
      Blend(bias, 1.f, -lr * mu, bias, anchor + nw, out);
    }
    AccumulateOuter(Rows(l), b, in, delta_a_, out, -lr, w);
    AccumulateColumnSums(delta_a_, b, out, -lr, bias);
    return;
  }
  // v = momentum * v + g (+ mu (W - W0)); W -= lr * v.
  Blend(velocity, plan_.momentum, 0.f, velocity, nullptr, nw + out);
  AccumulateOuter(Rows(l), b, in, delta_a_, out, 1.f, velocity);
  AccumulateColumnSums(delta_a_, b, out, 1.f, velocity + nw);
  if (anchor != nullptr) {
    Blend(velocity, 1.f, mu, w, anchor, nw);
    Blend(velocity + nw, 1.f, mu, bias, anchor + nw, out);
  }
  Blend(w, 1.f, -lr, velocity, nullptr, nw);
  Blend(bias, 1.f, -lr, velocity + nw, nullptr, out);
}

void HeadTrainer::LossDelta(Span<const int32_t> labels, const int64_t* idx, int64_t b,
                            TrainState& state) {
  const int64_t classes = layers_[num_layers_ - 1].out;
  const float* logits = acts_[num_layers_ - 1];
  float* dz = delta_a_;
  float* shift = delta_b_;  // Free until backpropagation: each row's maximum.
  for (int64_t r = 0; r < b; ++r) {
    const float* z = logits + r * classes;
    const int64_t arg = std::max_element(z, z + classes) - z;  // The first maximum.
    shift[r] = z[arg];
    state.correct += arg == labels[idx[r]];
    for (int64_t c = 0; c < classes; ++c) dz[r * classes + c] = z[c] - shift[r];
  }
  // One vectorized exp over the whole b x classes block.
  Eigen::Map<Eigen::ArrayXf> e(dz, b * classes);
  e = e.exp();
  const float inv_b = 1.f / static_cast<float>(b);
  for (int64_t r = 0; r < b; ++r) {
    float* row = dz + r * classes;
    float sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += row[c];
    const int32_t y = labels[idx[r]];
    state.loss_sum += std::log(sum) - (logits[r * classes + y] - shift[r]);
    const float scale = 1.f / (sum * static_cast<float>(b));
    for (int64_t c = 0; c < classes; ++c) row[c] *= scale;
    row[y] -= inv_b;
  }
}

void HeadTrainer::Step(const float* features, Span<const int32_t> labels, const int64_t* idx,
                       int64_t b, TrainState& state) {
  const int64_t bs = plan_.batch_size;
  const int64_t cols = layers_[0].in;
  for (int64_t r = 0; r < b; ++r) rows_[r] = features + idx[r] * cols;
  // Forward; each layer's output rows are the next one's input rows.
  for (int l = 0; l < num_layers_; ++l) {
    const HeadLayerShape& layer = layers_[l];
    float* out = acts_[l];
    DenseForward(Rows(l), b, layer.in, refs_[l].w, layer.out, refs_[l].b, layer.relu, out);
    if (l + 1 < num_layers_) {
      for (int64_t r = 0; r < b; ++r) rows_[(l + 1) * bs + r] = out + r * layer.out;
    }
  }
  LossDelta(labels, idx, b, state);
  // Backward, updating each layer in place once its input delta is formed.
  for (int l = num_layers_ - 1; l >= 0; --l) {
    const HeadLayerShape& layer = layers_[l];
    if (l > 0) {
      // dA = dZ W, through W^T so that the product runs along contiguous rows.
      Transpose(refs_[l].w, layer.in, layer.out, transposed_);
      for (int64_t r = 0; r < b; ++r) delta_rows_[r] = delta_a_ + r * layer.out;
      float* prev = delta_b_;
      DenseForward(delta_rows_, b, layer.out, transposed_, layer.in, nullptr, false, prev);
      // ReLU derivative of the previous layer's output.
      const float* a = acts_[l - 1];
      for (int64_t k = 0; k < b * layer.in; ++k) prev[k] = a[k] > 0.f ? prev[k] : 0.f;
    }
    float* velocity = state.velocity.empty() ? nullptr : state.velocity.data() + param_offset_[l];
    const float* anchor = state.anchor.empty() ? nullptr : state.anchor.data() + param_offset_[l];
    UpdateLayer(l, b, velocity, anchor);
    if (l > 0) std::swap(delta_a_, delta_b_);
  }
  state.examples_seen += b;
}

StatusOr<TrainResult> HeadTrainer::Train(Head& head, const float* features, int64_t rows,
                                         Span<const int32_t> labels,
                                         FunctionRef<bool()> may_continue, TrainState& state) {
  bool same = static_cast<int>(head.layers.size()) == num_layers_;
  for (int l = 0; same && l < num_layers_; ++l) {
    const DenseLayer& d = head.layers[static_cast<size_t>(l)];
    same = d.in() == layers_[l].in && d.out() == layers_[l].out && d.b.size() == d.out() &&
           d.relu == layers_[l].relu;
  }
  if (!same || (features == nullptr && rows > 0)) {
    return InvalidArgumentError("train: head or data shape differs from the trainer's");
  }
  for (int l = 0; l < num_layers_; ++l) {
    refs_[l] = {head.layers[static_cast<size_t>(l)].w.data(),
                head.layers[static_cast<size_t>(l)].b.data()};
  }
  return Run(features, rows, labels, may_continue, state);
}

StatusOr<TrainResult> HeadTrainer::Train(Span<float> params, const float* features,
                                         int64_t rows, Span<const int32_t> labels,
                                         FunctionRef<bool()> may_continue, TrainState& state) {
  if (static_cast<int64_t>(params.size()) != num_params_ || (features == nullptr && rows > 0)) {
    return InvalidArgumentError(StrCat("train: the flat head has ", params.size(),
                                       " parameters; the trainer's has ", num_params_));
  }
  for (int l = 0; l < num_layers_; ++l) {
    float* w = params.data() + param_offset_[l];
    refs_[l] = {w, w + layers_[l].in * layers_[l].out};
  }
  return Run(features, rows, labels, may_continue, state);
}

StatusOr<TrainResult> HeadTrainer::Run(const float* features, int64_t n,
                                       Span<const int32_t> labels,
                                       FunctionRef<bool()> may_continue, TrainState& state) {
  const int64_t classes = layers_[num_layers_ - 1].out;
  if (n < 0 || n != static_cast<int64_t>(labels.size())) {
    return InvalidArgumentError("train: head or data shape differs from the trainer's");
  }
  // Before any array is read: a caller's n may exceed what it holds.
  if (n > max_examples_) {
    if (!owned_) {
      return ResourceExhaustedError(StrCat("train: ", n, " examples; this arena trainer holds ",
                                           max_examples_));
    }
    owned_order_.resize(static_cast<size_t>(n));
    order_ = owned_order_.data();
    max_examples_ = n;
  }
  for (int32_t y : labels) {
    if (y < 0 || y >= classes) {
      return InvalidArgumentError(StrCat("train: label ", y, " out of range"));
    }
  }
  if (!state.started) {
    // Field by field, so that the buffers ReserveState gave keep their capacity.
    state.started = true;
    state.epoch = 0;
    state.next_batch = 0;
    state.examples_seen = 0;
    state.loss_sum = 0;
    state.correct = 0;
    state.velocity.clear();
    state.anchor.clear();
    if (plan_.momentum > 0) state.velocity.assign(static_cast<size_t>(num_params_), 0.f);
    if (plan_.proximal_mu > 0) {
      state.anchor.resize(static_cast<size_t>(num_params_));
      for (int l = 0; l < num_layers_; ++l) {
        const int64_t nw = layers_[l].in * layers_[l].out;
        float* dst = state.anchor.data() + param_offset_[l];
        std::copy(refs_[l].w, refs_[l].w + nw, dst);
        std::copy(refs_[l].b, refs_[l].b + layers_[l].out, dst + nw);
      }
    }
  }
  const int64_t bs = plan_.batch_size;
  const int64_t batches = (n + bs - 1) / bs;
  // A resumed state comes from a file: it must fit this trainer and this data,
  // or Step would read past its buffers.
  const auto sized = [this](const std::vector<float>& v, bool used) {
    return used ? static_cast<int64_t>(v.size()) == num_params_ : v.empty();
  };
  const auto finite = [](const std::vector<float>& v) {
    return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
  };
  if (state.epoch < 0 || state.epoch > plan_.epochs || state.next_batch < 0 ||
      state.next_batch > batches || state.examples_seen < 0 || state.correct < 0 ||
      state.correct > state.examples_seen || !std::isfinite(state.loss_sum) ||
      !sized(state.velocity, plan_.momentum > 0) || !sized(state.anchor, plan_.proximal_mu > 0) ||
      !finite(state.velocity) || !finite(state.anchor)) {
    return InvalidArgumentError("train: the resumed state does not fit this plan, head or data");
  }
  const Span<int64_t> order(order_, static_cast<size_t>(n));
  TrainResult result;
  for (; state.epoch < plan_.epochs; ++state.epoch, state.next_batch = 0) {
    EpochOrder(plan_.seed, state.epoch, order);
    for (; state.next_batch < batches; ++state.next_batch) {
      if (!may_continue()) {
        result.reason = StopReason::kIneligible;
        break;
      }
      const int64_t start = state.next_batch * bs;
      Step(features, labels, order.data() + start, std::min(bs, n - start), state);
    }
    if (result.reason == StopReason::kIneligible) break;
  }
  result.examples_seen = state.examples_seen;
  result.mean_loss = state.examples_seen ? state.loss_sum / state.examples_seen : 0;
  result.correct = state.correct;
  return result;
}

namespace {

// "FTTS": the first format; "FTS2" adds `correct` after `loss_sum`.
constexpr std::string_view kLegacyMagic = "FTTS";
constexpr std::string_view kMagic = "FTS2";

}  // namespace

size_t TrainState::SerializedSize(size_t velocity, size_t anchor) {
  return kMagic.size() + sizeof(uint8_t) + sizeof(epoch) + sizeof(next_batch) +
         sizeof(examples_seen) + sizeof(loss_sum) + sizeof(correct) +
         2 * sizeof(uint64_t) + (velocity + anchor) * sizeof(float) + Crypto::kSha256Bytes;
}

size_t TrainState::SerializedSize() const {
  return SerializedSize(velocity.size(), anchor.size());
}

void TrainState::SerializeTo(std::string& out, const Crypto& crypto) const {
  out.clear();
  out.append(kMagic.data(), kMagic.size());
  PutValue(out, static_cast<uint8_t>(started));
  PutValue(out, epoch);
  PutValue(out, next_batch);
  PutValue(out, examples_seen);
  PutValue(out, loss_sum);
  PutValue(out, correct);
  PutFloats(out, velocity);
  PutFloats(out, anchor);
  AppendSha256Trailer(out, crypto);
}

std::string TrainState::Serialize(const Crypto& crypto) const {
  std::string out;
  out.reserve(SerializedSize());
  SerializeTo(out, crypto);
  return out;
}

StatusOr<TrainState> TrainState::Parse(const std::string& bytes, const Crypto& crypto) {
  StatusOr<std::string_view> body = VerifySha256Trailer(bytes, "train state", crypto);
  if (!body.ok()) return body.status();
  const std::string_view magic = body->substr(0, 4);
  if (magic != kMagic && magic != kLegacyMagic) {
    return DataLossError("train state: not a train state");
  }
  ByteReader r(body->substr(4));
  TrainState s;
  uint8_t started = 0;
  if (!r.Get(started) || !r.Get(s.epoch) || !r.Get(s.next_batch) || !r.Get(s.examples_seen) ||
      !r.Get(s.loss_sum) || (magic == kMagic && !r.Get(s.correct)) || !r.GetFloats(s.velocity) ||
      !r.GetFloats(s.anchor) || !r.AtEnd()) {
    return DataLossError("train state: malformed body");
  }
  s.started = started != 0;
  return s;
}

}  // namespace fedtiny::client
