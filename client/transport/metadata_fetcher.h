// Model-trust metadata over the Federation API: the client/trust Fetcher a
// device's Updater reads the coordinator's repository through (GetMetadata).
// It counts what it fetched, for the simulator's per-class cost figures.
#ifndef FEDTINY_CLIENT_TRANSPORT_METADATA_FETCHER_H_
#define FEDTINY_CLIENT_TRANSPORT_METADATA_FETCHER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/transport/session.h"
#include "client/trust/fetcher.h"
#include "client/trust/wall_clock.h"

namespace fedtiny::client {

// Not thread-safe (the Updater fetches one file at a time). Borrows the session
// and the clock the Updater's deadlines are on; both must outlive it.
class GrpcFetcher final : public trust::Fetcher {
 public:
  GrpcFetcher(FederationSession& session, const trust::WallClock& clock)
      : session_(session), clock_(clock) {}

  // Fetch: the session's codes; kDeadlineExceeded once `deadline` (on the
  // clock) has passed. Blocks until then at most.
  absl::StatusOr<std::string> Fetch(const std::string& path, size_t max_bytes,
                                    absl::Time deadline) override;

  int64_t bytes_fetched() const { return bytes_; }
  int64_t files_fetched() const { return files_; }

 private:
  FederationSession& session_;
  const trust::WallClock& clock_;
  int64_t bytes_ = 0;
  int64_t files_ = 0;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_METADATA_FETCHER_H_
