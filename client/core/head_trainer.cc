#include "client/core/head_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "client/core/str_cat.h"
#include "client/core/dense_kernels.h"
#include "client/core/byte_io.h"

namespace fedtiny::client {

void EpochOrder(uint64_t seed, int epoch, std::vector<int64_t>& order) {
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  for (size_t i = order.size(); i > 1; --i) {
    const size_t j = rng() % i;
    std::swap(order[i - 1], order[j]);
  }
}

StatusOr<std::unique_ptr<HeadTrainer>> HeadTrainer::Create(const Head& shape,
                                                                 const TrainPlan& plan) {
  Status valid = shape.Validate();
  if (!valid.ok()) return valid;
  // Infinity passes "> 0" and ">= 0" and would turn the head into NaN.
  if (plan.epochs < 1 || plan.batch_size < 1 ||
      !(plan.learning_rate > 0 && std::isfinite(plan.learning_rate)) ||
      !(plan.momentum >= 0 && plan.momentum < 1) ||
      !(plan.proximal_mu >= 0 && std::isfinite(plan.proximal_mu))) {
    return InvalidArgumentError(
        "train plan: need epochs >= 1, batch_size >= 1, finite learning_rate > "
        "0, "
        "momentum in [0, 1), finite proximal_mu >= 0");
  }
  return std::unique_ptr<HeadTrainer>(new HeadTrainer(shape, plan));
}

HeadTrainer::HeadTrainer(const Head& shape, const TrainPlan& plan) : plan_(plan) {
  widths_.push_back(shape.input_dim());
  int64_t offset = 0, max_transposed = 0;
  for (size_t l = 0; l < shape.layers.size(); ++l) {
    const DenseLayer& layer = shape.layers[l];
    widths_.push_back(layer.out());
    param_offset_.push_back(offset);
    offset += layer.w.size() + layer.b.size();
    if (l > 0) max_transposed = std::max<int64_t>(max_transposed, layer.w.size());
  }
  num_params_ = offset;
  const int64_t b = plan.batch_size;
  for (size_t l = 1; l < widths_.size(); ++l) acts_.emplace_back(b * widths_[l]);
  const int64_t max_w = *std::max_element(widths_.begin(), widths_.end());
  delta_a_.resize(b * max_w);
  delta_b_.resize(b * max_w);
  transposed_.resize(max_transposed);
  rows_.resize(b * (widths_.size() - 1));
  delta_rows_.resize(b);
}

int64_t HeadTrainer::working_bytes() const {
  int64_t floats = num_params_ + delta_a_.size() + delta_b_.size() + transposed_.size();
  for (const std::vector<float>& a : acts_) floats += a.size();
  if (plan_.momentum > 0) floats += num_params_;
  if (plan_.proximal_mu > 0) floats += num_params_;
  return floats * static_cast<int64_t>(sizeof(float)) +
         static_cast<int64_t>((rows_.size() + delta_rows_.size()) * sizeof(float*));
}

namespace {

// x = a * x + c * (y - z) over n floats (z may be null: y alone).
void Blend(float* x, float a, float c, const float* y, const float* z, int64_t n) {
  for (int64_t k = 0; k < n; ++k) x[k] = a * x[k] + c * (z ? y[k] - z[k] : y[k]);
}

}  // namespace

// Applies one layer's update in place: W -= lr * (dZ^T A + mu (W - W0)), with
// momentum folded in; dZ is in delta_a_ (b x out), A the layer's input rows.
void HeadTrainer::UpdateLayer(DenseLayer& layer, int l, int64_t b, float* velocity,
                              const float* anchor) {
  const float lr = plan_.learning_rate, mu = plan_.proximal_mu;
  const int64_t in = layer.in(), out = layer.out(), nw = layer.w.size();
  float* w = layer.w.data();
  float* bias = layer.b.data();
  if (velocity == nullptr) {
    if (anchor != nullptr) {
      Blend(w, 1.f, -lr * mu, w, anchor, nw);
      Blend(bias, 1.f, -lr * mu, bias, anchor + nw, out);
    }
    AccumulateOuter(Rows(l), b, in, delta_a_.data(), out, -lr, w);
    AccumulateColumnSums(delta_a_.data(), b, out, -lr, bias);
    return;
  }
  // v = momentum * v + g (+ mu (W - W0)); W -= lr * v.
  Blend(velocity, plan_.momentum, 0.f, velocity, nullptr, nw + out);
  AccumulateOuter(Rows(l), b, in, delta_a_.data(), out, 1.f, velocity);
  AccumulateColumnSums(delta_a_.data(), b, out, 1.f, velocity + nw);
  if (anchor != nullptr) {
    Blend(velocity, 1.f, mu, w, anchor, nw);
    Blend(velocity + nw, 1.f, mu, bias, anchor + nw, out);
  }
  Blend(w, 1.f, -lr, velocity, nullptr, nw);
  Blend(bias, 1.f, -lr, velocity + nw, nullptr, out);
}

void HeadTrainer::LossDelta(Span<const int32_t> labels, const int64_t* idx, int64_t b,
                            TrainState& state) {
  const int64_t classes = widths_.back();
  const float* logits = acts_.back().data();
  float* dz = delta_a_.data();
  float* shift = delta_b_.data();  // Free until backpropagation: each row's maximum.
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

void HeadTrainer::Step(Head& head, const RowMatrixXf& features, Span<const int32_t> labels,
                       const int64_t* idx, int64_t b, TrainState& state) {
  const int num_layers = static_cast<int>(head.layers.size());
  const int64_t bs = plan_.batch_size;
  for (int64_t r = 0; r < b; ++r) rows_[r] = features.data() + idx[r] * features.cols();
  // Forward; each layer's output rows are the next one's input rows.
  for (int l = 0; l < num_layers; ++l) {
    const DenseLayer& layer = head.layers[l];
    float* out = acts_[l].data();
    DenseForward(Rows(l), b, layer.in(), layer.w.data(), layer.out(), layer.b.data(), layer.relu,
                 out);
    if (l + 1 < num_layers) {
      for (int64_t r = 0; r < b; ++r) rows_[(l + 1) * bs + r] = out + r * layer.out();
    }
  }
  LossDelta(labels, idx, b, state);
  // Backward, updating each layer in place once its input delta is formed.
  for (int l = num_layers - 1; l >= 0; --l) {
    DenseLayer& layer = head.layers[l];
    if (l > 0) {
      // dA = dZ W, through W^T so that the product runs along contiguous rows.
      Transpose(layer.w.data(), layer.in(), layer.out(), transposed_.data());
      for (int64_t r = 0; r < b; ++r) delta_rows_[r] = delta_a_.data() + r * layer.out();
      float* prev = delta_b_.data();
      DenseForward(delta_rows_.data(), b, layer.out(), transposed_.data(), layer.in(), nullptr,
                   false, prev);
      // ReLU derivative of the previous layer's output.
      const float* a = acts_[l - 1].data();
      for (int64_t k = 0; k < b * layer.in(); ++k) prev[k] = a[k] > 0.f ? prev[k] : 0.f;
    }
    float* velocity = state.velocity.empty() ? nullptr : state.velocity.data() + param_offset_[l];
    const float* anchor = state.anchor.empty() ? nullptr : state.anchor.data() + param_offset_[l];
    UpdateLayer(layer, l, b, velocity, anchor);
    if (l > 0) delta_a_.swap(delta_b_);
  }
  state.examples_seen += b;
}

StatusOr<TrainResult> HeadTrainer::Train(Head& head, const RowMatrixXf& features,
                                               Span<const int32_t> labels,
                                               const std::function<bool()>& may_continue,
                                               TrainState& state) {
  if (head.num_params() != num_params_ || head.input_dim() != widths_.front() ||
      features.cols() != widths_.front() ||
      features.rows() != static_cast<int64_t>(labels.size())) {
    return InvalidArgumentError("train: head or data shape differs from the trainer's");
  }
  for (int32_t y : labels) {
    if (y < 0 || y >= widths_.back()) {
      return InvalidArgumentError(StrCat("train: label ", y, " out of range"));
    }
  }
  if (!state.started) {
    state = TrainState();
    state.started = true;
    if (plan_.momentum > 0) state.velocity.assign(num_params_, 0.f);
    if (plan_.proximal_mu > 0) state.anchor = head.Flatten();
  }
  const int64_t n = features.rows();
  const int64_t bs = plan_.batch_size;
  const int64_t batches = (n + bs - 1) / bs;
  // A resumed state comes from a file: it must fit this trainer and this data,
  // or Step would read past its buffers.
  const auto sized = [this](const std::vector<float>& v, bool used) {
    return used ? static_cast<int64_t>(v.size()) == num_params_ : v.empty();
  };
  if (state.epoch < 0 || state.epoch > plan_.epochs || state.next_batch < 0 ||
      state.next_batch > batches || state.examples_seen < 0 || state.correct < 0 ||
      state.correct > state.examples_seen || !std::isfinite(state.loss_sum) ||
      !sized(state.velocity, plan_.momentum > 0) || !sized(state.anchor, plan_.proximal_mu > 0) ||
      !std::all_of(state.velocity.begin(), state.velocity.end(),
                   [](float v) { return std::isfinite(v); }) ||
      !std::all_of(state.anchor.begin(), state.anchor.end(),
                   [](float v) { return std::isfinite(v); })) {
    return InvalidArgumentError(
        "train: the resumed state does not fit this plan, head or data");
  }
  order_.resize(n);
  TrainResult result;
  for (; state.epoch < plan_.epochs; ++state.epoch, state.next_batch = 0) {
    EpochOrder(plan_.seed, state.epoch, order_);
    for (; state.next_batch < batches; ++state.next_batch) {
      if (!may_continue()) {
        result.reason = StopReason::kIneligible;
        result.examples_seen = state.examples_seen;
        result.mean_loss = state.examples_seen ? state.loss_sum / state.examples_seen : 0;
        result.correct = state.correct;
        return result;
      }
      const int64_t start = state.next_batch * bs;
      Step(head, features, labels, order_.data() + start, std::min(bs, n - start), state);
    }
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

std::string TrainState::Serialize(const Crypto& crypto) const {
  std::string out(kMagic);
  PutValue(out, static_cast<uint8_t>(started));
  PutValue(out, epoch);
  PutValue(out, next_batch);
  PutValue(out, examples_seen);
  PutValue(out, loss_sum);
  PutValue(out, correct);
  PutFloats(out, velocity);
  PutFloats(out, anchor);
  return WithSha256Trailer(std::move(out), crypto);
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
