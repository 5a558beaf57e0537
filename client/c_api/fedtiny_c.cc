// The C API over client/core (fedtiny_c.h): handles own the C++ objects; every
// entry point catches nothing (the core reports through Status, never throws)
// and checks its pointers.
#include "client/c_api/fedtiny_c.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "client/c_api/handles.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"

struct fedtiny_trainer {
  std::unique_ptr<fedtiny::client::HeadTrainer> trainer;
  fedtiny::client::TrainState state;
  std::string error;
};

struct fedtiny_arena_trainer {
  fedtiny::client::HeadTrainer* trainer;
  fedtiny::client::TrainState state;
  char error[160];
};

namespace {

using fedtiny::c_api::Code;
using fedtiny::client::RowMatrixXf;
using fedtiny::client::Status;

fedtiny_status Fail(std::string* error, fedtiny_status code, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return code;
}

fedtiny_status Report(std::string* error, const Status& s) {
  if (s.ok()) return FEDTINY_OK;
  return Fail(error, Code(s), s.message());
}

// The features as the core's row-major matrix (one copy: the core trains on an
// Eigen matrix).
bool Features(const float* features, int64_t n, int64_t dim, RowMatrixXf* out) {
  if (features == nullptr || n < 1 || dim < 1) return false;
  *out = Eigen::Map<const RowMatrixXf>(features, n, dim);
  return true;
}

constexpr size_t kMaxCLayers = 16;

// widths -> layer shapes (ReLU between, logits last); false when malformed.
bool Shapes(const int64_t* widths, size_t num_widths,
            fedtiny::client::HeadLayerShape (&out)[kMaxCLayers], size_t* layers) {
  if (widths == nullptr || num_widths < 2 || num_widths - 1 > kMaxCLayers) return false;
  for (size_t l = 0; l + 1 < num_widths; ++l) {
    out[l] = {widths[l], widths[l + 1], l + 2 < num_widths};
  }
  *layers = num_widths - 1;
  return true;
}

fedtiny::client::TrainPlan Plan(const fedtiny_plan& plan) {
  fedtiny::client::TrainPlan p;
  p.epochs = plan.epochs;
  p.batch_size = plan.batch_size;
  p.learning_rate = plan.learning_rate;
  p.momentum = plan.momentum;
  p.proximal_mu = plan.proximal_mu;
  p.seed = plan.seed;
  return p;
}

// Copies a message into a fixed buffer (no allocation on the arena path).
fedtiny_status FailFixed(fedtiny_arena_trainer* t, const Status& s) {
  std::snprintf(t->error, sizeof(t->error), "%s", s.message().c_str());
  return Code(s);
}

}  // namespace

extern "C" {

const char* fedtiny_status_name(fedtiny_status status) {
  switch (status) {
    case FEDTINY_OK: return "OK";
    case FEDTINY_CANCELLED: return "CANCELLED";
    case FEDTINY_UNKNOWN: return "UNKNOWN";
    case FEDTINY_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case FEDTINY_NOT_FOUND: return "NOT_FOUND";
    case FEDTINY_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case FEDTINY_FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case FEDTINY_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case FEDTINY_INTERNAL: return "INTERNAL";
    case FEDTINY_DATA_LOSS: return "DATA_LOSS";
  }
  return "UNKNOWN_STATUS";
}

fedtiny_status fedtiny_head_create(const int64_t* widths, size_t num_widths, uint64_t seed,
                                   fedtiny_head** out) {
  if (out == nullptr || widths == nullptr || num_widths < 2) return FEDTINY_INVALID_ARGUMENT;
  std::vector<int64_t> w(widths, widths + num_widths);
  for (int64_t x : w) {
    if (x < 1 || x > (1 << 20)) return FEDTINY_INVALID_ARGUMENT;
  }
  auto* h = new (std::nothrow) fedtiny_head{fedtiny::client::MakeHead(w, seed), {}};
  if (h == nullptr) return FEDTINY_RESOURCE_EXHAUSTED;
  *out = h;
  return FEDTINY_OK;
}

size_t fedtiny_head_num_params(const fedtiny_head* head) {
  return head == nullptr ? 0 : static_cast<size_t>(head->head.num_params());
}

fedtiny_status fedtiny_head_get_params(const fedtiny_head* head, float* out, size_t capacity) {
  if (head == nullptr || out == nullptr) return FEDTINY_INVALID_ARGUMENT;
  const std::vector<float> flat = head->head.Flatten();
  if (capacity < flat.size()) return FEDTINY_OUT_OF_RANGE;
  std::memcpy(out, flat.data(), flat.size() * sizeof(float));
  return FEDTINY_OK;
}

fedtiny_status fedtiny_head_set_params(fedtiny_head* head, const float* params, size_t count) {
  if (head == nullptr || params == nullptr) return FEDTINY_INVALID_ARGUMENT;
  return Report(&head->error,
                head->head.Unflatten(fedtiny::client::Span<const float>(params, count)));
}

fedtiny_status fedtiny_head_evaluate(fedtiny_head* head, const float* features, int64_t n,
                                     int64_t dim, const int32_t* labels, double* loss,
                                     double* accuracy) {
  if (head == nullptr || labels == nullptr || loss == nullptr || accuracy == nullptr) {
    return FEDTINY_INVALID_ARGUMENT;
  }
  // Checked before anything is read: the caller's array holds n x dim floats.
  if (dim != head->head.input_dim()) {
    return Fail(&head->error, FEDTINY_INVALID_ARGUMENT,
                "evaluate: " + std::to_string(dim) + " features per example, the head takes " +
                    std::to_string(head->head.input_dim()));
  }
  RowMatrixXf x;
  if (!Features(features, n, dim, &x)) {
    return Fail(&head->error, FEDTINY_INVALID_ARGUMENT, "evaluate: no features");
  }
  auto e = fedtiny::client::Evaluate(head->head, x,
                                     fedtiny::client::Span<const int32_t>(labels, static_cast<size_t>(n)));
  if (!e.ok()) return Report(&head->error, e.status());
  *loss = e->loss;
  *accuracy = e->accuracy;
  return FEDTINY_OK;
}

const char* fedtiny_head_error(const fedtiny_head* head) {
  return head == nullptr ? "null head" : head->error.c_str();
}

void fedtiny_head_destroy(fedtiny_head* head) { delete head; }

fedtiny_plan fedtiny_default_plan(void) {
  const fedtiny::client::TrainPlan p;
  return fedtiny_plan{p.epochs, p.batch_size, p.learning_rate, p.momentum, p.proximal_mu, p.seed};
}

fedtiny_status fedtiny_trainer_create(const fedtiny_head* shape, const fedtiny_plan* plan,
                                      fedtiny_trainer** out) {
  if (shape == nullptr || plan == nullptr || out == nullptr) return FEDTINY_INVALID_ARGUMENT;
  auto trainer = fedtiny::client::HeadTrainer::Create(shape->head, Plan(*plan));
  if (!trainer.ok()) return Code(trainer.status());
  auto* t = new (std::nothrow) fedtiny_trainer{std::move(*trainer), {}, {}};
  if (t == nullptr) return FEDTINY_RESOURCE_EXHAUSTED;
  *out = t;
  return FEDTINY_OK;
}

int64_t fedtiny_trainer_working_bytes(const fedtiny_trainer* trainer) {
  return trainer == nullptr ? 0 : trainer->trainer->working_bytes();
}

void fedtiny_trainer_reset(fedtiny_trainer* trainer) {
  if (trainer != nullptr) trainer->state = fedtiny::client::TrainState();
}

fedtiny_status fedtiny_train(fedtiny_trainer* trainer, fedtiny_head* head, const float* features,
                             int64_t n, int64_t dim, const int32_t* labels,
                             fedtiny_may_continue_fn may_continue, void* context,
                             fedtiny_train_result* result) {
  if (trainer == nullptr || head == nullptr || labels == nullptr || result == nullptr) {
    return FEDTINY_INVALID_ARGUMENT;
  }
  // Checked before anything is read: the caller's array holds n x dim floats.
  if (dim != head->head.input_dim()) {
    return Fail(&trainer->error, FEDTINY_INVALID_ARGUMENT,
                "train: " + std::to_string(dim) + " features per example, the head takes " +
                    std::to_string(head->head.input_dim()));
  }
  if (features == nullptr || n < 1) {
    return Fail(&trainer->error, FEDTINY_INVALID_ARGUMENT, "train: no features");
  }
  // Read where they lie: no copy of the caller's array.
  auto r = trainer->trainer->Train(
      head->head, features, n, fedtiny::client::Span<const int32_t>(labels, static_cast<size_t>(n)),
      [may_continue, context] { return may_continue == nullptr || may_continue(context) != 0; },
      trainer->state);
  if (!r.ok()) return Report(&trainer->error, r.status());
  result->completed = r->reason == fedtiny::client::StopReason::kCompleted ? 1 : 0;
  result->examples_seen = r->examples_seen;
  result->mean_loss = r->mean_loss;
  result->correct = r->correct;
  if (result->completed) trainer->state = fedtiny::client::TrainState();
  return FEDTINY_OK;
}

const char* fedtiny_trainer_error(const fedtiny_trainer* trainer) {
  return trainer == nullptr ? "null trainer" : trainer->error.c_str();
}

void fedtiny_trainer_destroy(fedtiny_trainer* trainer) { delete trainer; }

int64_t fedtiny_arena_trainer_bytes(const int64_t* widths, size_t num_widths,
                                    const fedtiny_plan* plan, int64_t max_examples) {
  fedtiny::client::HeadLayerShape shapes[kMaxCLayers];
  size_t layers = 0;
  if (plan == nullptr || !Shapes(widths, num_widths, shapes, &layers)) return -1;
  const int64_t core = fedtiny::client::HeadTrainer::ArenaBytes(
      fedtiny::client::Span<const fedtiny::client::HeadLayerShape>(shapes, layers), Plan(*plan),
      max_examples);
  if (core < 0) return -1;
  return core + static_cast<int64_t>(sizeof(fedtiny_arena_trainer) + alignof(fedtiny_arena_trainer) +
                                     fedtiny::client::Arena::kMinAlign);
}

fedtiny_status fedtiny_arena_trainer_create(const int64_t* widths, size_t num_widths,
                                            const fedtiny_plan* plan, int64_t max_examples,
                                            void* block, size_t block_bytes,
                                            fedtiny_arena_trainer** out) {
  fedtiny::client::HeadLayerShape shapes[kMaxCLayers];
  size_t layers = 0;
  if (plan == nullptr || block == nullptr || out == nullptr ||
      !Shapes(widths, num_widths, shapes, &layers)) {
    return FEDTINY_INVALID_ARGUMENT;
  }
  fedtiny::client::Arena arena(block, block_bytes);
  void* at = arena.AllocateBytes(sizeof(fedtiny_arena_trainer), alignof(fedtiny_arena_trainer));
  if (at == nullptr) return FEDTINY_RESOURCE_EXHAUSTED;
  auto trainer = fedtiny::client::HeadTrainer::CreateInArena(
      fedtiny::client::Span<const fedtiny::client::HeadLayerShape>(shapes, layers), Plan(*plan),
      max_examples, arena);
  if (!trainer.ok()) return Code(trainer.status());
  auto* t = new (at) fedtiny_arena_trainer{*trainer, {}, {}};
  (*trainer)->ReserveState(t->state);
  *out = t;
  return FEDTINY_OK;
}

size_t fedtiny_arena_trainer_num_params(const fedtiny_arena_trainer* trainer) {
  return trainer == nullptr ? 0 : static_cast<size_t>(trainer->trainer->num_params());
}

int64_t fedtiny_arena_trainer_working_bytes(const fedtiny_arena_trainer* trainer) {
  return trainer == nullptr ? 0 : trainer->trainer->working_bytes();
}

fedtiny_status fedtiny_arena_train(fedtiny_arena_trainer* trainer, float* params,
                                   size_t num_params, const float* features, int64_t n,
                                   int64_t dim, const int32_t* labels,
                                   fedtiny_may_continue_fn may_continue, void* context,
                                   fedtiny_train_result* result) {
  if (trainer == nullptr || params == nullptr || features == nullptr || labels == nullptr ||
      result == nullptr || n < 1) {
    return FEDTINY_INVALID_ARGUMENT;
  }
  // Checked before anything is read: the caller's array holds n x dim floats.
  fedtiny::client::HeadTrainer& t = *trainer->trainer;
  if (dim != t.input_dim()) {
    return FailFixed(trainer, fedtiny::client::InvalidArgumentError(
                                  "train: the features' width differs from the head's input"));
  }
  auto r = t.Train(
      fedtiny::client::Span<float>(params, num_params), features, n,
      fedtiny::client::Span<const int32_t>(labels, static_cast<size_t>(n)),
      [may_continue, context] { return may_continue == nullptr || may_continue(context) != 0; },
      trainer->state);
  if (!r.ok()) return FailFixed(trainer, r.status());
  result->completed = r->reason == fedtiny::client::StopReason::kCompleted ? 1 : 0;
  result->examples_seen = r->examples_seen;
  result->mean_loss = r->mean_loss;
  result->correct = r->correct;
  if (result->completed) trainer->state.started = false;  // Keeps its buffers.
  return FEDTINY_OK;
}

const char* fedtiny_arena_trainer_error(const fedtiny_arena_trainer* trainer) {
  return trainer == nullptr ? "null trainer" : trainer->error;
}

void fedtiny_arena_trainer_release(fedtiny_arena_trainer* trainer) {
  if (trainer != nullptr) trainer->~fedtiny_arena_trainer();
}

}  // extern "C"
