/* A C program using the SDK's head trainer through fedtiny_c.h, as firmware or
 * an app written in C would. Also the C API's test: it exits 0 only if every
 * check holds (run by //client/c_api:example_test). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c_api/fedtiny_c.h"

#define N 120
#define DIM 12
#define CLASSES 3

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "example.c:%d: check failed: %s\n", __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

/* Stops after `*budget` batches: the device was unplugged. */
static int MayContinue(void* context) {
  int* budget = (int*)context;
  return (*budget)-- > 0;
}

/* ---- A whole model: 784 inputs -> body -> head ---------------------------- */
#define MIN 784
#define MHID 32
#define MROWS 16
static float body_w[MIN * MHID]; /* Column-major 32 x 784, as the wire has it. */
static float body_b[MHID];
static int8_t body_q[MIN * MHID];
static float model_x[MROWS * MIN];

static float Uniform(unsigned* seed, float lo, float hi) {
  *seed = *seed * 1103515245u + 12345u;
  return lo + (hi - lo) * (float)((*seed >> 8) & 0xffff) / 65536.0f;
}

/* y = act(W x + b), W column-major out x in, in double: the reference. */
static void NaiveDense(const float* w, const float* b, int in, int out, int relu,
                       const double* x, double* y) {
  for (int o = 0; o < out; ++o) {
    double s = b[o];
    for (int i = 0; i < in; ++i) s += (double)w[i * out + o] * x[i];
    y[o] = relu && s < 0 ? 0 : s;
  }
}

/* The naive model's class probabilities for one row: the body, then the flat
 * head {MHID, 16, CLASSES} (each layer's weights column-major, then its bias). */
static void NaiveModel(const float* x, const float* head, double* probs) {
  double in[MIN], h1[MHID], h2[16];
  for (int i = 0; i < MIN; ++i) in[i] = x[i];
  NaiveDense(body_w, body_b, MIN, MHID, 1, in, h1);
  NaiveDense(head, head + MHID * 16, MHID, 16, 1, h1, h2);
  const float* w2 = head + MHID * 16 + 16;
  NaiveDense(w2, w2 + 16 * CLASSES, 16, CLASSES, 0, h2, probs);
  double m = probs[0], sum = 0;
  for (int c = 1; c < CLASSES; ++c) m = probs[c] > m ? probs[c] : m;
  for (int c = 0; c < CLASSES; ++c) sum += probs[c] = exp(probs[c] - m);
  for (int c = 0; c < CLASSES; ++c) probs[c] /= sum;
}

/* Per-tensor affine int8 (the coordinator's int8 bundles): W ~= scale * (q - zp). */
static void QuantizeBody(float* scale, int32_t* zero_point) {
  float lo = 0, hi = 0;
  for (int i = 0; i < MIN * MHID; ++i) {
    lo = body_w[i] < lo ? body_w[i] : lo;
    hi = body_w[i] > hi ? body_w[i] : hi;
  }
  *scale = (hi - lo) / 255.0f;
  *zero_point = (int32_t)lroundf(-128.0f - lo / *scale);
  for (int i = 0; i < MIN * MHID; ++i) {
    long q = lroundf(body_w[i] / *scale) + *zero_point;
    body_q[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
  }
}

/* Body + head through the C API, float then int8, against NaiveModel. */
static void PredictWholeModel(void) {
  unsigned seed = 11;
  for (int i = 0; i < MIN * MHID; ++i) body_w[i] = Uniform(&seed, -0.1f, 0.1f);
  for (int i = 0; i < MHID; ++i) body_b[i] = Uniform(&seed, -0.05f, 0.05f);
  for (int i = 0; i < MROWS * MIN; ++i) model_x[i] = Uniform(&seed, 0.0f, 1.0f);
  const int64_t widths[] = {MHID, 16, CLASSES};
  fedtiny_head* head = NULL;
  CHECK(fedtiny_head_create(widths, 3, 4, &head) == FEDTINY_OK);
  static float flat[MHID * 16 + 16 + 16 * CLASSES + CLASSES];
  CHECK(fedtiny_head_num_params(head) == sizeof(flat) / sizeof(flat[0]));
  CHECK(fedtiny_head_get_params(head, flat, sizeof(flat) / sizeof(flat[0])) == FEDTINY_OK);

  const fedtiny_body_layer layer = {MIN, MHID, 1, body_w, NULL, 0, 0, body_b};
  fedtiny_body* body = NULL;
  CHECK(fedtiny_body_create(&layer, 1, &body) == FEDTINY_OK);
  CHECK(fedtiny_body_input_dim(body) == MIN && fedtiny_body_output_dim(body) == MHID);
  /* The float body reads the inputs in place: the block holds layer outputs
   * (~4.6 KB); the int8 body also holds the rows quantized (+12.5 KB). */
  static unsigned char block[24 << 10];
  const int64_t need = fedtiny_model_predictor_bytes(body, head, MROWS);
  printf("model predictor 784-%d-16-%d: %lld bytes of block\n", MHID, CLASSES, (long long)need);
  CHECK(need > 0 && need <= (int64_t)sizeof(block));
  fedtiny_predictor* pred = NULL;
  CHECK(fedtiny_model_predictor_create(body, head, MROWS, block, sizeof(block), &pred) == FEDTINY_OK);
  static float probs[MROWS * CLASSES];
  static int32_t classes[MROWS], float_classes[MROWS];
  CHECK(fedtiny_predict(pred, model_x, MROWS, MIN, probs, float_classes) == FEDTINY_OK);
  double worst = 0;
  for (int r = 0; r < MROWS; ++r) {
    double want[CLASSES];
    NaiveModel(model_x + r * MIN, flat, want);
    int arg = 0;
    for (int c = 0; c < CLASSES; ++c) {
      const double d = fabs(probs[r * CLASSES + c] - want[c]);
      worst = d > worst ? d : worst;
      if (want[c] > want[arg]) arg = c;
    }
    CHECK(float_classes[r] == arg);
  }
  printf("float body: largest probability difference to a naive pass %.2e\n", worst);
  CHECK(worst < 2e-5);
  CHECK(fedtiny_predict(pred, model_x, MROWS, MHID, probs, classes) == FEDTINY_INVALID_ARGUMENT);
  fedtiny_predictor_release(pred);
  pred = NULL;
  fedtiny_body_destroy(body);

  /* The int8 variant of the same body: calibrated on the device's rows. */
  fedtiny_body_layer q = {MIN, MHID, 1, NULL, body_q, 0, 0, body_b};
  QuantizeBody(&q.scale, &q.zero_point);
  CHECK(fedtiny_body_create(&q, 1, &body) == FEDTINY_OK);
  CHECK(fedtiny_model_predictor_bytes(body, head, MROWS) == -1); /* Not calibrated. */
  CHECK(fedtiny_model_predictor_create(body, head, MROWS, block, sizeof(block), &pred) ==
        FEDTINY_FAILED_PRECONDITION);
  CHECK(fedtiny_body_calibrate(body, model_x, MROWS, MIN) == FEDTINY_OK);
  const int64_t int8_need = fedtiny_model_predictor_bytes(body, head, MROWS);
  printf("int8 model predictor: %lld bytes of block\n", (long long)int8_need);
  CHECK(int8_need > 0 && int8_need <= (int64_t)sizeof(block));
  CHECK(fedtiny_model_predictor_create(body, head, MROWS, block, sizeof(block), &pred) == FEDTINY_OK);
  CHECK(fedtiny_predict(pred, model_x, MROWS, MIN, probs, classes) == FEDTINY_OK);
  int agree = 0;
  worst = 0;
  for (int r = 0; r < MROWS; ++r) {
    double want[CLASSES];
    NaiveModel(model_x + r * MIN, flat, want);
    for (int c = 0; c < CLASSES; ++c) {
      const double d = fabs(probs[r * CLASSES + c] - want[c]);
      worst = d > worst ? d : worst;
    }
    agree += classes[r] == float_classes[r];
  }
  printf("int8 body: %d of %d classes as the float body, largest probability difference %.4f\n",
         agree, MROWS, worst);
  CHECK(worst < 0.05);
  CHECK(agree >= MROWS - 2);
  fedtiny_predictor_release(pred);
  fedtiny_body_destroy(body);
  fedtiny_head_destroy(head);
}

int main(void) {
  /* Three separable classes: feature c*4..c*4+3 is raised for class c. */
  static float features[N * DIM];
  static int32_t labels[N];
  unsigned seed = 7;
  for (int i = 0; i < N; ++i) {
    labels[i] = i % CLASSES;
    for (int j = 0; j < DIM; ++j) {
      seed = seed * 1103515245u + 12345u;
      const float noise = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
      features[i * DIM + j] = noise + (j / 4 == labels[i] ? 2.0f : 0.0f);
    }
  }
  const int64_t widths[] = {DIM, 8, CLASSES};
  fedtiny_head* head = NULL;
  CHECK(fedtiny_head_create(widths, 3, 1, &head) == FEDTINY_OK);
  fedtiny_head* twin = NULL;
  CHECK(fedtiny_head_create(widths, 3, 1, &twin) == FEDTINY_OK);
  const size_t params = fedtiny_head_num_params(head);
  CHECK(params == DIM * 8 + 8 + 8 * CLASSES + CLASSES);

  fedtiny_plan plan = fedtiny_default_plan();
  plan.epochs = 5;
  plan.batch_size = 10;
  plan.learning_rate = 0.1f;
  plan.seed = 3;
  fedtiny_trainer* trainer = NULL;
  CHECK(fedtiny_trainer_create(head, &plan, &trainer) == FEDTINY_OK);
  printf("working set: %lld bytes\n", (long long)fedtiny_trainer_working_bytes(trainer));

  double loss0 = 0, acc0 = 0, loss1 = 0, acc1 = 0;
  CHECK(fedtiny_head_evaluate(head, features, N, DIM, labels, &loss0, &acc0) == FEDTINY_OK);

  /* Interrupted after 4 batches, then resumed: the same head as straight through. */
  fedtiny_train_result r;
  int budget = 4;
  CHECK(fedtiny_train(trainer, head, features, N, DIM, labels, MayContinue, &budget, &r) == FEDTINY_OK);
  CHECK(r.completed == 0);
  CHECK(r.examples_seen == 40);
  CHECK(fedtiny_train(trainer, head, features, N, DIM, labels, NULL, NULL, &r) == FEDTINY_OK);
  CHECK(r.completed == 1);
  CHECK(r.examples_seen == 5 * N);

  fedtiny_trainer* straight = NULL;
  CHECK(fedtiny_trainer_create(twin, &plan, &straight) == FEDTINY_OK);
  fedtiny_train_result r2;
  CHECK(fedtiny_train(straight, twin, features, N, DIM, labels, NULL, NULL, &r2) == FEDTINY_OK);
  float* a = (float*)malloc(params * sizeof(float));
  float* b = (float*)malloc(params * sizeof(float));
  CHECK(fedtiny_head_get_params(head, a, params) == FEDTINY_OK);
  CHECK(fedtiny_head_get_params(twin, b, params) == FEDTINY_OK);
  CHECK(memcmp(a, b, params * sizeof(float)) == 0);
  CHECK(fedtiny_head_get_params(head, a, params - 1) == FEDTINY_OUT_OF_RANGE);

  CHECK(fedtiny_head_evaluate(head, features, N, DIM, labels, &loss1, &acc1) == FEDTINY_OK);
  printf("loss %.4f -> %.4f, accuracy %.3f -> %.3f\n", loss0, loss1, acc0, acc1);
  CHECK(loss1 < loss0);
  CHECK(acc1 >= 0.9);

  /* Errors: a status code and a message on the handle. */
  CHECK(fedtiny_train(trainer, head, features, N, DIM + 1, labels, NULL, NULL, &r) ==
        FEDTINY_INVALID_ARGUMENT);
  CHECK(strlen(fedtiny_trainer_error(trainer)) > 0);
  printf("a wrong width: %s: %s\n", fedtiny_status_name(FEDTINY_INVALID_ARGUMENT),
         fedtiny_trainer_error(trainer));
  CHECK(fedtiny_head_set_params(head, a, params - 1) == FEDTINY_INVALID_ARGUMENT);
  CHECK(strlen(fedtiny_head_error(head)) > 0);
  CHECK(fedtiny_head_create(widths, 1, 1, &twin) == FEDTINY_INVALID_ARGUMENT);
  plan.batch_size = 0;
  fedtiny_trainer* bad = NULL;
  CHECK(fedtiny_trainer_create(head, &plan, &bad) == FEDTINY_INVALID_ARGUMENT);
  CHECK(bad == NULL);

  /* The arena form, as firmware uses it: one static block, a flat head. It
   * trains the same head as the heap trainer, bit for bit. */
  plan.batch_size = 10;
  static unsigned char block[16 << 10];
  const int64_t need = fedtiny_arena_trainer_bytes(widths, 3, &plan, N);
  printf("arena trainer: %lld bytes of block\n", (long long)need);
  CHECK(need > 0 && need <= (int64_t)sizeof(block));
  fedtiny_arena_trainer* at = NULL;
  CHECK(fedtiny_arena_trainer_create(widths, 3, &plan, N, block, 64, &at) ==
        FEDTINY_RESOURCE_EXHAUSTED);
  CHECK(fedtiny_arena_trainer_create(widths, 3, &plan, N, block, (size_t)need, &at) == FEDTINY_OK);
  CHECK(fedtiny_arena_trainer_num_params(at) == params);
  printf("arena working set: %lld bytes (head, buffers, checkpoint, stack)\n",
         (long long)fedtiny_arena_trainer_working_bytes(at));
  fedtiny_head* fresh = NULL;
  CHECK(fedtiny_head_create(widths, 3, 1, &fresh) == FEDTINY_OK);
  float* flat = (float*)malloc(params * sizeof(float));
  CHECK(fedtiny_head_get_params(fresh, flat, params) == FEDTINY_OK);
  budget = 7;
  CHECK(fedtiny_arena_train(at, flat, params, features, N, DIM, labels, MayContinue, &budget, &r) ==
        FEDTINY_OK);
  CHECK(r.completed == 0);
  CHECK(fedtiny_arena_train(at, flat, params, features, N, DIM, labels, NULL, NULL, &r) ==
        FEDTINY_OK);
  CHECK(r.completed == 1);
  CHECK(memcmp(flat, b, params * sizeof(float)) == 0);
  CHECK(fedtiny_arena_train(at, flat, params, features, N + 1, DIM, labels, NULL, NULL, &r) ==
        FEDTINY_RESOURCE_EXHAUSTED);
  printf("too many examples: %s\n", fedtiny_arena_trainer_error(at));
  CHECK(fedtiny_arena_train(at, flat, params, features, N, DIM - 1, labels, NULL, NULL, &r) ==
        FEDTINY_INVALID_ARGUMENT);
  fedtiny_arena_trainer_release(at);
  fedtiny_head_destroy(fresh);
  free(flat);

  /* Inference from a block: the trained head's probabilities and classes. */
  static unsigned char pblock[32 << 10];
  const int64_t pneed = fedtiny_predictor_bytes(head, N);
  printf("predictor: %lld bytes of block\n", (long long)pneed);
  CHECK(pneed > 0 && pneed <= (int64_t)sizeof(pblock));
  fedtiny_predictor* pred = NULL;
  CHECK(fedtiny_predictor_create(head, N, pblock, 32, &pred) == FEDTINY_RESOURCE_EXHAUSTED);
  CHECK(fedtiny_predictor_create(head, N, pblock, sizeof(pblock), &pred) == FEDTINY_OK);
  static float probs[N * CLASSES];
  static int32_t predicted[N];
  CHECK(fedtiny_predict(pred, features, N, DIM, probs, predicted) == FEDTINY_OK);
  int right = 0;
  for (int i = 0; i < N; ++i) {
    float sum = 0;
    int arg = 0;
    for (int c = 0; c < CLASSES; ++c) {
      sum += probs[i * CLASSES + c];
      if (probs[i * CLASSES + c] > probs[i * CLASSES + arg]) arg = c;
    }
    CHECK(fabsf(sum - 1.0f) < 1e-5f);
    CHECK(arg == predicted[i]);
    right += predicted[i] == labels[i];
  }
  /* The same accuracy as fedtiny_head_evaluate reported. */
  CHECK(fabs((double)right / N - acc1) < 1e-9);
  printf("predict: %d of %d right\n", right, N);
  CHECK(fedtiny_predict(pred, features, N, DIM + 1, probs, predicted) == FEDTINY_INVALID_ARGUMENT);
  CHECK(fedtiny_predict(pred, features, N + 1, DIM, NULL, predicted) == FEDTINY_INVALID_ARGUMENT);
  CHECK(strlen(fedtiny_predictor_error(pred)) > 0);
  fedtiny_predictor_release(pred);

  PredictWholeModel();

  free(a);
  free(b);
  fedtiny_trainer_destroy(trainer);
  fedtiny_trainer_destroy(straight);
  fedtiny_head_destroy(head);
  fedtiny_head_destroy(twin);
  if (failures == 0) printf("example.c: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
