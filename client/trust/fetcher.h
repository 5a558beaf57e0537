// Where metadata comes from: the repository (the coordinator, a mirror, a
// gateway's cache), injected. The updater trusts nothing a fetcher returns: it
// checks the length and the deadline again and verifies every byte.
#ifndef FEDTINY_CLIENT_TRUST_FETCHER_H_
#define FEDTINY_CLIENT_TRUST_FETCHER_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fedtiny::client::trust {

// Metadata paths: "<N>.root.pb" for root version N, and one file per other
// role.
inline constexpr char kTimestampPath[] = "timestamp.pb";
inline constexpr char kSnapshotPath[] = "snapshot.pb";
inline constexpr char kTargetsPath[] = "targets.pb";

// Implementations say whether they are thread-safe; the updater calls one
// fetch at a time.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // Fetch returns the file at `path`. It should stop reading after
  // `max_bytes` + 1 bytes (returning what it has, or kResourceExhausted) and
  // give up at `deadline` (kDeadlineExceeded). kNotFound if the repository has
  // no such file; any other code if it cannot be reached. Blocks.
  virtual absl::StatusOr<std::string> Fetch(const std::string& path,
                                            size_t max_bytes,
                                            absl::Time deadline) = 0;
};

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_FETCHER_H_
