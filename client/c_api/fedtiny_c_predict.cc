// The C API's bodies and predictors (fedtiny_c.h, "The body" and
// "Inference"): a body's layers copied from the caller's arrays into
// client/core's Body, and client/core's Predictor carved from the caller's
// block, with the handle itself at the block's start.
#include <cmath>
#include <cstdio>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "client/c_api/fedtiny_c.h"
#include "client/c_api/handles.h"
#include "client/core/arena.h"
#include "client/core/model.h"
#include "client/core/predict.h"

// A heap body; owns its layers. One thread at a time; a predictor borrows it.
struct fedtiny_body {
  fedtiny::client::Body body;
  std::string error;
};

// Lives at the start of the caller's block, the core's Predictor after it.
struct fedtiny_predictor {
  fedtiny::client::Body none;  // Empty (allocates nothing): for a head alone.
  fedtiny::client::Predictor* predictor;
  int64_t classes;
  char error[160];
};

namespace {

using fedtiny::c_api::Code;
using fedtiny::client::Body;
using fedtiny::client::BodyLayer;
using fedtiny::client::DenseLayer;
using fedtiny::client::Head;
using fedtiny::client::QuantizedDenseLayer;

constexpr int64_t kMaxWidth = int64_t{1} << 20;

bool AllFinite(const float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

// The core's layer from the caller's; false when `l` is malformed.
bool ToLayer(const fedtiny_body_layer& l, BodyLayer* out) {
  if (l.inputs < 1 || l.outputs < 1 || l.inputs > kMaxWidth || l.outputs > kMaxWidth ||
      (l.weights == nullptr) == (l.int8_weights == nullptr)) {
    return false;
  }
  Eigen::VectorXf bias = Eigen::VectorXf::Zero(l.outputs);
  if (l.bias != nullptr) {
    if (!AllFinite(l.bias, l.outputs)) return false;
    bias = Eigen::Map<const Eigen::VectorXf>(l.bias, l.outputs);
  }
  if (l.weights != nullptr) {
    if (!AllFinite(l.weights, l.inputs * l.outputs)) return false;
    DenseLayer d;
    d.w = Eigen::Map<const Eigen::MatrixXf>(l.weights, l.outputs, l.inputs);  // Column-major.
    d.b = std::move(bias);
    d.relu = l.relu != 0;
    *out = std::move(d);
    return true;
  }
  if (!std::isfinite(l.scale) || l.scale <= 0 || l.zero_point < -128 || l.zero_point > 127) {
    return false;
  }
  QuantizedDenseLayer q;
  q.q = Eigen::Map<const Eigen::Matrix<int8_t, Eigen::Dynamic, Eigen::Dynamic>>(
      l.int8_weights, l.outputs, l.inputs);
  q.scale = l.scale;
  q.zero_point = l.zero_point;
  q.b = std::move(bias);
  q.relu = l.relu != 0;
  *out = std::move(q);
  return true;
}

// The block's handle and predictor for `body` (nullptr: a head alone).
fedtiny_status Create(const Body* body, const Head& head, int64_t max_rows, void* block,
                      size_t block_bytes, fedtiny_predictor** out) {
  fedtiny::client::Arena arena(block, block_bytes);
  void* at = arena.AllocateBytes(sizeof(fedtiny_predictor), alignof(fedtiny_predictor));
  if (at == nullptr) return FEDTINY_RESOURCE_EXHAUSTED;
  auto* p = new (at) fedtiny_predictor{{}, nullptr, head.num_classes(), {}};
  auto predictor = fedtiny::client::Predictor::Create(body ? *body : p->none, head, max_rows, arena);
  if (!predictor.ok()) {
    p->~fedtiny_predictor();
    return Code(predictor.status());
  }
  p->predictor = *predictor;
  *out = p;
  return FEDTINY_OK;
}

int64_t Bytes(const Body& body, const Head& head, int64_t max_rows) {
  const int64_t core = fedtiny::client::Predictor::ArenaBytes(body, head, max_rows);
  if (core < 0) return -1;
  return core + static_cast<int64_t>(sizeof(fedtiny_predictor) + alignof(fedtiny_predictor) +
                                     fedtiny::client::Arena::kMinAlign);
}

}  // namespace

extern "C" {

fedtiny_status fedtiny_body_create(const fedtiny_body_layer* layers, size_t num_layers,
                                   fedtiny_body** out) {
  if (layers == nullptr || num_layers < 1 || out == nullptr) return FEDTINY_INVALID_ARGUMENT;
  std::vector<BodyLayer> core(num_layers);
  for (size_t i = 0; i < num_layers; ++i) {
    if (!ToLayer(layers[i], &core[i])) return FEDTINY_INVALID_ARGUMENT;
    if (i > 0 && layers[i].inputs != layers[i - 1].outputs) return FEDTINY_INVALID_ARGUMENT;
  }
  auto* b = new (std::nothrow) fedtiny_body{Body(std::move(core)), {}};
  if (b == nullptr) return FEDTINY_RESOURCE_EXHAUSTED;
  *out = b;
  return FEDTINY_OK;
}

fedtiny_status fedtiny_body_calibrate(fedtiny_body* body, const float* examples, int64_t n,
                                      int64_t dim) {
  if (body == nullptr) return FEDTINY_INVALID_ARGUMENT;
  // Checked before anything is read: the caller's array holds n x dim floats.
  if (examples == nullptr || n < 1 || dim != body->body.input_dim(0)) {
    body->error = "calibrate: no examples, or " + std::to_string(dim) +
                  " features per example where the body takes " +
                  std::to_string(body->body.input_dim(0));
    return FEDTINY_INVALID_ARGUMENT;
  }
  const fedtiny::client::Status s =
      body->body.Calibrate(Eigen::Map<const fedtiny::client::RowMatrixXf>(examples, n, dim));
  if (s.ok()) return FEDTINY_OK;
  body->error = s.message();
  return Code(s);
}

int64_t fedtiny_body_input_dim(const fedtiny_body* body) {
  return body == nullptr ? 0 : body->body.input_dim(0);
}

int64_t fedtiny_body_output_dim(const fedtiny_body* body) {
  return body == nullptr ? 0 : body->body.output_dim(0);
}

const char* fedtiny_body_error(const fedtiny_body* body) {
  return body == nullptr ? "null body" : body->error.c_str();
}

void fedtiny_body_destroy(fedtiny_body* body) { delete body; }

int64_t fedtiny_predictor_bytes(const fedtiny_head* head, int64_t max_rows) {
  if (head == nullptr) return -1;
  return Bytes(Body(), head->head, max_rows);
}

int64_t fedtiny_model_predictor_bytes(const fedtiny_body* body, const fedtiny_head* head,
                                      int64_t max_rows) {
  if (body == nullptr || head == nullptr) return -1;
  return Bytes(body->body, head->head, max_rows);
}

fedtiny_status fedtiny_predictor_create(const fedtiny_head* head, int64_t max_rows, void* block,
                                        size_t block_bytes, fedtiny_predictor** out) {
  if (head == nullptr || block == nullptr || out == nullptr) return FEDTINY_INVALID_ARGUMENT;
  return Create(nullptr, head->head, max_rows, block, block_bytes, out);
}

fedtiny_status fedtiny_model_predictor_create(const fedtiny_body* body, const fedtiny_head* head,
                                              int64_t max_rows, void* block, size_t block_bytes,
                                              fedtiny_predictor** out) {
  if (body == nullptr || head == nullptr || block == nullptr || out == nullptr) {
    return FEDTINY_INVALID_ARGUMENT;
  }
  return Create(&body->body, head->head, max_rows, block, block_bytes, out);
}

fedtiny_status fedtiny_predict(fedtiny_predictor* predictor, const float* features, int64_t n,
                               int64_t dim, float* probabilities, int32_t* classes) {
  if (predictor == nullptr) return FEDTINY_INVALID_ARGUMENT;
  const auto fail = [predictor](const fedtiny::client::Status& s) {
    std::snprintf(predictor->error, sizeof(predictor->error), "%s", s.message().c_str());
    return Code(s);
  };
  // Checked before anything is read: the caller's array holds n x dim floats.
  if (dim != predictor->predictor->input_dim() || n < 1) {
    return fail(fedtiny::client::InvalidArgumentError(
        "predict: the rows' width differs from the model's input, or no rows"));
  }
  const size_t rows = static_cast<size_t>(n);
  const size_t classes_n = static_cast<size_t>(predictor->classes);
  const fedtiny::client::Status s = predictor->predictor->Predict(
      features, n,
      probabilities ? fedtiny::client::Span<float>(probabilities, rows * classes_n)
                    : fedtiny::client::Span<float>(),
      classes ? fedtiny::client::Span<int32_t>(classes, rows) : fedtiny::client::Span<int32_t>());
  return s.ok() ? FEDTINY_OK : fail(s);
}

const char* fedtiny_predictor_error(const fedtiny_predictor* predictor) {
  return predictor == nullptr ? "null predictor" : predictor->error;
}

void fedtiny_predictor_release(fedtiny_predictor* predictor) {
  if (predictor != nullptr) predictor->~fedtiny_predictor();
}

}  // extern "C"
