// The SDK's own training code on every target: client/core's Body, HeadTrainer
// and Evaluate (not a stand-in), on deterministic data, and the integer body
// kernels (int8_bundle.h, int8_inference.h: SMLAD on Cortex-M, plain loops on
// the host) on fixed int8 data, whose `exact_int8` outputs must match the
// host's bit for bit. Prints every value as
// `v <name> <index> <hex bits>` for compare_outputs.py, and checks on the
// target itself that training interrupted and resumed from its TrainState gives
// the same head, bit for bit, as training straight through. Exit status 0 when
// every check passed.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "client/core/arena.h"
#include "client/core/head_trainer.h"
#include "client/core/int8_bundle.h"
#include "client/core/int8_inference.h"
#include "client/core/model.h"
#include "tools/cross/malloc_counter.h"
#include "tools/cross/stack_meter.h"

namespace {

using fedtiny::client::Body;
using fedtiny::client::DenseLayer;
using fedtiny::client::Head;
using fedtiny::client::HeadTrainer;
using fedtiny::client::RowMatrixXf;
using fedtiny::client::TrainPlan;
using fedtiny::client::TrainState;

constexpr int kExamples = 40, kIn = 24, kHidden = 16, kClasses = 4;

// A deterministic generator of values in [-1, 1), the same on every target.
struct Lcg {
  uint32_t s;
  float Next() {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
};

void Print(const char* name, const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &v[i], 4);
    // newlib-nano's printf has no %zu or %llu: plain unsigned and int.
    std::printf("v %s %u %08lx\n", name, static_cast<unsigned>(i), static_cast<unsigned long>(bits));
  }
}

// Two int8 layers, 50 -> 24 -> 8 (widths that leave SMLAD loops a tail), with
// the bundle's weight zero points and fixed activation params: integers only,
// so every target must give the host's values exactly.
bool Int8Kernels() {
  using namespace fedtiny::client;
  Lcg rng{77u};
  auto byte = [&rng] { return static_cast<int8_t>(static_cast<int>(rng.Next() * 127.5f)); };
  std::vector<int8_t> w1(50 * 24), w2(24 * 8), x(3 * 50), y(3 * 8);
  for (int8_t& v : w1) v = byte();
  for (int8_t& v : w2) v = byte();
  for (int8_t& v : x) v = byte();
  std::vector<float> b1(24, 0.25f), b2(8, -0.5f);
  Int8Body body;
  body.layers.resize(2);
  const Int8Params in{0.02f, -3}, mid{0.05f, -128}, out{0.08f, 10};
  if (!Int8LayerFromAffine({50, 24, w1.data(), 0.01f, 7, b1.data(), true}, in, mid,
                           &body.layers[0]).ok() ||
      !Int8LayerFromAffine({24, 8, w2.data(), 0.02f, -5, b2.data(), false}, mid, out,
                           &body.layers[1]).ok()) {
    return false;
  }
  std::vector<int8_t> scratch(static_cast<size_t>(Int8ScratchBytes(body, 3)));
  if (!Int8BodyForward(body, x.data(), 150, 3, y.data(), 24, scratch.data(),
                       static_cast<int64_t>(scratch.size())).ok()) {
    return false;
  }
  std::vector<float> f(y.begin(), y.end());
  Print("exact_int8", f.data(), f.size());
  return true;
}

// The fixed arena on the target (issue #12's bar): a 128-64-10 head at batch
// 10 trained from one static block, with no allocation after initialization
// (the C allocator's calls counted through --wrap), the stack painted, and
// weights + arena + measured stack within 64 KiB. Returns false on a failure.
constexpr int kBarExamples = 60, kBarIn = 128, kBarHidden = 64, kBarClasses = 10;
alignas(16) unsigned char g_block[16 << 10];
float g_bar_x[kBarExamples * kBarIn];
int32_t g_bar_y[kBarExamples];

bool ArenaBar() {
  using fedtiny::client::Arena;
  using fedtiny::client::HeadLayerShape;
  Lcg rng{77u};
  for (float& v : g_bar_x) v = rng.Next();
  for (int r = 0; r < kBarExamples; ++r) g_bar_y[r] = r % kBarClasses;
  const HeadLayerShape shape[] = {{kBarIn, kBarHidden, true}, {kBarHidden, kBarClasses, false}};
  TrainPlan plan;
  plan.epochs = 2;
  plan.batch_size = 10;
  plan.learning_rate = 0.05f;
  plan.seed = 5;
  Arena arena(g_block, sizeof(g_block));
  auto trainer = HeadTrainer::CreateInArena(shape, plan, kBarExamples, arena);
  if (!trainer.ok()) {
    std::printf("FAIL arena trainer: %s\n", trainer.status().message().c_str());
    return false;
  }
  std::vector<float> params =
      fedtiny::client::MakeHead({kBarIn, kBarHidden, kBarClasses}, 9).Flatten();
  TrainState state;
  long allocations = -1;
  size_t stack = 0;
  bool ok = true;
  {
    fedtiny::testing::ScopedMallocCount count;
    stack = fedtiny::testing::StackUsedBy(24 << 10, [&] {
      int batches = 0;  // Unplugged after 5 batches, then resumed.
      auto a = (*trainer)->Train(params, g_bar_x, kBarExamples, g_bar_y,
                                 [&] { return ++batches <= 5; }, state);
      auto b = (*trainer)->Train(params, g_bar_x, kBarExamples, g_bar_y, [] { return true; },
                                 state);
      ok = a.ok() && b.ok() && b->reason == fedtiny::client::StopReason::kCompleted;
    });
    allocations = count.count();
  }
  long control = 0;
  {
    fedtiny::testing::ScopedMallocCount count;
    std::vector<float> heap(64);  // The counter sees operator new.
    control = count.count() + static_cast<long>(heap.size() - 64);
  }
  Print("arena_head", params.data(), params.size());
  const long weights = static_cast<long>(params.size() * sizeof(float));
  const long total = weights + static_cast<long>(arena.used()) + static_cast<long>(stack);
  std::printf("# arena bar 128-64-10 batch 10: weights %ld + arena %ld + stack %ld (measured; "
              "bound %ld) = %ld bytes (limit 65536); allocations after init %ld (control %ld)\n",
              weights, static_cast<long>(arena.used()), static_cast<long>(stack),
              static_cast<long>(fedtiny::client::kTrainStackBytes), total, allocations, control);
  if (!ok) std::printf("FAIL arena: training failed\n");
  if (allocations != 0) std::printf("FAIL arena: %ld allocations after init\n", allocations);
  if (control < 1) std::printf("FAIL arena: the allocation counter counts nothing\n");
  if (stack < 256 || static_cast<long>(stack) > fedtiny::client::kTrainStackBytes) {
    std::printf("FAIL arena: stack %ld outside (256, kTrainStackBytes]\n", static_cast<long>(stack));
    ok = false;
  }
  if (total > 65536) std::printf("FAIL arena: %ld bytes over the 64 KiB bar\n", total);
  return ok && allocations == 0 && control >= 1 && total <= 65536;
}

}  // namespace

int main() {
  std::printf("# fedtiny core selftest: client/core's Body, HeadTrainer, Evaluate\n");
  Lcg rng{2024u};
  RowMatrixXf x(kExamples, kIn);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = rng.Next();
  std::vector<int32_t> labels(kExamples);
  for (int r = 0; r < kExamples; ++r) labels[static_cast<size_t>(r)] = r % kClasses;

  // The frozen body: one dense ReLU layer, weights as the SDK stores them.
  Head layer = fedtiny::client::MakeHead({kIn, kHidden, 2}, 7);
  DenseLayer dense = layer.layers[0];
  dense.relu = true;
  Body body({dense});
  fedtiny::client::StatusOr<RowMatrixXf> features = body.Features(x);
  if (!features.ok()) {
    std::printf("FAIL body: %s\n", features.status().message().c_str());
    return 1;
  }
  Print("features", features->data(), static_cast<size_t>(features->size()));

  TrainPlan plan;
  plan.epochs = 3;
  plan.batch_size = 8;
  plan.learning_rate = 0.1f;
  plan.momentum = 0.5f;
  plan.seed = 11;
  const Head start = fedtiny::client::MakeHead({kHidden, 8, kClasses}, 3);
  auto trainer = HeadTrainer::Create(start, plan);
  if (!trainer.ok()) {
    std::printf("FAIL trainer: %s\n", trainer.status().message().c_str());
    return 1;
  }
  Head straight = start;
  TrainState s1;
  auto r1 = (*trainer)->Train(straight, *features, labels, [] { return true; }, s1);
  if (!r1.ok()) {
    std::printf("FAIL train: %s\n", r1.status().message().c_str());
    return 1;
  }
  const std::vector<float> flat = straight.Flatten();
  Print("head", flat.data(), flat.size());
  const float loss = static_cast<float>(r1->mean_loss);
  Print("mean_loss", &loss, 1);

  // Interrupted after 5 batches (the device was unplugged), then resumed.
  Head resumed = start;
  TrainState s2;
  int batches = 0;
  auto r2 = (*trainer)->Train(resumed, *features, labels, [&] { return batches++ < 5; }, s2);
  if (!r2.ok() || r2->reason != fedtiny::client::StopReason::kIneligible) {
    std::printf("FAIL: the interrupted run did not stop when told\n");
    return 1;
  }
  auto r3 = (*trainer)->Train(resumed, *features, labels, [] { return true; }, s2);
  const std::vector<float> flat2 = resumed.Flatten();
  if (!r3.ok() || flat2.size() != flat.size() ||
      std::memcmp(flat2.data(), flat.data(), flat.size() * sizeof(float)) != 0) {
    std::printf("FAIL: resumed training differs from training straight through\n");
    return 1;
  }
  auto eval = fedtiny::client::Evaluate(straight, *features, labels);
  if (!eval.ok()) return 1;
  const float acc = static_cast<float>(eval->accuracy);
  Print("accuracy", &acc, 1);
  if (!Int8Kernels()) {
    std::printf("FAIL: the int8 kernels refused their input\n");
    return 1;
  }
  std::printf("# working set %ld bytes; loss %.6f -> accuracy %.4f; resume identical\n",
              static_cast<long>((*trainer)->working_bytes()), static_cast<double>(loss),
              static_cast<double>(acc));
  return ArenaBar() ? 0 : 1;
}
