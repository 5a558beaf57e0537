// The randomness behind telemetry's privacy (k-ary randomized response,
// krr.h) and its reservoir sampling (recorder.h), injected: devices use
// OpenSSL's CSPRNG, tests a seeded generator so their statistics are
// reproducible. Never std::rand: an attacker who predicts the noise can strip
// it off a report.
#ifndef FEDTINY_CLIENT_TELEMETRY_RANDOMNESS_H_
#define FEDTINY_CLIENT_TELEMETRY_RANDOMNESS_H_

#include <cstdint>
#include <memory>

namespace fedtiny::client::telemetry {

// A source of uniformly random 64-bit words. Implementations say their own
// thread-safety.
class Randomness {
 public:
  virtual ~Randomness() = default;
  // Next64 returns 64 uniformly random bits.
  virtual uint64_t Next64() = 0;

  // UniformBelow returns a uniform integer in [0, n), n >= 1, without modulo
  // bias (rejection).
  uint64_t UniformBelow(uint64_t n);
  // UniformUnit returns a uniform double in (0, 1] with 53 random bits.
  double UniformUnit();
};

// OpenSSL's RAND_bytes. Thread-safe (OpenSSL's generator is); aborts the
// process if RAND_bytes fails, as a device must not send noise it cannot
// trust (RAND_bytes fails only when the system's entropy source is broken).
std::unique_ptr<Randomness> MakeOpenSslRandomness();

// A seeded generator (std::mt19937_64), for tests and benchmarks only: not
// thread-safe.
std::unique_ptr<Randomness> MakeSeededRandomness(uint64_t seed);

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_RANDOMNESS_H_
