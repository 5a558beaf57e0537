// One TUF update cycle (specification section 5.3 to 5.6) on a working copy
// of the trusted set: the root versions in turn, then timestamp, snapshot and
// targets. The caller (Updater) commits the copy only if Run() returns OK.
#ifndef FEDTINY_CLIENT_TRUST_UPDATE_CYCLE_H_
#define FEDTINY_CLIENT_TRUST_UPDATE_CYCLE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/trust/fetcher.h"
#include "client/trust/trusted_metadata.h"
#include "client/trust/updater.h"
#include "client/trust/wall_clock.h"

namespace fedtiny::client::trust {

// UpdateCycle: used once, by one thread. Borrows the fetcher and clock; owns
// its working copy.
class UpdateCycle {
 public:
  UpdateCycle(TrustedMetadata working, Fetcher& fetcher, const WallClock& clock,
              const UpdaterOptions& options);

  // Run updates the working copy, or returns the first refusal. Blocks on
  // fetches.
  absl::Status Run();

  // result returns the updated copy (meaningful after Run() returned OK, or
  // after a refusal with roots_pending()).
  TrustedMetadata&& result() && { return std::move(working_); }

  // roots_pending: Run stopped after max_root_rotations verified root
  // versions with more to come (an kEndlessData refusal). The copy then holds
  // those verified roots and nothing newer: worth committing, so that the next
  // refresh goes on from there instead of starting over.
  bool roots_pending() const { return roots_pending_; }

 private:
  absl::Status UpdateRoot();
  absl::Status UpdateTimestamp();
  absl::Status UpdateSnapshot();
  absl::Status UpdateTargets();
  // Fetch returns the file, refusing one longer than `max_bytes` or one that
  // arrives after its deadline; a missing file is kNotFound, unrefused.
  absl::StatusOr<std::string> Fetch(const std::string& path, size_t max_bytes);
  absl::StatusOr<v1::Signed> FetchSigned(const std::string& path,
                                         size_t max_bytes);

  TrustedMetadata working_;
  Fetcher& fetcher_;
  const WallClock& clock_;
  const UpdaterOptions& options_;
  absl::Time trusted_time_;  // max(clock, trusted and new timestamp's issue)
  bool roots_pending_ = false;
};

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_UPDATE_CYCLE_H_
