// One reporting window's statistics on the device (recorder.h fills them):
// fixed-size values only, so a ring of windows never grows with usage.
//
// For each probe a window keeps exactly what its report needs: for a
// distribution (PREDICTED_CLASS, ACTIVATION, the latencies, ENERGY_UJ) one
// observation sampled uniformly among the window's (a reservoir of size 1)
// and their count; for a counter (REQUESTS, PEAK_*) the count or maximum. For
// the app and the user, log-binned histograms of inference and training-step
// latency give local p50/p95 (within 6.25%); they never leave the device.
//
// Plain values; thread-compatible.
#ifndef FEDTINY_CLIENT_TELEMETRY_WINDOW_H_
#define FEDTINY_CLIENT_TELEMETRY_WINDOW_H_

#include <array>
#include <cstdint>

#include "client/telemetry/randomness.h"
#include "client/telemetry/spec.h"

namespace fedtiny::client::telemetry {

// A reservoir of size 1 with Li's skip: instead of a draw per observation,
// one draw per replacement picks the next observation that replaces the
// sample (P(no replacement in n+1..m) = n/m), so the cost per observation is
// an increment and a compare, and O(log n) draws per window.
struct Reservoir {
  int64_t observations = 0;
  double sample = 0;
  int64_t next_replace = 1;  // The first observation is always kept.

  void Offer(double value, Randomness& rng) {
    if (++observations == next_replace) Replace(value, rng);
  }

 private:
  void Replace(double value, Randomness& rng);
};

// Microsecond latencies in log bins: bin 0 below 1 us, then 8 linear sub-bins
// per power of two up to 2^27 us (134 s; longer ones count in the last bin).
class LatencyHistogram {
 public:
  static constexpr int kOctaves = 27, kPerOctave = 8,
                       kBins = 1 + kOctaves * kPerOctave;
  void Add(int64_t latency_us);
  // Quantile returns the midpoint of the bin holding the q-quantile (q in
  // [0, 1]), or 0 without observations.
  [[nodiscard]] double Quantile(double q) const;
  [[nodiscard]] int64_t count() const { return count_; }

 private:
  static int BinOf(int64_t latency_us);
  std::array<uint32_t, kBins> counts_{};
  int64_t count_ = 0;
};

// The recorder's view of one probe, copied out of the spec once.
struct ProbeSlot {
  fedtiny::telemetry::ProbeKind kind =
      fedtiny::telemetry::PROBE_KIND_UNSPECIFIED;
  uint32_t unit = 0;
};

struct Window {
  int64_t start_unix_s = -1;  // -1: an empty slot.
  uint32_t spec_version = 0;
  bool exported = false;
  int64_t requests = 0;  // Predict calls.
  int64_t rows = 0;      // Examples over them.
  int64_t training_steps = 0;
  int64_t peak_arena_bytes = 0;
  int64_t peak_stack_bytes = 0;
  double energy_uj = 0;  // Sum over the inferences (cost model, recorder.h).
  LatencyHistogram inference_us, training_us;
  std::array<Reservoir, kMaxProbes> probes;  // By the spec's probe index.
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_WINDOW_H_
