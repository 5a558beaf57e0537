// Telemetry's recording cost (issue #15: < 1% of one inference) on a
// 784-128-64-10 float model at one row: BM_Predict is the Predictor alone,
// BM_PredictRecorded the RecordingPredictor (two monotonic clock reads and
// Recorder::RecordInference: a mutex, the wall clock, the window's counters
// and reservoirs for a spec of all eight probe kinds, two of them
// activations) with consent on (recording:1) or off (recording:0),
// BM_RecordInference the recorder's call alone and BM_TwoClockReads the
// wrapper's clock reads: the two last add up to the recording cost, which the
// Predict figures' noise on a shared machine hides. Prints the CPU model.
//   bazel build -c opt //client/telemetry:telemetry_benchmark
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/arena.h"
#include "client/core/model.h"
#include "client/core/predict.h"
#include "client/platform/linux/linux_platform.h"
#include "client/telemetry/recorder.h"
#include "client/telemetry/recording_predictor.h"
#include "tools/base/cpu_check.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::telemetry::ProbeKind;
using ::fedtiny::telemetry::TelemetrySpec;

TelemetrySpec AllProbes() {
  TelemetrySpec s;
  s.set_version(1);
  const auto add = [&](const char* name, ProbeKind kind, uint32_t unit) {
    auto* p = s.add_probes();
    p->set_name(name);
    p->set_kind(kind);
    p->set_unit(unit);
    if (kind == fedtiny::telemetry::PREDICTED_CLASS) {
      p->mutable_binning()->set_categories(10);
    } else {
      for (double e : {0.0, 1.0, 10.0, 100.0, 1000.0})
        p->mutable_binning()->add_edges(e);
    }
    p->set_epsilon(0.5);
  };
  add("class", fedtiny::telemetry::PREDICTED_CLASS, 0);
  add("act0", fedtiny::telemetry::ACTIVATION, 0);
  add("act7", fedtiny::telemetry::ACTIVATION, 7);
  add("lat", fedtiny::telemetry::INFERENCE_LATENCY_US, 0);
  add("train", fedtiny::telemetry::TRAINING_LATENCY_US, 0);
  add("arena", fedtiny::telemetry::PEAK_ARENA_BYTES, 0);
  add("energy", fedtiny::telemetry::ENERGY_UJ, 0);
  add("req", fedtiny::telemetry::REQUESTS, 0);
  return s;
}

struct Model {
  Model() {
    Head all = MakeHead({784, 128, 64, 10}, 4);
    head.layers.assign(all.layers.begin() + 1, all.layers.end());
    body = Body({all.layers[0]});
    std::mt19937 gen(5);
    std::normal_distribution<float> g;
    x.resize(784);
    for (float& v : x) v = std::abs(g(gen));
    block.resize(Predictor::ArenaBytes(body, head, 1));
    arena = std::make_unique<Arena>(block.data(), block.size());
    predictor = *Predictor::Create(body, head, 1, *arena);
  }
  Body body{std::vector<BodyLayer>{}};
  Head head;
  std::vector<float> x;
  std::vector<unsigned char> block;
  std::unique_ptr<Arena> arena;
  Predictor* predictor = nullptr;
};

struct Telemetry {
  Telemetry() : rng(MakeOpenSslRandomness()) {
    RecorderOptions o;
    o.cost = {"bench", 2000.0, 0.001};
    recorder = *Recorder::Create(o, wall, *rng);
    if (!recorder->SetSpec(AllProbes()).ok()) std::abort();
    recorder->set_enabled(true);
  }
  RealClock wall;
  std::unique_ptr<Randomness> rng;
  std::unique_ptr<Recorder> recorder;
};

void BM_Predict(benchmark::State& state) {
  Model m;
  int32_t cls[1];
  for (auto _ : state) {
    benchmark::DoNotOptimize(m.predictor->Predict(m.x.data(), 1, {}, cls).ok());
    benchmark::ClobberMemory();
  }
}

void BM_PredictRecorded(benchmark::State& state) {
  Model m;
  Telemetry t;
  t.recorder->set_enabled(state.range(0) != 0);
  RecordingPredictor rp(*m.predictor, *t.recorder, LinuxPlatform().clock,
                        MacsPerRow(m.body, m.head), 4096);
  int32_t cls[1];
  for (auto _ : state) {
    benchmark::DoNotOptimize(rp.Predict(m.x.data(), 1, {}, cls).ok());
    benchmark::ClobberMemory();
  }
  state.counters["window_bytes"] =
      static_cast<double>(t.recorder->storage_bytes());
}

void BM_RecordInference(benchmark::State& state) {
  Telemetry t;
  std::vector<float> features(128, 0.5f);
  const int32_t cls[1] = {3};
  Inference in;
  in.latency_us = 14;
  in.classes = Span<const int32_t>(cls, 1);
  in.features = Span<const float>(features.data(), features.size());
  in.feature_dim = 128;
  in.macs = 109184;
  in.arena_bytes = 6912;
  in.end_monotonic_us =
      1000;  // As the wrapper passes it: the wall clock is read once.
  for (auto _ : state) {
    t.recorder->RecordInference(in);
    benchmark::ClobberMemory();
  }
}

// The wrapper's two monotonic clock reads (the rest of its per-call cost).
void BM_TwoClockReads(benchmark::State& state) {
  Clock& clock = LinuxPlatform().clock;
  for (auto _ : state) {
    const int64_t start = clock.NowMicros();
    benchmark::DoNotOptimize(clock.NowMicros() - start);
  }
}

BENCHMARK(BM_Predict);
BENCHMARK(BM_TwoClockReads);
BENCHMARK(BM_PredictRecorded)->ArgNames({"recording"})->Arg(0)->Arg(1);
BENCHMARK(BM_RecordInference);

}  // namespace
}  // namespace fedtiny::client::telemetry

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  benchmark::AddCustomContext("instruction_sets",
                              fedtiny::BuildInstructionSets());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
