// A small DS-CNN body on 28x28x1 in float32 (issue 16): conv 3x3/2 to
// 14x14x16, two depthwise-separable blocks (dw 3x3 + pw 1x1 to 32, then
// dw 3x3/2 + pw 1x1 to 64), global average pooling, dense to 10. Time per
// example, multiply-adds, parameters and arena bytes, in float32 and as an
// Int8Network; prints the CPU model and the build's instruction sets
// (docs/benchmarks.md has the figures).
//   bazel run -c opt //client/core/layers:network_benchmark
#include <algorithm>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/layers/int8_network.h"
#include "client/core/layers/network.h"
#include "tools/base/cpu_check.h"

namespace fedtiny::client::layers {
namespace {

Window Square(int32_t k, int32_t s, int32_t p) {
  Window w;
  w.kernel_h = w.kernel_w = k;
  w.stride_h = w.stride_w = s;
  w.padding = Padding::Symmetric(p);
  return w;
}

std::vector<float> Random(int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> g(0.f, 0.3f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = g(rng);
  return v;
}

Network DsCnn() {
  std::mt19937 rng(16);
  Conv2d conv{1, 16, Square(3, 2, 1), Activation::kRelu, {}};
  DepthwiseConv2d dw1{16, 1, Square(3, 1, 1), Activation::kRelu, {}};
  Conv2d pw1{16, 32, Square(1, 1, 0), Activation::kRelu, {}};
  DepthwiseConv2d dw2{32, 1, Square(3, 2, 1), Activation::kRelu, {}};
  Conv2d pw2{32, 64, Square(1, 1, 0), Activation::kRelu, {}};
  Dense fc{64, 10, Activation::kNone, {}};
  conv.params = Random(conv.num_params(), rng);
  dw1.params = Random(dw1.num_params(), rng);
  pw1.params = Random(pw1.num_params(), rng);
  dw2.params = Random(dw2.num_params(), rng);
  pw2.params = Random(pw2.num_params(), rng);
  fc.params = Random(fc.num_params(), rng);
  return *Network::Create(Shape{28, 28, 1}, {conv, dw1, pw1, dw2, pw2, GlobalAvgPool2d{}, fc});
}

// arg 0: rows per Forward call.
void BM_DsCnnForward(benchmark::State& state) {
  const int64_t rows = state.range(0);
  Network net = DsCnn();
  std::vector<unsigned char> block(static_cast<size_t>(net.ArenaBytes()));
  Arena arena(block.data(), block.size());
  if (!net.Bind(arena).ok()) state.SkipWithError("Bind failed");
  std::mt19937 rng(1);
  const std::vector<float> x = Random(rows * 784, rng);
  std::vector<float> y(static_cast<size_t>(rows * 10));
  for (auto _ : state) {
    benchmark::DoNotOptimize(net.Forward(x.data(), rows, y.data()));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["ns_per_example"] =
      benchmark::Counter(static_cast<double>(state.iterations() * rows),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["MMACs_per_example"] = static_cast<double>(net.multiply_adds()) * 1e-6;
  state.counters["params"] = static_cast<double>(net.num_params());
  state.counters["arena_bytes"] = static_cast<double>(net.ArenaBytes());
}
BENCHMARK(BM_DsCnnForward)->Arg(1)->Arg(10);

// The same body as an Int8Network (int8_network.h: TFLite Micro's reference
// arithmetic, per-channel weight scales), calibrated on 8 random examples.
// arg 0: rows per call; arg 1: 1 for float in and out (Forward: quantize,
// layers, dequantize), 0 for int8 in and out (ForwardInt8).
void BM_DsCnnInt8Forward(benchmark::State& state) {
  const int64_t rows = state.range(0);
  const bool with_io = state.range(1) != 0;
  Network net = DsCnn();
  std::mt19937 rng(2);
  const std::vector<float> calib = Random(8 * 784, rng);
  StatusOr<Int8Network> q = QuantizeNetwork(net, calib.data(), 8);
  if (!q.ok()) {
    state.SkipWithError(q.status().message().c_str());
    return;
  }
  std::vector<unsigned char> block(static_cast<size_t>(q->ArenaBytes()));
  Arena arena(block.data(), block.size());
  if (!q->Bind(arena).ok()) state.SkipWithError("Bind failed");
  const std::vector<float> x = Random(rows * 784, rng);
  std::vector<float> y(static_cast<size_t>(rows * 10));
  std::vector<int8_t> qx(x.size()), qy(y.size());
  QuantizeInput(x.data(), static_cast<int64_t>(x.size()), q->input_quant(), qx.data());
  for (auto _ : state) {
    if (with_io) {
      benchmark::DoNotOptimize(q->Forward(x.data(), rows, y.data()));
    } else {
      benchmark::DoNotOptimize(q->ForwardInt8(qx.data(), rows, qy.data()));
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["ns_per_example"] =
      benchmark::Counter(static_cast<double>(state.iterations() * rows),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_bytes"] = static_cast<double>(q->weight_bytes());
  state.counters["arena_bytes"] = static_cast<double>(q->ArenaBytes());
}
BENCHMARK(BM_DsCnnInt8Forward)->ArgNames({"rows", "with_io"})->Args({1, 0})->Args({1, 1})->Args({10, 1});

}  // namespace
}  // namespace fedtiny::client::layers

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  benchmark::AddCustomContext("instruction_sets", fedtiny::BuildInstructionSets());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
