// Every aggregation method at n in {100, 1000} updates and dim in {1e4, 1e6},
// next to a reference that streams the same bytes once (a plain sum). Reports
// updates/s (items_per_second) and update bytes consumed per second
// (bytes_per_second). One iteration = accumulate n updates + report.
// Also: `memory_read_bandwidth` (a vectorized read-only sum over 1 GiB, far
// beyond the last-level cache: the machine's streaming read bandwidth, against
// which FedAvg's bytes/s is judged) and `gram` (the centred double Gram matrix
// behind Krum, Multi-Krum, Bulyan and NNM, alone). The CPU model is printed in
// the context header.
//   bazel run -c opt //aggregation:aggregation_benchmark
//   bazel run -c opt //aggregation:aggregation_benchmark -- --benchmark_filter=d:10000/
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "aggregation/distances.h"
#include "aggregation/dp_fedavg.h"
#include "aggregation/factory.h"
#include "benchmark/benchmark.h"
#include "tools/base/cpu_check.h"

namespace fedtiny::aggregation {
namespace {

// Random updates shared by every benchmark of a size (n * dim floats).
const std::vector<float>& Updates(int64_t n, int64_t dim) {
  static std::vector<float>* cache = new std::vector<float>;
  static int64_t cached_n = 0, cached_dim = 0;
  if (cached_n != n || cached_dim != dim) {
    cache->assign(n * dim, 0.f);
    std::mt19937 rng(1);
    std::normal_distribution<float> g;
    for (float& v : *cache) v = g(rng);
    cached_n = n;
    cached_dim = dim;
  }
  return *cache;
}

void SetCounters(benchmark::State& state, int64_t n, int64_t dim) {
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * dim * sizeof(float));
}

void BM_ReferenceSum(benchmark::State& state, int64_t n, int64_t dim) {
  const std::vector<float>& u = Updates(n, dim);
  std::vector<float> sum(dim);
  for (auto _ : state) {
    std::fill(sum.begin(), sum.end(), 0.f);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = u.data() + i * dim;
      for (int64_t j = 0; j < dim; ++j) sum[j] += row[j];
    }
    benchmark::DoNotOptimize(sum.data());
    benchmark::ClobberMemory();
  }
  SetCounters(state, n, dim);
}

// Eight independent lanes of four floats, so the sum is limited by memory, not
// by the latency of one addition chain.
typedef float V4F __attribute__((vector_size(16), aligned(4)));
__attribute__((target_clones("avx2", "default"))) float StreamSum(
    const float* x, int64_t n) {
  V4F a[8] = {};
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    for (int k = 0; k < 8; ++k) {
      V4F v;
      __builtin_memcpy(&v, x + j + 4 * k, 16);
      a[k] += v;
    }
  }
  for (int k = 1; k < 8; ++k) a[0] += a[k];
  float s = a[0][0] + a[0][1] + a[0][2] + a[0][3];
  for (; j < n; ++j) s += x[j];
  return s;
}

void BM_MemoryReadBandwidth(benchmark::State& state) {
  const int64_t n = int64_t{1} << 28;  // 1 GiB of floats.
  std::vector<float> x(n, 1.f);
  for (auto _ : state) benchmark::DoNotOptimize(StreamSum(x.data(), n));
  state.SetBytesProcessed(state.iterations() * n * sizeof(float));
}

void BM_Gram(benchmark::State& state, int64_t n, int64_t dim) {
  const std::vector<float>& u = Updates(n, dim);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        PairwiseSquaredDistances(ConstRowMatrixMap(u.data(), n, dim)));
  }
  SetCounters(state, n, dim);
}

extern "C" char* openblas_get_corename(void);

void Feed(Aggregator& agg, const std::vector<float>& u, int64_t n, int64_t dim) {
  for (int64_t i = 0; i < n; ++i) {
    absl::Status s = agg.Accumulate(
        absl::Span<const float>(u.data() + i * dim, dim), 1.0 + (i % 7), {});
    if (!s.ok()) std::abort();
  }
}

void BM_Method(benchmark::State& state, std::string spec, int64_t n, int64_t dim) {
  const std::vector<float>& u = Updates(n, dim);
  AggregatorFactory factory = *ParseAggregatorSpec(spec);
  for (auto _ : state) {
    std::unique_ptr<Aggregator> agg = factory(dim);
    if (auto* b = dynamic_cast<BufferedAggregator*>(agg.get())) b->Reserve(n);
    Feed(*agg, u, n, dim);
    absl::StatusOr<Eigen::VectorXf> r = agg->Report();
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    benchmark::DoNotOptimize(r);
  }
  SetCounters(state, n, dim);
}

void BM_DpFedAvg(benchmark::State& state, int64_t n, int64_t dim) {
  const std::vector<float>& u = Updates(n, dim);
  auto noise = std::make_shared<OpenSslRandomSource>();
  for (auto _ : state) {
    DpFedAvgAggregator agg(dim, {}, noise);
    Feed(agg, u, n, dim);
    benchmark::DoNotOptimize(agg.Report());
  }
  SetCounters(state, n, dim);
}

void RegisterAll() {
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  // OpenBLAS picks its kernels from the CPU model; 0.3.21 does not know every
  // recent one and then falls back to generic SSE3 ("Prescott") kernels, unless
  // OPENBLAS_CORETYPE names the right ones (see docs/benchmarks.md).
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::RegisterBenchmark("memory_read_bandwidth/1GiB", BM_MemoryReadBandwidth)
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  for (int64_t n : {100, 1000}) {
    benchmark::RegisterBenchmark(absl::StrCat("gram/n:", n, "/d:100000/").c_str(),
                                 BM_Gram, n, 100000)
        ->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  for (int64_t dim : {10000, 1000000}) {
    for (int64_t n : {100, 1000}) {
      const int64_t f = n / 10;
      const std::string size = absl::StrCat("/n:", n, "/d:", dim, "/");
      benchmark::RegisterBenchmark(("reference_sum" + size).c_str(), BM_ReferenceSum, n, dim)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
      const std::vector<std::string> specs = {
          "fedavg",
          "median",
          "trimmed_mean:beta=0.1",
          absl::StrCat("krum:f=", f),
          absl::StrCat("multi_krum:f=", f, ",m=", n / 2),
          "geometric_median",
          "centered_clipping:tau=10,iters=3",
          absl::StrCat("bulyan:f=", f),
          "norm_bound:c=10+fedavg",
          absl::StrCat("nnm:f=", f, "+fedavg"),
      };
      for (const std::string& spec : specs) {
        const std::string name = absl::StrReplaceAll(spec, {{":", "("}}) + size;
        benchmark::RegisterBenchmark(name.c_str(), BM_Method, spec, n, dim)
            ->Unit(benchmark::kMillisecond)->UseRealTime();
      }
      benchmark::RegisterBenchmark(("dp_fedavg" + size).c_str(), BM_DpFedAvg, n, dim)
          ->Unit(benchmark::kMillisecond)->UseRealTime();
    }
  }
}

}  // namespace
}  // namespace fedtiny::aggregation

int main(int argc, char** argv) {
  fedtiny::aggregation::RegisterAll();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
