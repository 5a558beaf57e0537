// Instruction counts of a device's three hot operations, for bare-metal
// Cortex-M under QEMU with `-icount shift=0` (tools/cross/perf/icount.sh):
//   int8 body forward   784 -> 128, per example (the integer kernels alone,
//                        and Body::FeaturesInto with float in and out);
//   float body forward  784 -> 128, per example (Body::Features, Eigen);
//   head training step  128 -> 64 -> 10, batch 10 (HeadTrainer).
//
// The counter is the SysTick under -icount (perf/systick_counter.h says how and
// why it counts instructions). Prints `m <name> <instructions>` lines for
// icount.sh and `# ` notes.
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "client/core/head_trainer.h"
#include "client/core/int8_inference.h"
#include "client/core/model.h"
#include "tools/cross/perf/systick_counter.h"

namespace {

using fedtiny::client::Body;
using fedtiny::client::DenseLayer;
using fedtiny::client::Head;
using fedtiny::client::RowMatrixXf;
using fedtiny::perf::Calibrate;
using fedtiny::perf::g_per_tick;
using fedtiny::perf::Report;
using fedtiny::perf::StartSysTick;
using fedtiny::perf::Ticks;

RowMatrixXf Random(int64_t rows, int64_t cols, float lo, float hi,
                   uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  RowMatrixXf x(rows, cols);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

}  // namespace

int main() {
  StartSysTick();
  if (!Calibrate()) {
    std::printf(
        "FAIL: SysTick counts do not scale with the work: run with -icount "
        "shift=0\n");
    return 1;
  }
  Head layer = fedtiny::client::MakeHead({784, 128}, 1);
  DenseLayer dense = layer.layers[0];
  dense.relu = true;
  const RowMatrixXf x = Random(10, 784, 0, 1, 2);
  Body f32({dense});
  Body i8({fedtiny::client::Quantize(dense)});
  if (!i8.Calibrate(x).ok()) return 1;
  const fedtiny::client::Int8Body& k = i8.int8_runs()[0].body;

  // Integer kernels alone: int8 in, int8 out.
  std::vector<int8_t> qx(10 * 784), qy(10 * 128),
      scratch(Int8ScratchBytes(k, 10));
  fedtiny::client::QuantizeInput(x.data(), x.size(), k.input(), qx.data());
  auto kernel = [&](int64_t rows) {
    return Ticks([&] {
      (void)fedtiny::client::Int8BodyForward(k, qx.data(), rows * 784, rows,
                                             qy.data(), rows * 128,
                                             scratch.data(), scratch.size());
    });
  };
  const uint32_t k1 = kernel(1), k10 = kernel(10);
  Report("int8_kernel_per_example", k10 * g_per_tick / 10);
  std::printf(
      "# int8 kernel: 1 example %.0f, 10 examples %.0f instructions (ratio "
      "%.2f)\n",
      k1 * g_per_tick, k10 * g_per_tick, static_cast<double>(k10) / k1);
  if (k10 < 9 * k1 || k10 > 11 * k1) return 1;

  // The runtime's no-allocation path: float in (quantized), float out.
  std::vector<int8_t> arena(i8.FeaturesArenaBytes(10));
  RowMatrixXf out(10, 128);
  const uint32_t fi =
      Ticks([&] { (void)i8.FeaturesInto(x.data(), 10, out.data(), arena); });
  Report("int8_features_into_per_example", fi * g_per_tick / 10);

  // Float body, Body::Features (Eigen; allocates its result).
  const uint32_t f10 = Ticks([&] { (void)f32.Features(x); });
  Report("float_body_per_example", f10 * g_per_tick / 10);

  // Head step: 5 steps minus 1 step, so Train()'s setup cancels out.
  const RowMatrixXf feats = Random(50, 128, 0, 1, 3);
  std::vector<int32_t> labels(50);
  for (int i = 0; i < 50; ++i) labels[static_cast<size_t>(i)] = i % 10;
  fedtiny::client::TrainPlan plan;
  plan.batch_size = 10;
  const Head head = fedtiny::client::MakeHead({128, 64, 10}, 4);
  auto trainer = fedtiny::client::HeadTrainer::Create(head, plan);
  if (!trainer.ok()) return 1;
  auto train = [&](int64_t n) {
    Head h = head;
    fedtiny::client::TrainState state;
    const RowMatrixXf f = feats.topRows(n);
    const fedtiny::client::Span<const int32_t> y(labels.data(),
                                                 static_cast<size_t>(n));
    return Ticks([&] {
      (void)(*trainer)->Train(
          h, f, y, [] { return true; }, state);
    });
  };
  const uint32_t s1 = train(10), s5 = train(50);
  Report("head_step_batch10", (s5 - s1) * g_per_tick / 4);
  std::printf("# head: Train() of 1 step %.0f, of 5 steps %.0f instructions\n",
              s1 * g_per_tick, s5 * g_per_tick);
  return 0;
}
