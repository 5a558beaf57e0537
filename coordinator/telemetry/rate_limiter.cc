#include "coordinator/telemetry/rate_limiter.h"

#include <algorithm>

namespace fedtiny::coordinator::telemetry {

bool RateLimiter::Allow(const std::string& peer, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(peer);
  if (it == buckets_.end()) {
    if (buckets_.size() >= options_.max_peers) {
      // Forget the longest-idle peer: a forgotten peer starts with a full
      // bucket.
      auto idle = std::min_element(buckets_.begin(), buckets_.end(),
                                   [](const auto& a, const auto& b) {
                                     return a.second.last < b.second.last;
                                   });
      buckets_.erase(idle);
    }
    it = buckets_.emplace(peer, Bucket{options_.burst, now}).first;
  }
  Bucket& b = it->second;
  const double refill =
      absl::ToDoubleMinutes(std::max(absl::ZeroDuration(), now - b.last)) *
      options_.per_minute;
  b.tokens = std::min(options_.burst, b.tokens + refill);
  b.last = std::max(b.last, now);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t bracket = peer.rfind(']');
  if (colon == std::string::npos || colon < 5 ||
      (bracket != std::string::npos && colon < bracket)) {
    return peer;
  }
  return peer.substr(0, colon);
}

}  // namespace fedtiny::coordinator::telemetry
