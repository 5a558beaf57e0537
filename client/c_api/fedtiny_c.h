/* fedtiny's C API: the device SDK's head trainer and inference (body + head,
 * client/core) for apps and firmware written in C. Opaque handles, status codes, no exceptions; every
 * array is the caller's. A handle is not thread-safe: use one from one thread at
 * a time (distinct handles are independent). Each handle keeps the message of
 * its last failure (fedtiny_*_error); creation functions report through their
 * status only.
 *
 *   int64_t widths[] = {64, 32, 10};
 *   fedtiny_head* head; fedtiny_trainer* trainer;
 *   fedtiny_head_create(widths, 3, 1, &head);
 *   fedtiny_plan plan = fedtiny_default_plan();
 *   fedtiny_trainer_create(head, &plan, &trainer);
 *   fedtiny_train(trainer, head, features, n, 64, labels, may_continue, ctx, &result);
 *
 * See client/c_api/example.c and docs/client.md, "The C API". */
#ifndef FEDTINY_CLIENT_C_API_FEDTINY_C_H_
#define FEDTINY_CLIENT_C_API_FEDTINY_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SDK's status codes (absl's and gRPC's numbering). */
typedef enum {
  FEDTINY_OK = 0,
  FEDTINY_CANCELLED = 1,
  FEDTINY_UNKNOWN = 2,
  FEDTINY_INVALID_ARGUMENT = 3,
  FEDTINY_NOT_FOUND = 5,
  FEDTINY_RESOURCE_EXHAUSTED = 8,
  FEDTINY_FAILED_PRECONDITION = 9,
  FEDTINY_OUT_OF_RANGE = 11,
  FEDTINY_INTERNAL = 13,
  FEDTINY_DATA_LOSS = 15
} fedtiny_status;

/* "OK", "INVALID_ARGUMENT", ...; a static string. */
const char* fedtiny_status_name(fedtiny_status status);

typedef struct fedtiny_head fedtiny_head;
typedef struct fedtiny_trainer fedtiny_trainer;

/* A dense head of the given widths (e.g. {128, 64, 10}: ReLU between layers,
 * logits last), Glorot-uniform weights from `seed`, zero biases. */
fedtiny_status fedtiny_head_create(const int64_t* widths, size_t num_widths, uint64_t seed,
                                   fedtiny_head** out);
/* Parameters in the flat head layout (each layer's weights column-major, then
 * its bias: what the coordinator sends and aggregates). */
size_t fedtiny_head_num_params(const fedtiny_head* head);
fedtiny_status fedtiny_head_get_params(const fedtiny_head* head, float* out, size_t capacity);
fedtiny_status fedtiny_head_set_params(fedtiny_head* head, const float* params, size_t count);
/* Mean softmax cross-entropy and accuracy on n examples of `dim` features
 * (row-major) with labels in [0, classes). */
fedtiny_status fedtiny_head_evaluate(fedtiny_head* head, const float* features, int64_t n,
                                     int64_t dim, const int32_t* labels, double* loss,
                                     double* accuracy);
const char* fedtiny_head_error(const fedtiny_head* head);
void fedtiny_head_destroy(fedtiny_head* head);

typedef struct {
  int32_t epochs;
  int32_t batch_size;
  float learning_rate;
  float momentum;    /* 0: plain SGD. */
  float proximal_mu; /* 0: no FedProx term. */
  uint64_t seed;     /* Shuffling. */
} fedtiny_plan;

/* 1 epoch, batch 10, learning rate 0.05, no momentum. */
fedtiny_plan fedtiny_default_plan(void);

/* A trainer for heads shaped like `shape`: its buffers are allocated here,
 * sized for the plan's batch. It keeps the training state, so a run that
 * stopped (may_continue said no) resumes where it stopped at the next
 * fedtiny_train on the same head and data. */
fedtiny_status fedtiny_trainer_create(const fedtiny_head* shape, const fedtiny_plan* plan,
                                      fedtiny_trainer** out);
/* Bytes of weights and training buffers: the working set of a step. */
int64_t fedtiny_trainer_working_bytes(const fedtiny_trainer* trainer);
/* Forgets a stopped run: the next fedtiny_train starts afresh. */
void fedtiny_trainer_reset(fedtiny_trainer* trainer);

/* Called before every batch; return 0 to stop (the device was unplugged). */
typedef int (*fedtiny_may_continue_fn)(void* context);

typedef struct {
  int completed;          /* 1: every epoch ran; 0: stopped, resumable. */
  int64_t examples_seen;  /* Over the run, across resumptions. */
  double mean_loss;
  int64_t correct;        /* Predicted right before their batch's step. */
} fedtiny_train_result;

/* Trains `head` in place on n examples of `dim` features (row-major; `dim` must
 * be the head's input width, checked before the array is read). `may_continue`
 * may be NULL (never stop). */
fedtiny_status fedtiny_train(fedtiny_trainer* trainer, fedtiny_head* head, const float* features,
                             int64_t n, int64_t dim, const int32_t* labels,
                             fedtiny_may_continue_fn may_continue, void* context,
                             fedtiny_train_result* result);
const char* fedtiny_trainer_error(const fedtiny_trainer* trainer);
void fedtiny_trainer_destroy(fedtiny_trainer* trainer);

/* ---- The arena form, for firmware ----------------------------------------
 * The trainer, its buffers and its training state carved from one block of the
 * caller's memory (a static array, or part of the app's arena), and a head held
 * as a flat float array (fedtiny_head_get_params' layout, what the coordinator
 * sends). After creation, fedtiny_arena_train allocates nothing: no malloc, no
 * new (with momentum or FedProx, the state's two parameter-sized buffers are
 * allocated once, here). Failures write their message into the handle's fixed
 * buffer. Release the handle before reusing its block.
 *
 *   static uint8_t block[48 << 10];
 *   int64_t widths[] = {128, 64, 10};
 *   fedtiny_plan plan = fedtiny_default_plan();
 *   fedtiny_arena_trainer* t;
 *   fedtiny_arena_trainer_create(widths, 3, &plan, 200, block, sizeof block, &t);
 *   fedtiny_arena_train(t, params, num_params, features, n, 128, labels, NULL, NULL, &r);
 */
typedef struct fedtiny_arena_trainer fedtiny_arena_trainer;

/* Bytes of block fedtiny_arena_trainer_create needs for a head of `widths`
 * (ReLU between layers, logits last) trained on at most `max_examples` per call;
 * -1 for invalid widths or plan. An upper bound, valid at any block alignment. */
int64_t fedtiny_arena_trainer_bytes(const int64_t* widths, size_t num_widths,
                                    const fedtiny_plan* plan, int64_t max_examples);
/* FEDTINY_RESOURCE_EXHAUSTED when the block is too small. */
fedtiny_status fedtiny_arena_trainer_create(const int64_t* widths, size_t num_widths,
                                            const fedtiny_plan* plan, int64_t max_examples,
                                            void* block, size_t block_bytes,
                                            fedtiny_arena_trainer** out);
/* Parameters of the flat head this trainer trains. */
size_t fedtiny_arena_trainer_num_params(const fedtiny_arena_trainer* trainer);
/* The whole working set: head, buffers, state, one checkpoint, stack bound. */
int64_t fedtiny_arena_trainer_working_bytes(const fedtiny_arena_trainer* trainer);
/* As fedtiny_train, on the flat head `params` (num_params floats, trained in
 * place); resumes a stopped run on the next call with the same head and data. */
fedtiny_status fedtiny_arena_train(fedtiny_arena_trainer* trainer, float* params,
                                   size_t num_params, const float* features, int64_t n,
                                   int64_t dim, const int32_t* labels,
                                   fedtiny_may_continue_fn may_continue, void* context,
                                   fedtiny_train_result* result);
const char* fedtiny_arena_trainer_error(const fedtiny_arena_trainer* trainer);
/* Frees what creation allocated (momentum/FedProx state); the block is the
 * caller's again. */
void fedtiny_arena_trainer_release(fedtiny_arena_trainer* trainer);

/* ---- The body --------------------------------------------------------------
 * The frozen body of a model bundle: dense layers as the coordinator ships
 * them (proto/model.proto's DenseLayer), float or int8. The arrays are copied
 * at creation (the body owns its weights, on the heap, like fedtiny_head).
 *
 *   fedtiny_body_layer l = {784, 128, 1, weights, NULL, 0, 0, bias};
 *   fedtiny_body* body;
 *   fedtiny_body_create(&l, 1, &body);
 *
 * An int8 body (every layer int8) runs on the integer kernels and needs its
 * activation ranges measured once on the device's own examples
 * (fedtiny_body_calibrate) before a predictor can be made from it; a body
 * mixing float and int8 layers is refused by the predictor. */
typedef struct fedtiny_body fedtiny_body;

/* One dense layer, y = act(W x + b), W outputs x inputs. Exactly one of
 * `weights` (float) and `int8_weights` (W ~= scale * (q - zero_point)) is
 * set; both are column-major, element (o, i) at i * outputs + o (the wire's
 * layout). `bias` has `outputs` floats, or is NULL (zero). */
typedef struct {
  int64_t inputs;
  int64_t outputs;
  int relu;                   /* 1: ReLU; 0: linear. */
  const float* weights;       /* inputs * outputs floats, or NULL. */
  const int8_t* int8_weights; /* inputs * outputs values, or NULL. */
  float scale;                /* int8 only: positive and finite. */
  int32_t zero_point;         /* int8 only: in [-128, 127]. */
  const float* bias;
} fedtiny_body_layer;

/* FEDTINY_INVALID_ARGUMENT for no layers, a zero width, consecutive widths
 * that disagree, a layer with neither or both weight arrays, a non-finite
 * weight, bias or scale, or a zero point outside [-128, 127]. */
fedtiny_status fedtiny_body_create(const fedtiny_body_layer* layers, size_t num_layers,
                                   fedtiny_body** out);
/* Measures an int8 body's activation ranges on n examples of `dim` features
 * (row-major; `dim` must be the body's input width, checked before the array
 * is read). FEDTINY_INVALID_ARGUMENT (widths, non-finite values) or
 * FEDTINY_OUT_OF_RANGE (a bias or multiplier does not fit the kernels); the
 * body is unchanged on error. A float body needs none (calibrating one only
 * checks the examples). */
fedtiny_status fedtiny_body_calibrate(fedtiny_body* body, const float* examples, int64_t n,
                                      int64_t dim);
int64_t fedtiny_body_input_dim(const fedtiny_body* body);
int64_t fedtiny_body_output_dim(const fedtiny_body* body);
const char* fedtiny_body_error(const fedtiny_body* body);
void fedtiny_body_destroy(fedtiny_body* body);

/* ---- Inference ------------------------------------------------------------
 * Class probabilities from body + head on raw input rows, or from a head alone
 * on feature rows (the body's outputs), with every buffer carved from the
 * caller's block and no allocation per call (client/core/predict.h). The
 * predictor borrows `body` and `head`: keep them alive and do not resize the
 * head while the predictor is used; retraining it in place, or replacing its
 * parameters with the device's personal head (fedtiny_head_set_params), is
 * fine. Release it before reusing its block. */
typedef struct fedtiny_predictor fedtiny_predictor;

/* Bytes of block fedtiny_model_predictor_create needs for up to `max_rows`
 * rows per call; -1 when creation would refuse the model (null pointers,
 * max_rows < 1, the body's output width differs from the head's input, a
 * mixed or uncalibrated int8 body). */
int64_t fedtiny_model_predictor_bytes(const fedtiny_body* body, const fedtiny_head* head,
                                      int64_t max_rows);
/* A predictor running `body` then `head`: fedtiny_predict then takes rows of
 * the body's input width. FEDTINY_INVALID_ARGUMENT (widths),
 * FEDTINY_FAILED_PRECONDITION (a mixed or uncalibrated int8 body),
 * FEDTINY_RESOURCE_EXHAUSTED when the block is too small. */
fedtiny_status fedtiny_model_predictor_create(const fedtiny_body* body, const fedtiny_head* head,
                                              int64_t max_rows, void* block, size_t block_bytes,
                                              fedtiny_predictor** out);

/* The head alone, on feature rows: bytes of block fedtiny_predictor_create
 * needs for up to `max_rows` rows per call; -1 for a null head or
 * max_rows < 1. */
int64_t fedtiny_predictor_bytes(const fedtiny_head* head, int64_t max_rows);
/* FEDTINY_RESOURCE_EXHAUSTED when the block is too small. */
fedtiny_status fedtiny_predictor_create(const fedtiny_head* head, int64_t max_rows, void* block,
                                        size_t block_bytes, fedtiny_predictor** out);
/* n rows of `dim` values (the body's input width, or the head's without a
 * body; checked before the array is read): `probabilities` (n x classes, may
 * be NULL) and `classes` (n, may be NULL) are filled. */
fedtiny_status fedtiny_predict(fedtiny_predictor* predictor, const float* features, int64_t n,
                               int64_t dim, float* probabilities, int32_t* classes);
const char* fedtiny_predictor_error(const fedtiny_predictor* predictor);
void fedtiny_predictor_release(fedtiny_predictor* predictor);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif  /* FEDTINY_CLIENT_C_API_FEDTINY_C_H_ */
