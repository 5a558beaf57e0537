// On-device costs: time per training example and working bytes of the head
// trainer, client updates per second on the simulator's workload, and time per
// example of the frozen body in float32 and int8. Prints the CPU model and the
// instruction sets of the build (docs/benchmarks.md has the figures).
//   bazel run -c opt //client/core:client_benchmark
//   bazel run -c opt --config=x86_64_v3 //client/core:client_benchmark  #
//   AVX2+FMA CPUs
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"
#include "client/core/predict.h"
#include "tools/base/cpu_check.h"

namespace fedtiny::client {
namespace {

RowMatrixXf RandomRows(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  RowMatrixXf x(n, d);
  for (int64_t i = 0; i < x.size(); ++i) x.data()[i] = g(rng);
  return x;
}

// args: input width, hidden width, classes, batch, momentum (0/1).
void BM_HeadTraining(benchmark::State& state) {
  const int64_t in = state.range(0), hidden = state.range(1), classes = state.range(2);
  const int batch = static_cast<int>(state.range(3));
  const float momentum = state.range(4) ? 0.9f : 0.f;
  const int64_t n = 640;
  Head head = MakeHead({in, hidden, classes}, 1);
  const RowMatrixXf x = RandomRows(n, in, 2);
  std::vector<int32_t> y(n);
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<int32_t>(i % classes);
  auto trainer = *HeadTrainer::Create(head, TrainPlan{1, batch, 0.01f, momentum});
  for (auto _ : state) {
    TrainState s;
    benchmark::DoNotOptimize(trainer->Train(
        head, x, y, [] { return true; }, s));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["ns_per_example"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["working_bytes"] = static_cast<double>(trainer->working_bytes());
  state.counters["params"] = static_cast<double>(head.num_params());
}

// One client update of the simulator's fmnist-head workload, as a device runs
// it: a 128 -> 64 -> 10 head, one epoch of batches of 10 over the client's
// examples (60 in arg 0: 60,000 images over 1,000 clients), lr 0.05. Clients
// take turns from a pool of 64, each from the same starting head copied into
// the trainer's head (a device receives it over the network).
// items/s = client updates per second on one core; GFLOPs counts 2 per
// multiply-add.
void BM_ClientUpdate(benchmark::State& state) {
  const int64_t n = state.range(0), kClients = 64;
  const Head start = MakeHead({128, 64, 10}, 1);
  std::vector<RowMatrixXf> x;
  std::vector<std::vector<int32_t>> y;
  for (int64_t c = 0; c < kClients; ++c) {
    x.push_back(RandomRows(n, 128, 10 + static_cast<uint32_t>(c)));
    y.emplace_back(n);
    for (int64_t i = 0; i < n; ++i) y.back()[i] = static_cast<int32_t>((i * 7 + c) % 10);
  }
  auto trainer = *HeadTrainer::Create(start, TrainPlan{1, 10, 0.05f});
  Head local = start;
  int64_t c = 0, correct = 0;
  for (auto _ : state) {
    for (size_t l = 0; l < local.layers.size(); ++l) {
      local.layers[l].w = start.layers[l].w;  // Same sizes: copies, no allocation.
      local.layers[l].b = start.layers[l].b;
    }
    TrainState s;
    trainer->set_seed(static_cast<uint64_t>(c));
    StatusOr<TrainResult> r = trainer->Train(
        local, x[c], y[c], [] { return true; }, s);
    correct += r->correct;
    benchmark::DoNotOptimize(local.layers[0].w.data());
    c = (c + 1) % kClients;
  }
  state.SetItemsProcessed(state.iterations());
  // Per example: forward (both layers), weight gradients (both), input delta of
  // layer 2.
  const double flops = 2.0 * n * (2 * (128 * 64 + 64 * 10) + 64 * 10);
  state.counters["GFLOPs"] =
      benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["train_acc"] = static_cast<double>(correct) / (state.iterations() * n);
}

// args: input width, output width, int8 (0/1), examples per call.
void BM_BodyForward(benchmark::State& state) {
  const int64_t in = state.range(0), out = state.range(1), n = state.range(3);
  Head h = MakeHead({in, out}, 3);
  h.layers[0].relu = true;
  Body body = state.range(2) ? Body({Quantize(h.layers[0])}) : Body({h.layers[0]});
  const RowMatrixXf x = RandomRows(n, in, 4);
  // Calibrated once, as a device does at load (an int8 body runs the integer
  // kernels); otherwise every call would calibrate on its own inputs.
  if (state.range(2) && !body.Calibrate(x).ok()) state.SkipWithError("calibration failed");
  for (auto _ : state) benchmark::DoNotOptimize(body.Features(x));
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["ns_per_example"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_bytes"] = static_cast<double>(body.weight_bytes());
}

// One on-device inference (Predictor, fixed arena) of a 784-128-64-10 model:
// the float body or the calibrated int8 body, then the head, per example.
// args: rows per call, int8 body (0/1).
void BM_Predict(benchmark::State& state) {
  const int64_t rows = state.range(0);
  Head all = MakeHead({784, 128, 64, 10}, 4);
  Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  Body body({all.layers[0]});
  RowMatrixXf x = RandomRows(rows, 784, 5).cwiseAbs();
  if (state.range(1)) {
    body = Body({Quantize(all.layers[0])});
    if (!body.Calibrate(x).ok()) state.SkipWithError("calibration failed");
  }
  std::vector<unsigned char> block(Predictor::ArenaBytes(body, head, rows));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(body, head, rows, arena);
  std::vector<float> probs(rows * 10);
  std::vector<int32_t> classes(rows);
  for (auto _ : state) {
    benchmark::DoNotOptimize(p->Predict(x.data(), rows, probs, classes).ok());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["arena_bytes"] = static_cast<double>(block.size());
}

BENCHMARK(BM_Predict)->ArgNames({"rows", "int8"})->Args({1, 0})->Args({1, 1})->Args({32, 0});
BENCHMARK(BM_HeadTraining)
    ->ArgNames({"in", "hidden", "classes", "batch", "momentum"})
    ->ArgsProduct({{128}, {64}, {10}, {1, 10, 32}, {0, 1}})
    ->ArgsProduct({{1024}, {256}, {100}, {1, 10, 32}, {0, 1}});
BENCHMARK(BM_ClientUpdate)->ArgNames({"examples"})->Arg(60)->Arg(600);
BENCHMARK(BM_BodyForward)
    ->ArgNames({"in", "out", "int8", "n"})
    ->ArgsProduct({{784}, {128}, {0, 1}, {1, 64}})
    ->ArgsProduct({{4096}, {1024}, {0, 1}, {1, 64}});

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
