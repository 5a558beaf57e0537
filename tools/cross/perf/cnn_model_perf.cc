// The real DS-CNN's int8 body on bare-metal Cortex-M under QEMU (issue 16
// item 5): builds the Int8Network from the header cnn_model_gen wrote
// (cnn_model_data.h: sim/models/ds_cnn.onnx imported with two head layers, its
// int8 variant calibrated on the proxy split, test images and the host's
// outputs), runs every image as a device would (pixels / 255, QuantizeInput,
// Int8Network::ForwardInt8 in a static arena) and requires the int8 outputs to
// be the host's byte for byte; then the float head (cnn_head.h) on the
// dequantized outputs must give the host's top-1. Prints `m <name> <value>`
// lines (instructions per example by the SysTick under `-icount shift=0`,
// perf/systick_counter.h; top-1; RAM) for cnn_model_icount.sh and
// //tools/cross:cnn_model_test, and exits 1 on any mismatch.
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "client/core/int8_inference.h"
#include "client/core/layers/int8_network.h"
#include "cnn_model_data.h"
#include "tools/cross/perf/cnn_head.h"
#include "tools/cross/perf/systick_counter.h"

namespace {

using namespace fedtiny::cnn_model;  // NOLINT: a program of one function.

// The arena: static, as a device's would be.
alignas(16) unsigned char g_arena[kArenaBytes];

}  // namespace

int main() {
  fedtiny::perf::StartSysTick();
  if (!fedtiny::perf::Calibrate()) {
    std::printf("FAIL: SysTick counts do not scale with the work: run with -icount shift=0\n");
    return 1;
  }
  const long heap_before = static_cast<long>(mallinfo().uordblks);
  auto net = BuildNetwork();
  if (!net.ok()) {
    std::printf("FAIL: Int8Network::Create: %s\n", net.status().message().c_str());
    return 1;
  }
  const long heap_network = static_cast<long>(mallinfo().uordblks) - heap_before;
  fedtiny::client::Arena arena(g_arena, sizeof g_arena);
  if (!net->Bind(arena).ok()) {
    std::printf("FAIL: arena too small (%ld bytes needed)\n", static_cast<long>(net->ArenaBytes()));
    return 1;
  }
  if (net->input().size() != kInputSize || net->output().size() != kFeatures) {
    std::printf("FAIL: the network's shapes are not the header's\n");
    return 1;
  }
  static float x[kInputSize], features[kFeatures];
  static int8_t qx[kInputSize], qy[kFeatures];
  double instructions = 0;
  int mismatched = 0, top1_differs = 0, correct = 0;
  for (int32_t i = 0; i < kImages; ++i) {
    const uint8_t* pixels = kImagePixels + i * kInputSize;
    for (int32_t j = 0; j < kInputSize; ++j) x[j] = pixels[j] / 255.0f;
    fedtiny::client::QuantizeInput(x, kInputSize, net->input_quant(), qx);
    fedtiny::client::Status status;
    instructions += fedtiny::perf::Ticks([&] { status = net->ForwardInt8(qx, 1, qy); }) *
                    fedtiny::perf::g_per_tick;
    if (!status.ok()) {
      std::printf("FAIL: image %ld: %s\n", static_cast<long>(i), status.message().c_str());
      return 1;
    }
    const int8_t* want = kExpectedFeatures + i * kFeatures;
    if (std::memcmp(qy, want, kFeatures) != 0) {
      int32_t j = 0;
      while (qy[j] == want[j]) ++j;
      std::printf("MISMATCH: image %ld: int8 output %ld is %d, the host's %d\n",
                  static_cast<long>(i), static_cast<long>(j), qy[j], want[j]);
      ++mismatched;
    }
    fedtiny::client::DequantizeOutput(qy, kFeatures, net->output_quant(), features);
    const int32_t top1 = HeadTop1(kHead, 2, features);
    if (top1 != kExpectedTop1[i]) {
      std::printf("MISMATCH: image %ld: top-1 %ld, the host's %d\n", static_cast<long>(i),
                  static_cast<long>(top1), kExpectedTop1[i]);
      ++top1_differs;
    }
    correct += top1 == kLabels[i];
  }
  std::printf("m images %ld\n", static_cast<long>(kImages));
  std::printf("m mismatched_images %d\n", mismatched);
  std::printf("m top1_correct %d\n", correct);
  std::printf("m int8_model_per_example %.0f\n", instructions / kImages);
  std::printf("m arena_bytes %ld\n", static_cast<long>(net->ArenaBytes()));
  std::printf("m weight_bytes %ld\n", static_cast<long>(net->weight_bytes()));
  std::printf("m network_heap_bytes %ld\n", heap_network);
  std::printf("# real DS-CNN int8 body: %d/%ld correct (host %ld), %.0f instructions per example\n",
              correct, static_cast<long>(kImages), static_cast<long>(kHostCorrect),
              instructions / kImages);
  if (mismatched > 0 || top1_differs > 0 || correct != kHostCorrect) {
    std::printf("FAIL: %d of %ld images' int8 outputs and %d top-1 differ from the host's\n",
                mismatched, static_cast<long>(kImages), top1_differs);
    return 1;
  }
  std::printf("PASS: %ld images, int8 outputs byte-identical to the host's\n",
              static_cast<long>(kImages));
  return 0;
}
