// client::Body (model.h): the float reference, calibration and the integer
// runs.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "client/core/arena.h"
#include "client/core/int8_bundle.h"
#include "client/core/int8_inference.h"
#include "client/core/model.h"
#include "client/core/str_cat.h"

namespace fedtiny::client {
namespace {

int64_t InOf(const BodyLayer& l) {
  return std::visit([](const auto& x) { return x.in(); }, l);
}
int64_t OutOf(const BodyLayer& l) {
  return std::visit([](const auto& x) { return x.out(); }, l);
}

Status WidthError(size_t i, const BodyLayer& l, int64_t got) {
  return InvalidArgumentError(
      StrCat("body layer ", i, " expects ", InOf(l), " inputs, got ", got));
}

// The calibrated params of a float activation, or false when it is not finite.
bool RangeOf(const RowMatrixXf& x, Int8Params* p) {
  if (x.size() == 0 || !x.allFinite()) return false;
  *p = Int8ParamsForRange(x.minCoeff(), x.maxCoeff());
  return true;
}

AffineInt8LayerView ViewOf(const QuantizedDenseLayer& q) {
  AffineInt8LayerView v;
  v.inputs = static_cast<int32_t>(q.in());
  v.outputs = static_cast<int32_t>(q.out());
  v.q = q.q.data();
  v.scale = q.scale;
  v.zero_point = q.zero_point;
  v.bias = q.b.size() == q.out() ? q.b.data() : nullptr;
  v.relu = q.relu;
  return v;
}

// One run on `rows` examples through caller memory: float in, float out.
Status RunRows(const Int8Body& body, const float* x, int64_t rows, float* y, int8_t* arena,
               int64_t arena_bytes) {
  const int64_t in = rows * body.input_width(), out = rows * body.output_width();
  int8_t* qx = arena;
  int8_t* qy = arena + in;
  QuantizeInput(x, in, body.input(), qx);
  const Int8Status s = Int8BodyForward(body, qx, in, rows, qy, out, qy + out,
                                       arena_bytes - in - out);
  if (!s.ok()) {
    return InternalError(StrCat("int8 body: ", Int8CodeName(s.code), " at layer ", s.layer));
  }
  DequantizeOutput(qy, out, body.output(), y);
  return OkStatus();
}

int64_t RunArenaBytes(const Int8Body& body, int64_t rows) {
  return rows * (body.input_width() + body.output_width()) + Int8ScratchBytes(body, rows);
}

// A run over any number of rows, kChunk rows at a time (bounded scratch).
StatusOr<RowMatrixXf> RunInt8(const Int8Body& body, const RowMatrixXf& x) {
  constexpr int64_t kChunk = 256;
  RowMatrixXf y(x.rows(), body.output_width());
  const int64_t rows = x.rows();
  std::vector<int8_t> arena(static_cast<size_t>(RunArenaBytes(body, std::min(kChunk, rows))));
  for (int64_t r = 0; r < rows; r += kChunk) {
    const int64_t n = std::min(kChunk, rows - r);
    Status s = RunRows(body, x.row(r).data(), n, y.row(r).data(), arena.data(),
                       static_cast<int64_t>(arena.size()));
    if (!s.ok()) return s;
  }
  return y;
}

}  // namespace

Body::Body(layers::Network front)
    : front_(std::make_shared<const layers::Network>(std::move(front))) {}

Body::Body(layers::Int8Network front)
    : int8_front_(std::make_shared<const layers::Int8Network>(std::move(front))) {}

namespace {

// `front`'s outputs for `inputs`, on a copy bound to a buffer of this call's.
template <typename Net>
StatusOr<RowMatrixXf> RunNetwork(Net net, const RowMatrixXf& inputs) {
  if (inputs.cols() != net.input().size()) {
    return InvalidArgumentError(StrCat("body: convolutional front takes ", net.input().size(),
                                       " values per example, got ", inputs.cols()));
  }
  std::vector<unsigned char> block(static_cast<size_t>(net.ArenaBytes()));
  Arena arena(block.data(), block.size());
  if (Status s = net.Bind(arena); !s.ok()) return s;
  RowMatrixXf out(inputs.rows(), net.output().size());
  if (Status s = net.Forward(inputs.data(), inputs.rows(), out.data()); !s.ok()) return s;
  return out;
}

}  // namespace

StatusOr<RowMatrixXf> Body::RunFront(const RowMatrixXf& inputs) const {
  if (inputs.rows() == 0) return inputs;
  if (front_ != nullptr) return RunNetwork(*front_, inputs);
  if (int8_front_ != nullptr) return RunNetwork(*int8_front_, inputs);
  return inputs;
}

bool Body::HasInt8() const {
  return std::any_of(layers_.begin(), layers_.end(), [](const BodyLayer& l) {
    return std::holds_alternative<QuantizedDenseLayer>(l);
  });
}

StatusOr<RowMatrixXf> Body::FloatReferenceFeatures(const RowMatrixXf& inputs) const {
  StatusOr<RowMatrixXf> x = RunFront(inputs);
  if (!x.ok()) return x.status();
  return Run({}, *x);
}

StatusOr<RowMatrixXf> Body::Features(const RowMatrixXf& inputs) const {
  StatusOr<RowMatrixXf> x = RunFront(inputs);
  if (!x.ok()) return x.status();
  if (calibrated_ || !HasInt8() || x->rows() == 0) return Run(runs_, *x);
  StatusOr<std::vector<Int8Run>> runs =
      PlanRuns(x->topRows(std::min<int64_t>(x->rows(), kImplicitCalibrationRows)), false);
  if (!runs.ok()) return runs.status();
  return Run(*runs, *x);
}

StatusOr<RowMatrixXf> Body::Run(const std::vector<Int8Run>& runs,
                                const RowMatrixXf& inputs) const {
  RowMatrixXf x = inputs;
  size_t r = 0;
  for (size_t i = 0; i < layers_.size();) {
    if (x.cols() != InOf(layers_[i])) return WidthError(i, layers_[i], x.cols());
    if (r < runs.size() && runs[r].first == i) {
      StatusOr<RowMatrixXf> y = RunInt8(runs[r].body, x);
      if (!y.ok()) return y.status();
      x = *std::move(y);
      i += runs[r++].body.layers.size();
      continue;
    }
    x = std::visit([&x](const auto& l) { return DenseForward(l, x); }, layers_[i++]);
  }
  return x;
}

StatusOr<std::vector<Int8Run>> Body::PlanRuns(const RowMatrixXf& examples, bool strict) const {
  if (examples.rows() < 1) return InvalidArgumentError("calibrate: no examples");
  std::vector<Int8Run> runs;
  RowMatrixXf x = examples;
  Int8Params in;
  bool open = false;  // Whether layer i may extend runs.back().
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (x.cols() != InOf(layers_[i])) return WidthError(i, layers_[i], x.cols());
    const auto* q = std::get_if<QuantizedDenseLayer>(&layers_[i]);
    const bool in_ok = !q || open || RangeOf(x, &in);
    RowMatrixXf y = std::visit([&x](const auto& l) { return DenseForward(l, x); }, layers_[i]);
    Int8Params out;
    Int8DenseLayer layer;
    Int8Status s{Int8Code::kInvalidArgument, -1};
    if (q && in_ok && RangeOf(y, &out)) s = Int8LayerFromAffine(ViewOf(*q), in, out, &layer);
    if (q && !s.ok() && strict) {
      return Status(s.code == Int8Code::kOutOfRange ? StatusCode::kOutOfRange
                                                    : StatusCode::kInvalidArgument,
                    StrCat("calibrate: body layer ", i, ": ", Int8CodeName(s.code),
                           " (non-finite examples or activations, or integers that do not fit)"));
    }
    if (q && s.ok()) {
      if (!open) runs.push_back({i, {}});
      runs.back().body.layers.push_back(std::move(layer));
      in = out;
    }
    open = q && s.ok();
    x = std::move(y);
  }
  return runs;
}

Status Body::Calibrate(const RowMatrixXf& examples) {
  if (examples.rows() < 1) return InvalidArgumentError("calibrate: no examples");
  StatusOr<RowMatrixXf> x = RunFront(examples);
  if (!x.ok()) return x.status();
  StatusOr<std::vector<Int8Run>> runs = PlanRuns(*x, true);
  if (!runs.ok()) return runs.status();
  runs_ = *std::move(runs);
  calibrated_ = true;
  return OkStatus();
}

int64_t Body::FeaturesArenaBytes(int64_t rows) const {
  if (front_ != nullptr || int8_front_ != nullptr || !calibrated_ || runs_.size() != 1 || runs_[0].body.layers.size() != layers_.size() ||
      rows < 1)
    return 0;
  return RunArenaBytes(runs_[0].body, rows);
}

Status Body::FeaturesInto(const float* inputs, int64_t rows, float* out,
                          Span<int8_t> arena) const {
  if (inputs == nullptr || out == nullptr || rows < 1) {
    return InvalidArgumentError("features: null buffer or no rows");
  }
  const int64_t need = FeaturesArenaBytes(rows);
  if (need == 0) {
    return FailedPreconditionError("features: needs a calibrated body of int8 layers only");
  }
  if (arena.data() == nullptr || static_cast<int64_t>(arena.size()) < need) {
    return ResourceExhaustedError(StrCat("features: arena of ", arena.size(), " bytes, need ", need));
  }
  return RunRows(runs_[0].body, inputs, rows, out, arena.data(), need);
}

int64_t Body::input_dim(int64_t fallback) const {
  if (front_ != nullptr) return front_->input().size();
  if (int8_front_ != nullptr) return int8_front_->input().size();
  return layers_.empty() ? fallback : InOf(layers_.front());
}
int64_t Body::output_dim(int64_t fallback) const {
  if (!layers_.empty()) return OutOf(layers_.back());
  if (front_ != nullptr) return front_->output().size();
  return int8_front_ != nullptr ? int8_front_->output().size() : fallback;
}

int64_t Body::multiply_adds() const {
  if (front_ != nullptr) return front_->multiply_adds();
  if (int8_front_ != nullptr) return int8_front_->multiply_adds();
  int64_t n = 0;
  for (const BodyLayer& l : layers_) n += InOf(l) * OutOf(l);
  return n;
}

int64_t Body::weight_bytes() const {
  int64_t bytes = front_ != nullptr ? front_->num_params() * 4 : 0;
  if (int8_front_ != nullptr) bytes = int8_front_->weight_bytes();
  for (const BodyLayer& l : layers_) {
    if (const auto* d = std::get_if<DenseLayer>(&l)) {
      bytes += (d->w.size() + d->b.size()) * 4;
    } else {
      const auto& q = std::get<QuantizedDenseLayer>(l);
      bytes += q.q.size() + q.b.size() * 4 + 8;
    }
  }
  return bytes;
}

}  // namespace fedtiny::client
