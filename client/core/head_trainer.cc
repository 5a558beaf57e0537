#include "client/core/head_trainer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "tools/base/byte_io.h"

namespace fedtiny::client {

void EpochOrder(uint64_t seed, int epoch, std::vector<int64_t>& order) {
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
  for (size_t i = order.size(); i > 1; --i) {
    const size_t j = rng() % i;
    std::swap(order[i - 1], order[j]);
  }
}

namespace {

using MatMap = Eigen::Map<Eigen::MatrixXf>;
using VecMap = Eigen::Map<Eigen::VectorXf>;
using ConstMatMap = Eigen::Map<const Eigen::MatrixXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;

}  // namespace

absl::StatusOr<std::unique_ptr<HeadTrainer>> HeadTrainer::Create(const Head& shape,
                                                                 const TrainPlan& plan) {
  absl::Status valid = shape.Validate();
  if (!valid.ok()) return valid;
  // Infinity passes "> 0" and ">= 0" and would turn the head into NaN.
  if (plan.epochs < 1 || plan.batch_size < 1 ||
      !(plan.learning_rate > 0 && std::isfinite(plan.learning_rate)) ||
      !(plan.momentum >= 0 && plan.momentum < 1) ||
      !(plan.proximal_mu >= 0 && std::isfinite(plan.proximal_mu))) {
    return absl::InvalidArgumentError(
        "train plan: need epochs >= 1, batch_size >= 1, finite learning_rate > 0, "
        "momentum in [0, 1), finite proximal_mu >= 0");
  }
  return std::unique_ptr<HeadTrainer>(new HeadTrainer(shape, plan));
}

HeadTrainer::HeadTrainer(const Head& shape, const TrainPlan& plan) : plan_(plan) {
  widths_.push_back(shape.input_dim());
  int64_t offset = 0;
  for (const DenseLayer& l : shape.layers) {
    widths_.push_back(l.out());
    param_offset_.push_back(offset);
    offset += l.w.size() + l.b.size();
  }
  num_params_ = offset;
  const int64_t b = plan.batch_size;
  for (int64_t w : widths_) acts_.emplace_back(b, w);
  const int64_t max_w = *std::max_element(widths_.begin(), widths_.end());
  delta_a_.resize(b, max_w);
  delta_b_.resize(b, max_w);
}

int64_t HeadTrainer::working_bytes() const {
  int64_t floats = num_params_ + delta_a_.size() + delta_b_.size();
  for (const RowMatrixXf& a : acts_) floats += a.size();
  if (plan_.momentum > 0) floats += num_params_;
  if (plan_.proximal_mu > 0) floats += num_params_;
  return floats * static_cast<int64_t>(sizeof(float));
}

// Applies one layer's update in place: W -= lr * (dZ^T A + mu (W - W0)), with
// momentum folded in; dZ is in delta_a_ (b x out), A in acts_[l] (b x in).
void HeadTrainer::UpdateLayer(DenseLayer& layer, int l, int64_t b, float* velocity,
                              const float* anchor) {
  const float lr = plan_.learning_rate;
  auto dz = delta_a_.topLeftCorner(b, layer.out());
  auto a = acts_[l].topRows(b);
  const int64_t nw = layer.w.size(), nb = layer.b.size();
  if (velocity == nullptr) {
    if (anchor != nullptr) {
      layer.w -= (lr * plan_.proximal_mu) * (layer.w - ConstMatMap(anchor, layer.out(), layer.in()));
      layer.b -= (lr * plan_.proximal_mu) * (layer.b - ConstVecMap(anchor + nw, nb));
    }
    layer.w.noalias() -= lr * dz.transpose() * a;
    layer.b.noalias() -= lr * dz.colwise().sum().transpose();
    return;
  }
  MatMap vw(velocity, layer.out(), layer.in());
  VecMap vb(velocity + nw, nb);
  vw *= plan_.momentum;
  vb *= plan_.momentum;
  vw.noalias() += dz.transpose() * a;
  vb.noalias() += dz.colwise().sum().transpose();
  if (anchor != nullptr) {
    vw += plan_.proximal_mu * (layer.w - ConstMatMap(anchor, layer.out(), layer.in()));
    vb += plan_.proximal_mu * (layer.b - ConstVecMap(anchor + nw, nb));
  }
  layer.w -= lr * vw;
  layer.b -= lr * vb;
}

void HeadTrainer::Step(Head& head, const RowMatrixXf& features,
                       absl::Span<const int32_t> labels, const int64_t* idx, int64_t b,
                       TrainState& state) {
  const int num_layers = static_cast<int>(head.layers.size());
  for (int64_t r = 0; r < b; ++r) acts_[0].row(r) = features.row(idx[r]);
  // Forward.
  for (int l = 0; l < num_layers; ++l) {
    const DenseLayer& layer = head.layers[l];
    auto out = acts_[l + 1].topRows(b);
    out.noalias() = acts_[l].topRows(b) * layer.w.transpose();
    out.rowwise() += layer.b.transpose();
    if (layer.relu) out = out.cwiseMax(0.f);
  }
  // Softmax cross-entropy: dZ = (softmax - onehot) / b.
  const int64_t classes = widths_.back();
  auto logits = acts_[num_layers].topRows(b);
  auto dz = delta_a_.topLeftCorner(b, classes);
  for (int64_t r = 0; r < b; ++r) {
    const float m = logits.row(r).maxCoeff();
    dz.row(r) = (logits.row(r).array() - m).exp().matrix();
    const float sum = dz.row(r).sum();
    const int32_t y = labels[idx[r]];
    state.loss_sum += std::log(sum) - (logits(r, y) - m);
    dz.row(r) /= sum * static_cast<float>(b);
    dz(r, y) -= 1.f / static_cast<float>(b);
  }
  // Backward, updating each layer in place once its input delta is formed.
  for (int l = num_layers - 1; l >= 0; --l) {
    DenseLayer& layer = head.layers[l];
    if (l > 0) {
      auto prev = delta_b_.topLeftCorner(b, layer.in());
      prev.noalias() = delta_a_.topLeftCorner(b, layer.out()) * layer.w;
      // ReLU derivative of the previous layer's output.
      prev.array() = (acts_[l].topRows(b).array() > 0.f).select(prev.array(), 0.f);
    }
    float* velocity = state.velocity.empty() ? nullptr : state.velocity.data() + param_offset_[l];
    const float* anchor = state.anchor.empty() ? nullptr : state.anchor.data() + param_offset_[l];
    UpdateLayer(layer, l, b, velocity, anchor);
    if (l > 0) delta_a_.swap(delta_b_);
  }
  state.examples_seen += b;
}

absl::StatusOr<TrainResult> HeadTrainer::Train(Head& head, const RowMatrixXf& features,
                                               absl::Span<const int32_t> labels,
                                               const std::function<bool()>& may_continue,
                                               TrainState& state) {
  if (head.num_params() != num_params_ || head.input_dim() != widths_.front() ||
      features.cols() != widths_.front() ||
      features.rows() != static_cast<int64_t>(labels.size())) {
    return absl::InvalidArgumentError("train: head or data shape differs from the trainer's");
  }
  for (int32_t y : labels) {
    if (y < 0 || y >= widths_.back()) {
      return absl::InvalidArgumentError(absl::StrCat("train: label ", y, " out of range"));
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
      state.next_batch > batches || state.examples_seen < 0 || !std::isfinite(state.loss_sum) ||
      !sized(state.velocity, plan_.momentum > 0) || !sized(state.anchor, plan_.proximal_mu > 0) ||
      !std::all_of(state.velocity.begin(), state.velocity.end(), [](float v) { return std::isfinite(v); }) ||
      !std::all_of(state.anchor.begin(), state.anchor.end(), [](float v) { return std::isfinite(v); })) {
    return absl::InvalidArgumentError("train: the resumed state does not fit this plan, head or data");
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
        return result;
      }
      const int64_t start = state.next_batch * bs;
      Step(head, features, labels, order_.data() + start, std::min(bs, n - start), state);
    }
  }
  result.examples_seen = state.examples_seen;
  result.mean_loss = state.examples_seen ? state.loss_sum / state.examples_seen : 0;
  return result;
}

std::string TrainState::Serialize() const {
  std::string out = "FTTS";
  PutValue(out, static_cast<uint8_t>(started));
  PutValue(out, epoch);
  PutValue(out, next_batch);
  PutValue(out, examples_seen);
  PutValue(out, loss_sum);
  PutFloats(out, velocity);
  PutFloats(out, anchor);
  return WithSha256Trailer(std::move(out));
}

absl::StatusOr<TrainState> TrainState::Parse(const std::string& bytes) {
  absl::StatusOr<absl::string_view> body = VerifySha256Trailer(bytes, "train state");
  if (!body.ok()) return body.status();
  if (body->substr(0, 4) != "FTTS") return absl::DataLossError("train state: not a train state");
  ByteReader r(body->substr(4));
  TrainState s;
  uint8_t started = 0;
  if (!r.Get(started) || !r.Get(s.epoch) || !r.Get(s.next_batch) || !r.Get(s.examples_seen) ||
      !r.Get(s.loss_sum) || !r.GetFloats(s.velocity) || !r.GetFloats(s.anchor) || !r.AtEnd()) {
    return absl::DataLossError("train state: malformed body");
  }
  s.started = started != 0;
  return s;
}

}  // namespace fedtiny::client
