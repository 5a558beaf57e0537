#include "client/telemetry/window.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedtiny::client::telemetry {

void Reservoir::Replace(double value, Randomness& rng) {
  sample = value;
  // The next replacing index m > n: P(m > j) = n / j, so m = floor(n / u) + 1.
  const double next =
      std::floor(static_cast<double>(observations) / rng.UniformUnit()) + 1;
  next_replace = next >= 9.0e18 ? std::numeric_limits<int64_t>::max()
                                : static_cast<int64_t>(next);
}

int LatencyHistogram::BinOf(int64_t latency_us) {
  if (latency_us < 1) return 0;
  const int octave = 63 - __builtin_clzll(static_cast<uint64_t>(latency_us));
  if (octave >= kOctaves) return kBins - 1;
  // The kPerOctave bits below the leading one (fewer for small values).
  const int sub = octave >= 3
                      ? static_cast<int>((latency_us >> (octave - 3)) & 7)
                      : static_cast<int>((latency_us << (3 - octave)) & 7);
  return 1 + octave * kPerOctave + sub;
}

void LatencyHistogram::Add(int64_t latency_us) {
  ++counts_[BinOf(latency_us)];
  ++count_;
}

double LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const double want = std::max(1.0, std::ceil(q * static_cast<double>(count_)));
  int64_t seen = 0;
  for (int b = 0; b < kBins; ++b) {
    seen += counts_[b];
    if (static_cast<double>(seen) < want) continue;
    if (b == 0) return 0.5;
    const int octave = (b - 1) / kPerOctave, sub = (b - 1) % kPerOctave;
    const double low = std::ldexp(1.0 + sub / 8.0, octave);
    const double high = std::ldexp(1.0 + (sub + 1) / 8.0, octave);
    return (low + high) / 2;
  }
  return 0;
}

}  // namespace fedtiny::client::telemetry
