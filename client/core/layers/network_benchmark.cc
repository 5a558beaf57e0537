// A small DS-CNN body on 28x28x1 in float32 (issue 16): conv 3x3/2 to
// 14x14x16, two depthwise-separable blocks (dw 3x3 + pw 1x1 to 32, then
// dw 3x3/2 + pw 1x1 to 64), global average pooling, dense to 10. Time per
// example, multiply-adds, parameters and arena bytes; prints the CPU model and
// the build's instruction sets (docs/benchmarks.md has the figures).
//   bazel run -c opt //client/core/layers:network_benchmark
#include <algorithm>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/layers/int8_conv.h"
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

// The same body's five convolutions in int8 (int8_conv.h: TFLite Micro's
// reference loops, not yet optimized), one example per iteration, against the
// float Network's whole forward above. Ranges calibrated on 8 random examples.
void BM_DsCnnInt8Convolutions(benchmark::State& state) {
  Network net = DsCnn();
  std::vector<unsigned char> block(static_cast<size_t>(net.ArenaBytes()));
  Arena arena(block.data(), block.size());
  if (!net.Bind(arena).ok()) state.SkipWithError("Bind failed");
  // Each layer's float output range over calibration examples.
  std::mt19937 rng(2);
  const int kCalibration = 8;
  const std::vector<float> calib = Random(kCalibration * 784, rng);
  const size_t convs = 5;
  std::vector<std::vector<float>> acts(convs + 1);
  acts[0] = calib;
  for (size_t l = 0; l < convs; ++l) {
    const Shape in = net.shapes()[l], out = net.shapes()[l + 1];
    acts[l + 1].resize(static_cast<size_t>(kCalibration * out.size()));
    for (int r = 0; r < kCalibration; ++r) {
      Forward(net.layers()[l], in, acts[l].data() + r * in.size(),
              acts[l + 1].data() + r * out.size());
    }
  }
  std::vector<Int8Params> params;
  for (const std::vector<float>& a : acts) {
    auto [lo, hi] = std::minmax_element(a.begin(), a.end());
    params.push_back(Int8ParamsForRange(*lo, *hi));
  }
  std::vector<Int8Conv2d> conv;
  std::vector<Int8DepthwiseConv2d> dw;
  for (size_t l = 0; l < convs; ++l) {
    if (l % 2 == 0) {
      conv.push_back(*QuantizeConv2d(std::get<Conv2d>(net.layers()[l]), params[l], params[l + 1]));
    } else {
      dw.push_back(*QuantizeDepthwiseConv2d(std::get<DepthwiseConv2d>(net.layers()[l]), params[l],
                                            params[l + 1]));
    }
  }
  std::vector<int8_t> x(784), ping(14 * 14 * 32), pong(14 * 14 * 32);
  QuantizeInput(calib.data(), 784, params[0], x.data());
  const std::vector<Shape>& s = net.shapes();
  for (auto _ : state) {
    conv[0].Forward(s[0], x.data(), ping.data());
    dw[0].Forward(s[1], ping.data(), pong.data());
    conv[1].Forward(s[2], pong.data(), ping.data());
    dw[1].Forward(s[3], ping.data(), pong.data());
    conv[2].Forward(s[4], pong.data(), ping.data());
    benchmark::DoNotOptimize(ping.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["ns_per_example"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_DsCnnInt8Convolutions);

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
