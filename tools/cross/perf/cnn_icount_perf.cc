// Instruction counts of the convolutional body (issue 16) on bare-metal
// Cortex-M under QEMU with `-icount shift=0` (tools/cross/perf/cnn_icount.sh):
// the DS-CNN body of //client/core/layers:network_benchmark (28x28x1, conv
// 3x3/2 to 16, dw 3x3 + pw to 32, dw 3x3/2 + pw to 64, global average, dense
// to 10; 0.272 M multiply-adds), one example, as
//   int8_cnn_kernel:  Int8Network::ForwardInt8 (int8 in and out, integers only);
//   int8_cnn_forward: Int8Network::Forward (float in, quantized, float out);
//   float_cnn:        the float32 Network::Forward.
// The int8 network is QuantizeNetwork of the float one on 4 random examples.
// The counter is the SysTick (perf/systick_counter.h). Prints `m <name>
// <instructions>` lines for cnn_icount.sh and `# ` notes.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "client/core/layers/int8_network.h"
#include "client/core/layers/network.h"
#include "tools/cross/perf/systick_counter.h"

namespace {

using namespace fedtiny::client::layers;  // NOLINT: a program of one function.
using fedtiny::client::Arena;
using fedtiny::perf::g_per_tick;
using fedtiny::perf::Report;
using fedtiny::perf::Ticks;

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

// The benchmark's body, with the same seed.
fedtiny::client::StatusOr<Network> DsCnn() {
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
  return Network::Create(Shape{28, 28, 1}, {conv, dw1, pw1, dw2, pw2, GlobalAvgPool2d{}, fc});
}

// The arenas: static, as a device's would be.
alignas(16) unsigned char g_float_arena[40 * 1024];
alignas(16) unsigned char g_int8_arena[12 * 1024];

}  // namespace

int main() {
  fedtiny::perf::StartSysTick();
  if (!fedtiny::perf::Calibrate()) {
    std::printf("FAIL: SysTick counts do not scale with the work: run with -icount shift=0\n");
    return 1;
  }
  auto net = DsCnn();
  if (!net.ok()) return 1;
  std::mt19937 rng(2);
  const std::vector<float> calib = Random(4 * 784, rng);
  auto q = QuantizeNetwork(*net, calib.data(), 4);
  if (!q.ok()) {
    std::printf("FAIL: %s\n", q.status().message().c_str());
    return 1;
  }
  Arena float_arena(g_float_arena, sizeof g_float_arena);
  Arena int8_arena(g_int8_arena, sizeof g_int8_arena);
  if (!net->Bind(float_arena).ok() || !q->Bind(int8_arena).ok()) {
    std::printf("FAIL: arenas too small (%ld, %ld bytes needed)\n",
                static_cast<long>(net->ArenaBytes()), static_cast<long>(q->ArenaBytes()));
    return 1;
  }
  const std::vector<float> x = Random(3 * 784, rng);
  std::vector<int8_t> qx(x.size()), qy(3 * 10);
  fedtiny::client::QuantizeInput(x.data(), static_cast<int64_t>(x.size()), q->input_quant(),
                                 qx.data());
  std::vector<float> y(3 * 10);

  auto kernel = [&](int64_t rows) {
    return Ticks([&] { (void)q->ForwardInt8(qx.data(), rows, qy.data()); });
  };
  const uint32_t k1 = kernel(1), k3 = kernel(3);
  Report("int8_cnn_kernel_per_example", k3 * g_per_tick / 3);
  std::printf("# int8 CNN: 1 example %.0f, 3 examples %.0f instructions (ratio %.2f)\n",
              k1 * g_per_tick, k3 * g_per_tick, static_cast<double>(k3) / k1);
  if (k3 < 2.8 * k1 || k3 > 3.2 * k1) return 1;
  const uint32_t f3 = Ticks([&] { (void)q->Forward(x.data(), 3, y.data()); });
  Report("int8_cnn_forward_per_example", f3 * g_per_tick / 3);
  const uint32_t n3 = Ticks([&] { (void)net->Forward(x.data(), 3, y.data()); });
  Report("float_cnn_per_example", n3 * g_per_tick / 3);
  std::printf("# weights: int8 %ld bytes, float %ld; arenas: int8 %ld, float %ld bytes\n",
              static_cast<long>(q->weight_bytes()), static_cast<long>(net->num_params() * 4),
              static_cast<long>(q->ArenaBytes()), static_cast<long>(net->ArenaBytes()));
  // Where the int8 instructions go, layer by layer (one example).
  static int8_t a[14 * 14 * 32], b[14 * 14 * 32];
  std::copy(qx.begin(), qx.begin() + 784, a);
  for (size_t i = 0; i < q->layers().size(); ++i) {
    const uint32_t t = Ticks([&] {
      std::visit([&](const auto& l) { l.Forward(q->shapes()[i], a, b); }, q->layers()[i]);
    });
    std::printf("# int8 layer %u (%s): %.0f instructions\n", static_cast<unsigned>(i),
                std::visit([](const auto& l) { return l.kName; }, q->layers()[i]),
                t * g_per_tick);
    std::copy(b, b + q->shapes()[i + 1].size(), a);
  }
  return 0;
}
