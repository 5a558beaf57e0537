#include "client/core/predict.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <variant>

#include "client/core/dense_kernels.h"
#include "client/core/str_cat.h"

namespace fedtiny::client {
namespace {

// Whether the body runs on the integer kernels (all int8, calibrated); an error
// for a body Predict cannot run.
StatusOr<bool> BodyKind(const Body& body) {
  int64_t int8 = 0;
  for (const BodyLayer& l : body.layers()) int8 += std::holds_alternative<QuantizedDenseLayer>(l);
  if (int8 == 0) return false;
  if (int8 != static_cast<int64_t>(body.layers().size())) {
    return FailedPreconditionError(
        "predict: a body mixing float and int8 layers is not supported; ship one variant");
  }
  if (!body.calibrated() || body.FeaturesArenaBytes(1) <= 0) {
    return FailedPreconditionError(
        "predict: the int8 body is not calibrated (Body::Calibrate on the device's examples)");
  }
  return true;
}

Status CheckModel(const Body& body, const Head& head, int64_t max_rows) {
  CLIENT_RETURN_IF_ERROR(head.Validate());
  if (max_rows < 1) return InvalidArgumentError("predict: max_rows < 1");
  if (body.output_dim(head.input_dim()) != head.input_dim()) {
    return InvalidArgumentError(StrCat("predict: the body gives ", body.output_dim(0),
                                       " features; the head takes ", head.input_dim()));
  }
  return BodyKind(body).status();
}

}  // namespace

bool Predictor::Layout(int64_t max_rows, Arena& arena) {
  const size_t before = arena.used();
  int8_body_ = *BodyKind(body_);
  max_rows_ = max_rows;
  input_dim_ = body_.input_dim(head_.input_dim());
  num_classes_ = head_.num_classes();
  // The inputs are read where they lie: the buffers hold layer outputs only.
  max_width_ = head_.input_dim();
  for (const BodyLayer& l : body_.layers()) {
    if (const auto* d = std::get_if<DenseLayer>(&l)) max_width_ = std::max(max_width_, d->out());
  }
  for (const DenseLayer& l : head_.layers) max_width_ = std::max(max_width_, l.out());
  const size_t cells = static_cast<size_t>(max_rows * max_width_);
  ping_ = arena.Allocate<float>(cells);
  pong_ = arena.Allocate<float>(cells);
  rows_ = arena.Allocate<const float*>(static_cast<size_t>(max_rows));
  feature_dim_ = head_.input_dim();
  if (!body_.layers().empty()) {
    features_ = arena.Allocate<float>(static_cast<size_t>(max_rows * feature_dim_));
  }
  if (int8_body_) {
    int8_scratch_bytes_ = body_.FeaturesArenaBytes(max_rows);
    int8_scratch_ = arena.Allocate<int8_t>(static_cast<size_t>(int8_scratch_bytes_));
  }
  arena_bytes_ = static_cast<int64_t>(arena.used() - before);
  return !arena.failed();
}

int64_t Predictor::ArenaBytes(const Body& body, const Head& head, int64_t max_rows) {
  if (!CheckModel(body, head, max_rows).ok()) return -1;
  Arena measuring = Arena::Measuring();
  measuring.AllocateBytes(sizeof(Predictor), alignof(Predictor));
  Predictor probe(body, head);
  probe.Layout(max_rows, measuring);
  return static_cast<int64_t>(measuring.used());
}

StatusOr<Predictor*> Predictor::Create(const Body& body, const Head& head, int64_t max_rows,
                                       Arena& arena) {
  CLIENT_RETURN_IF_ERROR(CheckModel(body, head, max_rows));
  const size_t free_bytes = arena.capacity() - arena.used();
  void* at = arena.AllocateBytes(sizeof(Predictor), alignof(Predictor));
  Predictor* p = at ? new (at) Predictor(body, head) : nullptr;
  if (p == nullptr || !p->Layout(max_rows, arena)) {
    return ResourceExhaustedError(StrCat("predict: the arena has ", free_bytes,
                                         " bytes free; the predictor needs ",
                                         ArenaBytes(body, head, max_rows)));
  }
  return p;
}

void Predictor::Dense(const DenseLayer& layer, const float* in, int64_t rows, float* out) {
  for (int64_t r = 0; r < rows; ++r) rows_[r] = in + r * layer.in();
  DenseForward(rows_, rows, layer.in(), layer.w.data(), layer.out(), layer.b.data(), layer.relu,
               out);
}

Status Predictor::Predict(const float* inputs, int64_t rows, Span<float> probabilities,
                          Span<int32_t> classes) {
  feature_rows_ = 0;
  if (inputs == nullptr || rows < 1 || rows > max_rows_) {
    return InvalidArgumentError(
        StrCat("predict: need inputs and 1 to ", max_rows_, " rows, got ", rows));
  }
  if ((!probabilities.empty() && static_cast<int64_t>(probabilities.size()) != rows * num_classes_) ||
      (!classes.empty() && static_cast<int64_t>(classes.size()) != rows)) {
    return InvalidArgumentError("predict: an output buffer's size is not rows (x classes)");
  }
  // The head is borrowed and may have been retrained or replaced in place.
  bool fits = head_.input_dim() == body_.output_dim(head_.input_dim()) &&
              head_.num_classes() == num_classes_;
  for (const DenseLayer& l : head_.layers) fits = fits && l.out() <= max_width_;
  if (!fits) return FailedPreconditionError("predict: the head's shape changed since creation");

  const float* cur = inputs;
  float* next = ping_;
  const auto advance = [&] {
    cur = next;
    next = next == ping_ ? pong_ : ping_;
  };
  // The body's last output goes to features_, which no head layer overwrites.
  if (int8_body_) {
    CLIENT_RETURN_IF_ERROR(body_.FeaturesInto(
        inputs, rows, features_,
        Span<int8_t>(int8_scratch_, static_cast<size_t>(int8_scratch_bytes_))));
    cur = features_;
  } else {
    const size_t n = body_.layers().size();
    for (size_t i = 0; i < n; ++i) {
      float* out = i + 1 == n ? features_ : next;
      Dense(std::get<DenseLayer>(body_.layers()[i]), cur, rows, out);
      if (out == next) {
        advance();
      } else {
        cur = out;
      }
    }
  }
  features_out_ = cur;
  feature_rows_ = rows;
  for (const DenseLayer& l : head_.layers) {
    Dense(l, cur, rows, next);
    advance();
  }
  // `cur` holds the logits, rows x classes.
  for (int64_t r = 0; r < rows; ++r) {
    const float* z = cur + r * num_classes_;
    const int64_t arg = std::max_element(z, z + num_classes_) - z;  // The first maximum.
    if (!classes.empty()) classes[static_cast<size_t>(r)] = static_cast<int32_t>(arg);
    if (probabilities.empty()) continue;
    float* p = probabilities.data() + r * num_classes_;
    float sum = 0;
    for (int64_t c = 0; c < num_classes_; ++c) sum += p[c] = std::exp(z[c] - z[arg]);
    for (int64_t c = 0; c < num_classes_; ++c) p[c] /= sum;
  }
  return OkStatus();
}

}  // namespace fedtiny::client
