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

  free(a);
  free(b);
  fedtiny_trainer_destroy(trainer);
  fedtiny_trainer_destroy(straight);
  fedtiny_head_destroy(head);
  fedtiny_head_destroy(twin);
  if (failures == 0) printf("example.c: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
