// The recorder's windows, reservoir, percentiles, ring bound and energy model,
// with a real Predictor; the report built from a window. Numerics against
// independent computations (exact quantiles of the sorted latencies, the
// naive energy formula, the predictor's own outputs).
#include "client/telemetry/recorder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "client/core/arena.h"
#include "client/core/model.h"
#include "client/core/predict.h"
#include "client/platform/linux/status_bridge.h"
#include "client/telemetry/recording_predictor.h"
#include "client/telemetry/report.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::telemetry::TelemetrySpec;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

// A monotonic clock that moves `step` microseconds at each read.
class SteppingClock final : public client::Clock {
 public:
  explicit SteppingClock(int64_t step) : step_(step) {}
  int64_t NowMicros() override { return now_ += step_; }

 private:
  int64_t step_, now_ = 0;
};

TelemetrySpec FullSpec(int64_t window_s) {
  TelemetrySpec s;
  s.set_version(3);
  s.set_window_s(window_s);
  const auto add = [&](const char* name, fedtiny::telemetry::ProbeKind kind,
                       std::vector<double> edges) {
    auto* p = s.add_probes();
    p->set_name(name);
    p->set_kind(kind);
    for (double e : edges) p->mutable_binning()->add_edges(e);
    p->set_epsilon(0.5);
    return p;
  };
  add("class", fedtiny::telemetry::PREDICTED_CLASS, {})
      ->mutable_binning()
      ->set_categories(10);
  add("act3", fedtiny::telemetry::ACTIVATION, {0, 0.5, 1, 2, 4})->set_unit(3);
  add("lat", fedtiny::telemetry::INFERENCE_LATENCY_US, {0, 5, 10, 20, 40});
  add("train", fedtiny::telemetry::TRAINING_LATENCY_US, {0, 100, 1000});
  add("arena", fedtiny::telemetry::PEAK_ARENA_BYTES, {0, 4096, 8192, 1 << 20});
  add("stack", fedtiny::telemetry::PEAK_STACK_BYTES, {0, 1024, 4096});
  add("energy", fedtiny::telemetry::ENERGY_UJ, {0, 1, 2, 4, 8});
  add("req", fedtiny::telemetry::REQUESTS, {0, 1, 10, 100, 1000});
  return s;
}

struct Fixture {
  Fixture(int ring = 8, int64_t window_s = 3600)
      : clock(absl::FromUnixSeconds(1'800'000'000)),
        rng(MakeSeededRandomness(5)) {
    RecorderOptions o;
    o.ring_windows = ring;
    o.cost = {"phone-mid", 200.0, 0.01};
    recorder = *Recorder::Create(o, clock, *rng);
    EXPECT_THAT(recorder->SetSpec(FullSpec(window_s)), IsOk());
    recorder->set_enabled(true);
  }
  FakeClock clock;
  std::unique_ptr<Randomness> rng;
  std::unique_ptr<Recorder> recorder;
};

TEST(ReservoirTest, KeepsEachObservationWithEqualProbability) {
  auto rng = MakeSeededRandomness(11);
  for (const int n : {10, 1000}) {
    const int64_t trials = 100000;
    std::vector<int64_t> hits(10);  // By decile of the observation's index.
    for (int64_t t = 0; t < trials; ++t) {
      Reservoir r;
      for (int i = 0; i < n; ++i) r.Offer(i, *rng);
      ASSERT_EQ(r.observations, n);
      ++hits[static_cast<int>(r.sample) * 10 / n];
    }
    const double want = trials / 10.0, sd = std::sqrt(trials * 0.1 * 0.9);
    for (int d = 0; d < 10; ++d)
      EXPECT_NEAR(hits[d], want, 5 * sd) << "n " << n << " decile " << d;
  }
}

TEST(LatencyHistogramTest, QuantilesWithinTheBinResolution) {
  std::mt19937 gen(4);
  std::lognormal_distribution<double> d(std::log(2000.0), 0.6);
  LatencyHistogram h;
  std::vector<int64_t> all;
  for (int i = 0; i < 5000; ++i) {
    const int64_t v = static_cast<int64_t>(d(gen));
    h.Add(v);
    all.push_back(v);
  }
  std::sort(all.begin(), all.end());
  for (double q : {0.5, 0.95}) {
    const double exact = static_cast<double>(
        all[static_cast<size_t>(std::ceil(q * all.size())) - 1]);
    EXPECT_NEAR(h.Quantile(q), exact, 0.0625 * exact + 1) << q;
  }
  EXPECT_EQ(LatencyHistogram().Quantile(0.5), 0);
}

TEST(RecorderTest, RecordsNothingWhileDisabledOrWithoutSpec) {
  Fixture f;
  f.recorder->set_enabled(false);
  f.recorder->RecordTrainingStep(50);
  EXPECT_TRUE(f.recorder->Summaries().empty());
  FakeClock clock(absl::UnixEpoch());
  auto rng = MakeSeededRandomness(1);
  auto bare = *Recorder::Create({}, clock, *rng);
  bare->set_enabled(true);
  bare->RecordTrainingStep(50);
  EXPECT_TRUE(bare->Summaries().empty());
  EXPECT_THAT(Recorder::Create({0, {}}, clock, *rng).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RecorderTest, WindowsCloseIntoABoundedRing) {
  Fixture f(/*ring=*/4, /*window_s=*/3600);
  const size_t bytes = f.recorder->storage_bytes();
  for (int w = 0; w < 20; ++w) {
    for (int i = 0; i <= w; ++i) f.recorder->RecordTrainingStep(100 + i);
    f.clock.Advance(absl::Hours(1));
  }
  const std::vector<WindowSummary> s = f.recorder->Summaries();
  // The ring's 4 (window w has w + 1 steps: 16..19) and the 20th, still open:
  // it closes at the next record or export.
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(f.recorder->storage_bytes(), bytes);
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].training_steps, static_cast<int64_t>(16 + i)) << i;
    EXPECT_EQ(s[i].open, i == 4) << i;
    EXPECT_EQ(s[i].start_unix_s % 3600, 0);
    EXPECT_NEAR(s[i].training_p50_us, 100 + (15 + i) / 2.0, 0.0625 * 110) << i;
  }
  std::vector<Window> closed =
      f.recorder->ClosedUnexported();  // Closes the 20th.
  ASSERT_EQ(closed.size(), 4u);
  EXPECT_EQ(closed.back().training_steps, 20);
  EXPECT_TRUE(f.recorder->MarkExported(closed.front().start_unix_s));
  EXPECT_EQ(f.recorder->ClosedUnexported().size(), 3u);
  f.recorder->Erase();
  EXPECT_TRUE(f.recorder->Summaries().empty());
  EXPECT_TRUE(f.recorder->ClosedUnexported().empty());
}

TEST(RecorderTest, ANewSpecVersionStartsOver) {
  Fixture f;
  f.recorder->RecordTrainingStep(10);
  EXPECT_EQ(f.recorder->Summaries().size(), 1u);
  TelemetrySpec same = FullSpec(3600);
  EXPECT_THAT(f.recorder->SetSpec(same), IsOk());
  EXPECT_EQ(f.recorder->Summaries().size(), 1u);
  same.set_version(4);
  EXPECT_THAT(f.recorder->SetSpec(same), IsOk());
  EXPECT_TRUE(f.recorder->Summaries().empty());
  same.mutable_probes(0)->set_epsilon(-1);
  EXPECT_THAT(f.recorder->SetSpec(same),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

Head ModelHead(Body& body) {
  Head all = MakeHead({784, 128, 64, 10}, 4);
  body = Body({all.layers[0]});
  Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  return head;
}

TEST(RecordingPredictorTest, RecordsLatencyClassesActivationsAndEnergy) {
  Fixture f;
  Body body(std::vector<BodyLayer>{});
  const Head head = ModelHead(body);
  std::vector<unsigned char> block(Predictor::ArenaBytes(body, head, 4));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(body, head, 4, arena);
  SteppingClock mono(10);  // Every call lasts 10 us.
  const int64_t macs = MacsPerRow(body, head);
  EXPECT_EQ(macs, 784 * 128 + 128 * 64 + 64 * 10);
  RecordingPredictor rp(*p, *f.recorder, mono, macs, /*stack_bytes=*/2048);
  std::mt19937 gen(2);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> x(3 * 784);
  std::vector<int32_t> seen_classes;
  std::vector<float> seen_unit3;
  for (int call = 0; call < 30; ++call) {
    for (float& v : x) v = u(gen);
    std::vector<int32_t> classes(3);
    ASSERT_THAT(rp.Predict(x.data(), 3, {}, classes), IsOk());
    seen_classes.insert(seen_classes.end(), classes.begin(), classes.end());
    for (int r = 0; r < 3; ++r)
      seen_unit3.push_back(p->features()[r * 128 + 3]);
  }
  ASSERT_THAT(rp.Predict(x.data(), 1, {}, {}),
              IsOk());  // Classes into its own buffer.
  const std::vector<WindowSummary> s = f.recorder->Summaries();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].requests, 31);
  EXPECT_EQ(s[0].rows, 91);
  EXPECT_NEAR(s[0].inference_p50_us, 10, 0.0625 * 10);
  EXPECT_EQ(s[0].peak_arena_bytes, p->arena_bytes());
  EXPECT_EQ(s[0].peak_stack_bytes, 2048);
  // 200 mW x 10 us + 0.01 nJ x MACs, in uJ; per call of 3 rows and of 1.
  const double e3 = (200.0 * 10 + 0.01 * macs * 3) / 1000,
               e1 = (200.0 * 10 + 0.01 * macs) / 1000;
  EXPECT_NEAR(s[0].energy_uj_per_inference, (30 * e3 + e1) / 31, 1e-9);

  f.clock.Advance(absl::Hours(1));
  const std::vector<Window> closed = f.recorder->ClosedUnexported();
  ASSERT_EQ(closed.size(), 1u);
  const TelemetrySpec spec = *f.recorder->spec();
  const Window& w = closed[0];
  // Each sampled value is one of the window's observations.
  const double cls = *ProbeValue(w, spec, 0), act = *ProbeValue(w, spec, 1);
  seen_classes.push_back(
      -1);  // The last call's class is unknown here; allow any in range.
  EXPECT_GE(cls, 0);
  EXPECT_LT(cls, 10);
  EXPECT_EQ(w.probes[1].observations, 91);
  seen_unit3.push_back(p->features()[3]);
  EXPECT_NE(
      std::find(seen_unit3.begin(), seen_unit3.end(), static_cast<float>(act)),
      seen_unit3.end());
  EXPECT_EQ(*ProbeValue(w, spec, 2), 10);
  EXPECT_FALSE(ProbeValue(w, spec, 3).has_value());  // No training step.
  EXPECT_EQ(*ProbeValue(w, spec, 4), static_cast<double>(p->arena_bytes()));
  EXPECT_EQ(*ProbeValue(w, spec, 5), 2048);
  const double energy = *ProbeValue(w, spec, 6);
  EXPECT_TRUE(std::abs(energy - e3) < 1e-9 || std::abs(energy - e1) < 1e-9)
      << energy;
  EXPECT_EQ(*ProbeValue(w, spec, 7), 31);
}

// The wall clock is read at most once per second of monotonic time while the
// open window lasts: a call within that second stays in the window even if
// the wall clock moved (a sleep), the next one after it goes to the new one.
TEST(RecorderTest, InferencesReadTheWallClockOncePerMonotonicSecond) {
  Fixture f;
  const int32_t cls[] = {1};
  Inference in;
  in.classes = Span<const int32_t>(cls, 1);
  in.end_monotonic_us = 5'000'000;
  f.recorder->RecordInference(in);
  f.clock.Advance(absl::Hours(1));  // Past the window's end.
  in.end_monotonic_us += 999'999;
  f.recorder->RecordInference(in);
  std::vector<WindowSummary> s = f.recorder->Summaries();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].requests, 2);
  in.end_monotonic_us += 1;  // A second after the last wall-clock read.
  f.recorder->RecordInference(in);
  s = f.recorder->Summaries();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].requests, 1);
  EXPECT_EQ(s[1].start_unix_s, s[0].start_unix_s + 3600);
  in.end_monotonic_us = -1;  // Unknown: the wall clock every time.
  f.clock.Advance(absl::Hours(1));
  f.recorder->RecordInference(in);
  EXPECT_EQ(f.recorder->Summaries().size(), 3u);
}

// With an epsilon so large that k-RR keeps the true bin (p = 1 - 1e-20), the
// report's bins are the true ones; no probe without a value is reported.
TEST(ReportTest, CarriesTheBinsOfTheWindowAndNoMore) {
  Fixture f;
  TelemetrySpec spec = FullSpec(3600);
  for (auto& p : *spec.mutable_probes()) p.set_epsilon(50);
  ASSERT_THAT(f.recorder->SetSpec(spec),
              IsOk());  // Same version: windows kept.
  for (int i = 0; i < 12; ++i) f.recorder->RecordMemory(5000, 0);
  f.recorder->RecordTrainingStep(500);
  f.clock.Advance(absl::Hours(1));
  const std::vector<Window> closed = f.recorder->ClosedUnexported();
  ASSERT_EQ(closed.size(), 1u);
  ReportContext ctx{"mnist", 7, "int8", "phone-mid", "v2"};
  const auto report = BuildReport(closed[0], spec, ctx, *f.rng);
  EXPECT_EQ(report.task(), "mnist");
  EXPECT_EQ(report.spec_version(), 3u);
  EXPECT_EQ(report.consent_version(), "v2");
  EXPECT_EQ(report.window_start_unix_s(), closed[0].start_unix_s);
  ASSERT_EQ(report.values_size(),
            3);  // train, arena, req (0 requests is a value).
  EXPECT_EQ(report.values(0).probe(), "train");
  EXPECT_EQ(report.values(0).bin(), 1u);  // 500 in [100, 1000).
  EXPECT_EQ(report.values(1).probe(), "arena");
  EXPECT_EQ(report.values(1).bin(), 1u);  // 5000 in [4096, 8192).
  EXPECT_EQ(report.values(2).probe(), "req");
  EXPECT_EQ(report.values(2).bin(), 0u);
  EXPECT_DOUBLE_EQ(ReportEpsilon(report), 150);
}

}  // namespace
}  // namespace fedtiny::client::telemetry

namespace fedtiny::client::telemetry {
namespace {

// The export size per report (docs/observability.md): the eight-probe spec
// above, every probe with a value, and the largest spec the proto allows
// (32 probes of 64-byte names). Bytes of the serialized TelemetryReport,
// computed by hand: each value is a ReportedBin of name, bin and epsilon.
TEST(ReportTest, ExportSizePerReport) {
  Fixture f;
  f.recorder->RecordTrainingStep(500);
  f.recorder->RecordMemory(5000, 2048);
  const int32_t cls[] = {3};
  std::vector<float> features(8, 0.7f);
  Inference in;
  in.latency_us = 14;
  in.classes = Span<const int32_t>(cls, 1);
  in.features = Span<const float>(features.data(), features.size());
  in.feature_dim = 8;
  f.recorder->RecordInference(in);
  f.clock.Advance(absl::Hours(1));
  const std::vector<Window> closed = f.recorder->ClosedUnexported();
  ASSERT_EQ(closed.size(), 1u);
  const ReportContext ctx{"mnist", 7, "float32", "phone-mid", "v1"};
  const TelemetrySpec spec = FullSpec(3600);
  const auto report = BuildReport(closed[0], spec, ctx, *f.rng);
  ASSERT_EQ(report.values_size(), 8);
  // Header: task 2+5, model_version 2, variant 2+7, device_class 2+9,
  // spec_version 2, window start 1+5 (varint of 1.8e9), consent 2+2 = 41.
  // Each value: tag+len 2, name 2+len, bin 2 (bin 0 is omitted: 0), epsilon 9.
  size_t want = 41;
  for (const auto& v : report.values()) {
    want += 2 + 2 + v.probe().size() + (v.bin() == 0 ? 0 : 2) + 9;
  }
  EXPECT_EQ(report.ByteSizeLong(), want);
  std::printf("report bytes, 8 probes: %zu\n", report.ByteSizeLong());

  TelemetrySpec big;
  big.set_version(1);
  for (int i = 0; i < 32; ++i) {
    auto* p = big.add_probes();
    p->set_name(std::string(62, 'a') + static_cast<char>('a' + i / 26) +
                static_cast<char>('a' + i % 26));
    p->set_kind(fedtiny::telemetry::REQUESTS);
    for (int e = 0; e <= 64; ++e) p->mutable_binning()->add_edges(e - 1);
    p->set_epsilon(0.1);
  }
  ASSERT_TRUE(ValidateSpec(big).ok());
  const auto largest = BuildReport(closed[0], big, ctx, *f.rng);
  ASSERT_EQ(largest.values_size(), 32);
  EXPECT_LE(largest.ByteSizeLong(), 41u + 32 * (2 + 2 + 64 + 2 + 9));
  std::printf("report bytes, 32 probes of 64-byte names: %zu\n",
              largest.ByteSizeLong());
}

}  // namespace
}  // namespace fedtiny::client::telemetry
