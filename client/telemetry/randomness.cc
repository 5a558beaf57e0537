#include "client/telemetry/randomness.h"

#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <random>

namespace fedtiny::client::telemetry {
namespace {

class OpenSslRandomness final : public Randomness {
 public:
  uint64_t Next64() override {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
      std::fputs(
          "telemetry: RAND_bytes failed; refusing to privatize with bad "
          "noise\n",
          stderr);
      std::abort();
    }
    uint64_t v = 0;
    for (unsigned char b : bytes) v = (v << 8) | b;
    return v;
  }
};

class SeededRandomness final : public Randomness {
 public:
  explicit SeededRandomness(uint64_t seed) : gen_(seed) {}
  uint64_t Next64() override { return gen_(); }

 private:
  std::mt19937_64 gen_;
};

}  // namespace

uint64_t Randomness::UniformBelow(uint64_t n) {
  if (n <= 1) return 0;
  // Accept below the largest multiple of n that fits in 2^64.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n + 1) % n;
  for (;;) {
    const uint64_t v = Next64();
    if (v <= limit) return v % n;
  }
}

double Randomness::UniformUnit() {
  return static_cast<double>((Next64() >> 11) + 1) * 0x1.0p-53;
}

std::unique_ptr<Randomness> MakeOpenSslRandomness() {
  return std::make_unique<OpenSslRandomness>();
}

std::unique_ptr<Randomness> MakeSeededRandomness(uint64_t seed) {
  return std::make_unique<SeededRandomness>(seed);
}

}  // namespace fedtiny::client::telemetry
