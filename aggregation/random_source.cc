#include "aggregation/random_source.h"

#include <openssl/rand.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace fedtiny::aggregation {

void OpenSslRandomSource::Fill(absl::Span<uint64_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()),
                 static_cast<int>(out.size() * sizeof(uint64_t))) != 1) {
    std::fprintf(stderr, "fatal: OpenSSL RAND_bytes failed\n");
    std::abort();
  }
}

void SeededRandomSource::Fill(absl::Span<uint64_t> out) {
  for (uint64_t& w : out) w = engine_();
}

void FillGaussian(RandomSource& source, double stddev, absl::Span<float> out) {
  constexpr size_t kBatch = 4096;  // Words per refill; two words per pair.
  std::vector<uint64_t> words(kBatch);
  size_t i = 0;
  while (i < out.size()) {
    source.Fill(absl::MakeSpan(words));
    for (size_t w = 0; w + 1 < kBatch && i < out.size(); w += 2) {
      // u1 in (0, 1], u2 in [0, 1): 53 random bits each.
      const double u1 = ((words[w] >> 11) + 1) * 0x1.0p-53;
      const double u2 = (words[w + 1] >> 11) * 0x1.0p-53;
      const double r = stddev * std::sqrt(-2.0 * std::log(u1));
      out[i++] = static_cast<float>(r * std::cos(2 * M_PI * u2));
      if (i < out.size()) out[i++] = static_cast<float>(r * std::sin(2 * M_PI * u2));
    }
  }
}

}  // namespace fedtiny::aggregation
