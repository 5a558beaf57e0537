// Instruction counts of a device's three hot operations, for bare-metal
// Cortex-M under QEMU with `-icount shift=0` (tools/cross/perf/icount.sh):
//   int8 body forward   784 -> 128, per example (the integer kernels alone,
//                        and Body::FeaturesInto with float in and out);
//   float body forward  784 -> 128, per example (Body::Features, Eigen);
//   head training step  128 -> 64 -> 10, batch 10 (HeadTrainer).
//
// The counter: with -icount shift=0 QEMU advances its virtual clock by 1 ns per
// guest instruction, and the SysTick (processor clock, 25 MHz on the MPS2
// boards) counts that virtual time. So SysTick ticks are instructions / 40,
// measured here rather than assumed: a loop of a known instruction count is
// timed first, at two lengths, and the program fails unless the counts scale
// with the work. Instructions, not cycles: QEMU models no pipeline or wait
// states. Prints `m <name> <instructions>` lines for icount.sh and `# ` notes.
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "client/core/head_trainer.h"
#include "client/core/int8_inference.h"
#include "client/core/model.h"

namespace {

using fedtiny::client::Body;
using fedtiny::client::DenseLayer;
using fedtiny::client::Head;
using fedtiny::client::RowMatrixXf;

// SysTick: CTRL, LOAD, VAL (24-bit down counter).
volatile uint32_t* const kSysTick = reinterpret_cast<volatile uint32_t*>(0xE000E010u);

void StartSysTick() {
  kSysTick[1] = 0xFFFFFFu;
  kSysTick[2] = 0;
  kSysTick[0] = 0x5u;  // ENABLE | CLKSOURCE = processor clock; no interrupt.
}

// Ticks taken by f(); at most 2^24 - 1 (671 M instructions at 40 per tick).
template <typename F>
uint32_t Ticks(F&& f) {
  const uint32_t start = kSysTick[2];
  f();
  const uint32_t end = kSysTick[2];
  return (start - end) & 0xFFFFFFu;
}

// Exactly 2 * n instructions (subs, bne) plus a few around them.
__attribute__((noinline)) void Spin(uint32_t n) {
  __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

RowMatrixXf Random(int64_t rows, int64_t cols, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  RowMatrixXf x(rows, cols);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  return x;
}

double g_per_tick = 0;  // Instructions per SysTick tick, measured.

void Report(const char* name, double instructions) {
  std::printf("m %s %lu\n", name, static_cast<unsigned long>(instructions + 0.5));
}

bool Calibrate() {
  const uint32_t t1 = Ticks([] { Spin(1000000); });
  const uint32_t t2 = Ticks([] { Spin(2000000); });
  g_per_tick = 2.0 * 1000000 / static_cast<double>(t2 - t1);
  const double ratio = static_cast<double>(t2) / t1;
  std::printf("# SysTick: %lu and %lu ticks for 2 M and 4 M loop instructions: %.3f instructions"
              " per tick, ratio %.4f\n",
              static_cast<unsigned long>(t1), static_cast<unsigned long>(t2), g_per_tick, ratio);
  return ratio > 1.98 && ratio < 2.02;
}

}  // namespace

int main() {
  StartSysTick();
  if (!Calibrate()) {
    std::printf("FAIL: SysTick counts do not scale with the work: run with -icount shift=0\n");
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
  std::vector<int8_t> qx(10 * 784), qy(10 * 128), scratch(Int8ScratchBytes(k, 10));
  fedtiny::client::QuantizeInput(x.data(), x.size(), k.input(), qx.data());
  auto kernel = [&](int64_t rows) {
    return Ticks([&] {
      (void)fedtiny::client::Int8BodyForward(k, qx.data(), rows * 784, rows, qy.data(),
                                             rows * 128, scratch.data(), scratch.size());
    });
  };
  const uint32_t k1 = kernel(1), k10 = kernel(10);
  Report("int8_kernel_per_example", k10 * g_per_tick / 10);
  std::printf("# int8 kernel: 1 example %.0f, 10 examples %.0f instructions (ratio %.2f)\n",
              k1 * g_per_tick, k10 * g_per_tick, static_cast<double>(k10) / k1);
  if (k10 < 9 * k1 || k10 > 11 * k1) return 1;

  // The runtime's no-allocation path: float in (quantized), float out.
  std::vector<int8_t> arena(i8.FeaturesArenaBytes(10));
  RowMatrixXf out(10, 128);
  const uint32_t fi = Ticks([&] { (void)i8.FeaturesInto(x.data(), 10, out.data(), arena); });
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
    const fedtiny::client::Span<const int32_t> y(labels.data(), static_cast<size_t>(n));
    return Ticks([&] { (void)(*trainer)->Train(h, f, y, [] { return true; }, state); });
  };
  const uint32_t s1 = train(10), s5 = train(50);
  Report("head_step_batch10", (s5 - s1) * g_per_tick / 4);
  std::printf("# head: Train() of 1 step %.0f, of 5 steps %.0f instructions\n", s1 * g_per_tick,
              s5 * g_per_tick);
  return 0;
}
