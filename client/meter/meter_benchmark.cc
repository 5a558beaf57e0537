// Metering's cost per call (issue #14, docs/metering.md) against one Predict
// of a 784-128-64-10 model at batch 1 (client/core/client_benchmark's
// BM_Predict): BM_Charge is the grant checks, one SHA-256 of the 64-byte link
// and the record append, with a chunk and the head written every N = 64 calls
// to in-memory storage (a real flash or disk write adds its own cost every N
// calls); with the counter, a fake counter every B = 256 calls.
// BM_MeteredPredict is Charge + Predict. Prints the CPU model.
//   bazel run -c opt //client/meter:meter_benchmark
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/model.h"
#include "client/core/predict.h"
#include "tests/meter_fixture.h"
#include "tools/base/cpu_check.h"

namespace fedtiny::meter::fixture {
namespace {

// A device with a grant far larger than any run; syncs every kSyncEvery
// calls, outside the timing, as a device online now and then would.
class Bench {
 public:
  explicit Bench(bool counter)
      : server_(Options()),
        dev_("bench", server_.ledger.public_key(), counter, 64) {
    if (!dev_.Reopen().ok()) std::abort();
    absl::StatusOr<Signed> g = server_.ledger.Enroll(
        "bench", "pkg", counter ? std::optional<uint64_t>(0) : std::nullopt);
    if (!g.ok() || !dev_.meter->InstallGrant(*g).ok()) std::abort();
  }
  Meter& meter() { return *dev_.meter; }
  void MaybeSync(benchmark::State& state) {
    if (dev_.meter->pending_records() < kSyncEvery) return;
    state.PauseTiming();
    absl::StatusOr<SyncResponse> r =
        server_.ledger.Sync(dev_.meter->MakeSyncRequest());
    if (!r.ok() || r->flags_size() > 0 || !dev_.meter->AcceptSync(*r).ok())
      std::abort();
    state.ResumeTiming();
  }

 private:
  static constexpr size_t kSyncEvery = 1 << 16;
  static LedgerOptions Options() {
    LedgerOptions o;
    o.grant_calls = uint64_t{1} << 40;
    o.grant_validity = absl::Hours(24 * 365);
    o.counter_every = 256;
    return o;
  }
  Server server_;
  Device dev_;
};

void BM_Charge(benchmark::State& state) {
  Bench b(state.range(0) != 0);
  for (auto _ : state) {
    if (!b.meter().Charge().ok()) state.SkipWithError("charge refused");
    b.MaybeSync(state);
  }
}
BENCHMARK(BM_Charge)->ArgNames({"counter"})->Arg(0)->Arg(1);

void BM_MeteredPredict(benchmark::State& state) {
  using client::Body;
  using client::Head;
  Head all = client::MakeHead({784, 128, 64, 10}, 4);
  Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  Body body({all.layers[0]});
  std::vector<float> x(784);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& v : x) v = u(rng);
  std::vector<unsigned char> block(
      client::Predictor::ArenaBytes(body, head, 1));
  client::Arena arena(block.data(), block.size());
  client::Predictor* p = *client::Predictor::Create(body, head, 1, arena);
  std::vector<float> probs(10);
  std::vector<int32_t> classes(1);
  Bench b(false);
  const bool metered = state.range(0) != 0;
  for (auto _ : state) {
    if (metered) {
      benchmark::DoNotOptimize(
          b.meter().Predict(*p, x.data(), 1, probs, classes).ok());
      b.MaybeSync(state);
    } else {
      benchmark::DoNotOptimize(p->Predict(x.data(), 1, probs, classes).ok());
    }
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_MeteredPredict)->ArgNames({"metered"})->Arg(0)->Arg(1);

}  // namespace
}  // namespace fedtiny::meter::fixture

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
