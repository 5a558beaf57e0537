// Time per training example of the two Fashion-MNIST workloads on the host, as a
// device of the simulator spends it each round: the frozen body's forward over
// its examples (client::Body::Features, float32 or the int8 variant), then one
// epoch of the head's training (batch 10) on those features. The dense body is
// 784 -> 128 ReLU (sim's pre-trained shape, weights from a seed); the DS-CNN is
// sim/models/ds_cnn.onnx as `flctl models import` makes it, its int8 variant
// calibrated on 600 Fashion-MNIST training images.
//
//   bazel run -c opt //tools/onnx:cnn_workload_benchmark -- $PWD/sim/models/ds_cnn.onnx
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"
#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "proto/model_codec.h"
#include "sim/fashion_mnist.h"
#include "tools/base/atomic_file.h"
#include "tools/base/cpu_check.h"
#include "tools/onnx/onnx_task.h"

namespace fedtiny::onnx_io {
namespace {

std::string g_onnx_path;
constexpr int64_t kExamples = 60;  // A device's round: 60 examples.

struct Workload {
  client::Body body;
  client::Head head;
};

const sim::FashionMnist& Data() {
  static const sim::FashionMnist* data = new sim::FashionMnist(*sim::LoadFashionMnist());
  return *data;
}

client::RowMatrixXf Images(int64_t n, int64_t offset) {
  return Data().train.images.middleRows(offset, n);
}

// 0: dense float32, 1: dense int8, 2: DS-CNN float32, 3: DS-CNN int8.
Workload Make(int which) {
  if (which < 2) {
    client::Head all = client::MakeHead({784, 128, 64, 10}, 1);
    client::Head head;
    head.layers.assign(all.layers.begin() + 1, all.layers.end());
    v1::Model m = client::ModelToProto(client::Body({all.layers[0]}), head);
    if (which == 1) m = Int8BodyVariant(m);
    client::Body body = *client::BodyFromProto(m);
    if (which == 1) (void)body.Calibrate(Images(600, 0));
    return {body, head};
  }
  const v1::Model m = *ModelFromOnnx(*ReadFile(g_onnx_path), 2);
  const v1::Model q = which == 3 ? *Int8Variant(m, Images(600, 0)) : m;
  return {*client::BodyFromProto(q), *client::HeadFromProto(q)};
}

void BM_TrainingExample(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  Workload w = Make(which);
  const client::RowMatrixXf x = Images(kExamples, 6000);
  const std::vector<int32_t> labels(Data().train.labels.begin() + 6000,
                                    Data().train.labels.begin() + 6000 + kExamples);
  client::TrainPlan plan;
  auto trainer = client::HeadTrainer::Create(w.head, plan);
  if (!trainer.ok()) {
    state.SkipWithError("trainer");
    return;
  }
  double body_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    client::RowMatrixXf features = *w.body.Features(x);
    body_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    client::Head head = w.head;
    client::TrainState ts;
    benchmark::DoNotOptimize(
        (*trainer)->Train(head, features, labels, [] { return true; }, ts));
  }
  const double examples = static_cast<double>(state.iterations() * kExamples);
  state.SetItemsProcessed(state.iterations() * kExamples);
  state.counters["us_per_example"] =
      benchmark::Counter(examples / 1e6, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["body_us_per_example"] = body_s * 1e6 / examples;
  state.counters["body_multiply_adds"] = static_cast<double>(w.body.multiply_adds());
  state.SetLabel(which == 0 ? "dense float32" : which == 1 ? "dense int8"
                 : which == 2 ? "ds_cnn float32" : "ds_cnn int8");
}
BENCHMARK(BM_TrainingExample)->ArgName("workload")->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace fedtiny::onnx_io

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: cnn_workload_benchmark PATH/ds_cnn.onnx [benchmark flags]\n");
    return 2;
  }
  fedtiny::onnx_io::g_onnx_path = argv[1];
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  argv[1] = argv[0];
  ++argv;
  --argc;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
