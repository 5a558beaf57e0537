// Parsing and verification of one signed metadata file (proto/trust.proto):
// the envelope, the threshold of signatures by a role's keys, the role's type
// and the structure of a root. Every error is a Refusal (client/trust/refusal.h).
// Stateless functions; thread-safe.
#ifndef FEDTINY_CLIENT_TRUST_METADATA_H_
#define FEDTINY_CLIENT_TRUST_METADATA_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/trust.pb.h"

namespace fedtiny::client::trust {

// A role and the envelope it was verified from.
template <typename Role>
struct Verified {
  v1::Signed envelope;
  Role role;
};

// RoleName returns "root", "targets", "snapshot" or "timestamp".
absl::string_view RoleName(v1::RoleType type);

// ParseSigned parses an envelope. kMalformed if the bytes are not one.
absl::StatusOr<v1::Signed> ParseSigned(absl::string_view bytes,
                                       absl::string_view what);

// VerifyThreshold checks that at least `keys.threshold()` distinct keys of
// `keys.key_ids()`, found in `root.keys()`, signed `signed_.role_bytes()`.
// A key counts once however many signatures name it; signatures by other keys
// are ignored. kSignatureThreshold otherwise (also for a zero threshold).
absl::Status VerifyThreshold(const v1::Root& root, const v1::RoleKeys& keys,
                             const v1::Signed& signed_, absl::string_view what);

// ParseRoot / ParseTimestamp / ParseSnapshot / ParseTargets parse a role's
// bytes (already authenticated). kMalformed if they do not parse or a field is
// invalid, kWrongRole if the type is another role's. ParseRoot also checks the
// structure: every role has a threshold >= 1 that its listed keys can meet,
// every key is a P-256 key of scheme "ecdsa-p256-sha256" filed under its own id.
absl::StatusOr<v1::Root> ParseRoot(absl::string_view role_bytes);
absl::StatusOr<v1::Timestamp> ParseTimestamp(absl::string_view role_bytes);
absl::StatusOr<v1::Snapshot> ParseSnapshot(absl::string_view role_bytes);
absl::StatusOr<v1::Targets> ParseTargets(absl::string_view role_bytes);

// CheckNotExpired refuses (kExpired) a role whose expiry is at or before
// `trusted_time`.
absl::Status CheckNotExpired(absl::string_view what, int64_t expires_unix_s,
                             absl::Time trusted_time);

// SameRoleKeys says whether two roles have the same key ids and threshold.
bool SameRoleKeys(const v1::RoleKeys& a, const v1::RoleKeys& b);

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_METADATA_H_
