// Per-peer token buckets: anonymous telemetry reports carry no device id, so
// the Telemetry service bounds each network peer's rate instead. A bound, not
// a defence: a determined attacker with many addresses can still stuff
// reports (docs/observability.md, "Anonymity limits").
#ifndef FEDTINY_COORDINATOR_TELEMETRY_RATE_LIMITER_H_
#define FEDTINY_COORDINATOR_TELEMETRY_RATE_LIMITER_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fedtiny::coordinator::telemetry {

// Thread-safe. Time comes from the caller (the injected clock).
class RateLimiter {
 public:
  struct Options {
    double per_minute = 60;  // Refill rate of each peer's bucket.
    double burst = 120;      // Bucket size.
    size_t max_peers =
        100000;  // Past it, the longest-idle buckets are forgotten.
  };
  explicit RateLimiter(Options options) : options_(options) {}

  // Allow takes one token from `peer`'s bucket: false when it is empty.
  bool Allow(const std::string& peer, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
  };
  const Options options_;
  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// PeerHost strips the port from a gRPC peer string: "ipv4:1.2.3.4:5" ->
// "ipv4:1.2.3.4", "ipv6:[::1]:5" -> "ipv6:[::1]".
std::string PeerHost(const std::string& peer);

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_RATE_LIMITER_H_
