// The body's forward pass, 784 -> 128 -> 64 with ReLU, three ways: integer
// int8 (int8_inference.h), float with the trainer's SIMD kernels
// (dense_kernels.h), and float as a plain scalar loop (what a
// microcontroller's compiler makes of it). Prints the CPU model and the
// instruction sets of the build (docs/benchmarks.md has the figures).
//   bazel run -c opt //client/core:int8_inference_benchmark
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/dense_kernels.h"
#include "client/core/int8_inference.h"
#include "tools/base/cpu_check.h"

namespace fedtiny::client {
namespace {

constexpr int32_t kWidths[] = {784, 128, 64};
constexpr int kLayers = 2;

// Float layers as DenseLayer stores them (column-major outputs x inputs, which
// is dense_kernels' k x n row-major operand) and images in [0, 1].
struct Fixture {
  std::vector<std::vector<float>> w, b;
  std::vector<float> x;
  Int8Body body;

  explicit Fixture(int64_t rows) {
    std::mt19937 rng(1);
    std::normal_distribution<float> g;
    std::uniform_real_distribution<float> u(0.f, 1.f);
    std::vector<FloatDenseView> views;
    for (int l = 0; l < kLayers; ++l) {
      w.emplace_back(static_cast<size_t>(kWidths[l]) * kWidths[l + 1]);
      for (float& v : w.back()) v = g(rng) * std::sqrt(2.f / kWidths[l]);
      b.emplace_back(kWidths[l + 1]);
      for (float& v : b.back()) v = 0.1f * g(rng);
    }
    for (int l = 0; l < kLayers; ++l)
      views.push_back({kWidths[l], kWidths[l + 1], w[l].data(), b[l].data(), true});
    x.resize(std::max<int64_t>(rows, 64) * kWidths[0]);
    for (float& v : x) v = u(rng) < 0.5f ? 0.f : u(rng);
    const Int8Status s = QuantizeBody(views.data(), kLayers, x.data(), 64, &body);
    if (!s.ok()) std::abort();
  }
};

void SetCounters(benchmark::State& state, int64_t rows) {
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["ns_per_example"] =
      benchmark::Counter(static_cast<double>(state.iterations() * rows),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// args: batch, with_io (0: int8 in and out; 1: also QuantizeInput from float
// and DequantizeOutput to float).
void BM_Int8Body(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const bool io = state.range(1) != 0;
  Fixture f(rows);
  std::vector<int8_t> q(rows * kWidths[0]), y(rows * kWidths[kLayers]);
  std::vector<int8_t> scratch(Int8ScratchBytes(f.body, rows));
  std::vector<float> out(y.size());
  QuantizeInput(f.x.data(), q.size(), f.body.input(), q.data());
  for (auto _ : state) {
    if (io) QuantizeInput(f.x.data(), q.size(), f.body.input(), q.data());
    const Int8Status s = Int8BodyForward(f.body, q.data(), q.size(), rows, y.data(), y.size(),
                                         scratch.data(), scratch.size());
    if (io) DequantizeOutput(y.data(), y.size(), f.body.output(), out.data());
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, rows);
  // What inference reads: int8 weights, then folded bias, multiplier and shift
  // (int32 each) per output channel.
  state.counters["weight_bytes"] = static_cast<double>(784 * 128 + 128 * 64 + 3 * 4 * (128 + 64));
  state.counters["scratch_bytes"] = static_cast<double>(scratch.size());
}

// args: batch.
void BM_FloatBodyKernels(benchmark::State& state) {
  const int64_t rows = state.range(0);
  Fixture f(rows);
  std::vector<float> h(rows * kWidths[1]), y(rows * kWidths[2]);
  std::vector<const float*> xr(rows), hr(rows);
  for (int64_t r = 0; r < rows; ++r) {
    xr[r] = f.x.data() + r * kWidths[0];
    hr[r] = h.data() + r * kWidths[1];
  }
  for (auto _ : state) {
    DenseForward(xr.data(), rows, kWidths[0], f.w[0].data(), kWidths[1], f.b[0].data(), true,
                 h.data());
    DenseForward(hr.data(), rows, kWidths[1], f.w[1].data(), kWidths[2], f.b[1].data(), true,
                 y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, rows);
}

// The plain loop: y = b + sum_i x_i * W[:, i], then ReLU, walking the
// column-major weights contiguously (one axpy per input).
void PlainDense(const float* x, int64_t rows, int32_t k, const float* w, const float* b, int32_t n,
                float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    float* yr = y + r * n;
    for (int32_t o = 0; o < n; ++o) yr[o] = b[o];
    for (int32_t i = 0; i < k; ++i) {
      const float xi = x[r * k + i];
      const float* wi = w + static_cast<int64_t>(i) * n;
      for (int32_t o = 0; o < n; ++o) yr[o] += xi * wi[o];
    }
    for (int32_t o = 0; o < n; ++o) yr[o] = std::max(yr[o], 0.f);
  }
}

// args: batch.
void BM_FloatBodyPlainLoop(benchmark::State& state) {
  const int64_t rows = state.range(0);
  Fixture f(rows);
  std::vector<float> h(rows * kWidths[1]), y(rows * kWidths[2]);
  for (auto _ : state) {
    PlainDense(f.x.data(), rows, kWidths[0], f.w[0].data(), f.b[0].data(), kWidths[1], h.data());
    PlainDense(h.data(), rows, kWidths[1], f.w[1].data(), f.b[1].data(), kWidths[2], y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, rows);
}

BENCHMARK(BM_Int8Body)->ArgNames({"batch", "with_io"})->ArgsProduct({{1, 10}, {0, 1}});
BENCHMARK(BM_FloatBodyKernels)->ArgNames({"batch"})->Arg(1)->Arg(10);
BENCHMARK(BM_FloatBodyPlainLoop)->ArgNames({"batch"})->Arg(1)->Arg(10);

}  // namespace
}  // namespace fedtiny::client

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  benchmark::AddCustomContext("instruction_sets", fedtiny::BuildInstructionSets());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
