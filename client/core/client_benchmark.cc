// On-device costs: time per training example and working bytes of the head
// trainer, and time per example of the frozen body in float32 and int8.
//   bazel run -c opt //client/core:client_benchmark
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/head_trainer.h"
#include "client/core/model.h"

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
    benchmark::DoNotOptimize(trainer->Train(head, x, y, [] { return true; }, s));
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["ns_per_example"] = benchmark::Counter(
      static_cast<double>(state.iterations() * n),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["working_bytes"] = static_cast<double>(trainer->working_bytes());
  state.counters["params"] = static_cast<double>(head.num_params());
}

// args: input width, output width, int8 (0/1), examples per call.
void BM_BodyForward(benchmark::State& state) {
  const int64_t in = state.range(0), out = state.range(1), n = state.range(3);
  Head h = MakeHead({in, out}, 3);
  h.layers[0].relu = true;
  const Body body = state.range(2) ? Body({Quantize(h.layers[0])}) : Body({h.layers[0]});
  const RowMatrixXf x = RandomRows(n, in, 4);
  for (auto _ : state) benchmark::DoNotOptimize(body.Features(x));
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["ns_per_example"] = benchmark::Counter(
      static_cast<double>(state.iterations() * n),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["weight_bytes"] = static_cast<double>(body.weight_bytes());
}

BENCHMARK(BM_HeadTraining)
    ->ArgNames({"in", "hidden", "classes", "batch", "momentum"})
    ->ArgsProduct({{128}, {64}, {10}, {1, 10, 32}, {0, 1}})
    ->ArgsProduct({{1024}, {256}, {100}, {1, 10, 32}, {0, 1}});
BENCHMARK(BM_BodyForward)
    ->ArgNames({"in", "out", "int8", "n"})
    ->ArgsProduct({{784}, {128}, {0, 1}, {1, 64}})
    ->ArgsProduct({{4096}, {1024}, {0, 1}, {1, 64}});

}  // namespace
}  // namespace fedtiny::client

BENCHMARK_MAIN();
