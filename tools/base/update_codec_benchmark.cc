// Encoding and decoding cost of compressed updates (docs/benchmarks.md,
// "Update compression"): d float32 values, Hadamard rotation, b-bit stochastic
// quantization, optional random-k. Prints the CPU model.
//   bazel run -c opt //tools/base:update_codec_benchmark
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "tools/base/cpu_check.h"
#include "tools/base/update_codec.h"

namespace fedtiny {
namespace {

const char* const kSpecs[] = {"hadamard:bits=8", "hadamard:bits=4", "hadamard:bits=2",
                              "hadamard:bits=1", "hadamard:bits=2,k=0.25"};

std::vector<float> Delta(size_t d) {
  std::mt19937 g(1);
  std::normal_distribution<float> n(0.f, 0.01f);
  std::vector<float> x(d);
  for (float& v : x) v = n(g);
  return x;
}

void BM_Encode(benchmark::State& state) {
  const size_t d = static_cast<size_t>(state.range(1));
  CompressionSpec spec;
  std::string error, out;
  if (!ParseCompressionSpec(kSpecs[state.range(0)], &spec, &error)) std::abort();
  const std::vector<float> x = Delta(d);
  uint64_t noise = 0;
  for (auto _ : state) {
    if (!EncodeCompressed(x.data(), d, spec, 42, ++noise, &out, &error)) state.SkipWithError("encode");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(kSpecs[state.range(0)]);
  state.counters["bytes"] = static_cast<double>(out.size());
  state.counters["ratio"] = 4.0 * d / static_cast<double>(out.size());
}

void BM_Decode(benchmark::State& state) {
  const size_t d = static_cast<size_t>(state.range(1));
  CompressionSpec spec;
  std::string error, bytes;
  if (!ParseCompressionSpec(kSpecs[state.range(0)], &spec, &error)) std::abort();
  const std::vector<float> x = Delta(d);
  if (!EncodeCompressed(x.data(), d, spec, 42, 1, &bytes, &error)) std::abort();
  std::vector<float> out;
  for (auto _ : state) {
    if (!DecodeCompressed(bytes, spec, d, 42, &out, &error)) state.SkipWithError("decode");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(kSpecs[state.range(0)]);
}

BENCHMARK(BM_Encode)->ArgsProduct({{0, 1, 2, 3, 4}, {8906, 100000}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)->ArgsProduct({{1, 4}, {100000}})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedtiny

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
