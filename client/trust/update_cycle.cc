#include "client/trust/update_cycle.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/trust/metadata.h"
#include "client/trust/refusal.h"
#include "tools/base/sha256.h"

namespace fedtiny::client::trust {
namespace {

// Checks `bytes` against the length and SHA-256 its parent role names (an
// empty digest or zero length: not named).
absl::Status CheckBytes(absl::string_view what, absl::string_view bytes,
                        uint64_t length, const std::string& sha256) {
  if (length != 0 && bytes.size() != length) {
    return Refusal(RefusalReason::kLengthMismatch,
                   absl::StrCat(what, " is ", bytes.size(), " bytes, expected ",
                                length));
  }
  if (sha256.empty()) return absl::OkStatus();
  absl::StatusOr<Sha256Digest> digest = Sha256(bytes);
  if (!digest.ok() ||
      std::string(digest->begin(), digest->end()) != sha256) {
    return Refusal(RefusalReason::kHashMismatch,
                   absl::StrCat(what, " does not match its SHA-256"));
  }
  return absl::OkStatus();
}

absl::Status Rollback(absl::string_view what, uint64_t got, uint64_t trusted) {
  return Refusal(RefusalReason::kRollback,
                 absl::StrCat(what, " ", got, " < trusted ", trusted));
}

}  // namespace

UpdateCycle::UpdateCycle(TrustedMetadata working, Fetcher& fetcher,
                         const WallClock& clock, const UpdaterOptions& options)
    : working_(std::move(working)),
      fetcher_(fetcher),
      clock_(clock),
      options_(options),
      trusted_time_(std::max(clock.Now(), working_.TimeFloor())) {}

absl::Status UpdateCycle::Run() {
  absl::Status s = UpdateRoot();
  if (s.ok()) s = UpdateTimestamp();
  if (s.ok()) s = UpdateSnapshot();
  if (s.ok()) s = UpdateTargets();
  return s;
}

absl::StatusOr<std::string> UpdateCycle::Fetch(const std::string& path,
                                               size_t max_bytes) {
  const absl::Time deadline = clock_.Now() + options_.fetch_timeout;
  absl::StatusOr<std::string> bytes = fetcher_.Fetch(path, max_bytes, deadline);
  if (!bytes.ok()) {
    switch (bytes.status().code()) {
      case absl::StatusCode::kNotFound:
        return bytes.status();
      case absl::StatusCode::kDeadlineExceeded:
        return Refusal(RefusalReason::kSlowRetrieval,
                       absl::StrCat(path, ": fetch timed out"));
      case absl::StatusCode::kResourceExhausted:
        return Refusal(RefusalReason::kEndlessData,
                       absl::StrCat(path, ": longer than ", max_bytes, " bytes"));
      default:
        return Refusal(RefusalReason::kFetchFailed,
                       absl::StrCat(path, ": ", bytes.status().message()));
    }
  }
  if (bytes->size() > max_bytes) {
    return Refusal(RefusalReason::kEndlessData,
                   absl::StrCat(path, ": ", bytes->size(), " bytes > limit ",
                                max_bytes));
  }
  if (clock_.Now() > deadline) {
    return Refusal(RefusalReason::kSlowRetrieval,
                   absl::StrCat(path, ": arrived after its deadline"));
  }
  return bytes;
}

absl::StatusOr<v1::Signed> UpdateCycle::FetchSigned(const std::string& path,
                                                    size_t max_bytes) {
  absl::StatusOr<std::string> bytes = Fetch(path, max_bytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == absl::StatusCode::kNotFound) {
      return Refusal(RefusalReason::kFetchFailed,
                     absl::StrCat(path, ": not found"));
    }
    return bytes.status();
  }
  return ParseSigned(*bytes, path);
}

// TUF 5.3: each root N+1 signed by a threshold of root N and of itself, and
// of version exactly N+1; then the final root unexpired; then, if the keys of
// another role changed, that role's trusted copies are dropped.
absl::Status UpdateCycle::UpdateRoot() {
  const v1::Root original = working_.root().role;
  for (int i = 0;; ++i) {
    const uint64_t next = working_.root().role.version() + 1;
    const std::string path = absl::StrCat(next, ".root.pb");
    absl::StatusOr<std::string> bytes = Fetch(path, options_.max_root_bytes);
    if (bytes.status().code() == absl::StatusCode::kNotFound) break;
    if (!bytes.ok()) return bytes.status();
    if (i == options_.max_root_rotations) {
      roots_pending_ = true;
      break;
    }
    absl::StatusOr<v1::Signed> envelope = ParseSigned(*bytes, path);
    if (!envelope.ok()) return envelope.status();
    const v1::Root& old = working_.root().role;
    absl::Status s = VerifyThreshold(old, old.root(), *envelope,
                                     absl::StrCat("root ", next, " by root ",
                                                  old.version()));
    if (!s.ok()) return s;
    absl::StatusOr<v1::Root> root = ParseRoot(envelope->role_bytes());
    if (!root.ok()) return root.status();
    s = VerifyThreshold(*root, root->root(), *envelope,
                        absl::StrCat("root ", next, " by itself"));
    if (!s.ok()) return s;
    if (root->version() != next) {
      return Refusal(RefusalReason::kRootVersionGap,
                     absl::StrCat("root version ", root->version(),
                                  " served as ", next));
    }
    working_.set_root({*std::move(envelope), *std::move(root)});
  }
  const v1::Root& root = working_.root().role;
  const bool timestamp_keys_changed = !SameRoleKeys(original.timestamp(), root.timestamp());
  if (roots_pending_) {
    // Endless data, or a device far behind: the verified roots are kept (see
    // roots_pending()), with the roles whose keys they changed dropped, and
    // the next refresh goes on. The roles are not updated with a root that
    // is not the newest.
    if (timestamp_keys_changed || !SameRoleKeys(original.snapshot(), root.snapshot()) ||
        !SameRoleKeys(original.targets(), root.targets())) {
      working_.ForgetNonRoot();
    }
    return Refusal(RefusalReason::kEndlessData,
                   absl::StrCat("more than ", options_.max_root_rotations,
                                " new root versions in one refresh: verified up to root ",
                                root.version(), ", refresh again"));
  }
  if (timestamp_keys_changed) {
    // The time floor came from timestamps signed by keys the root has just
    // replaced: a root-signed rotation is how a device recovers from a
    // timestamp key that fast-forwarded the issue time (which would otherwise
    // make every role look expired forever), so the floor goes with them.
    // Only the device clock counts until the new timestamp raises it again.
    trusted_time_ = clock_.Now();
  }
  absl::Status s = CheckNotExpired(absl::StrCat("root ", root.version()),
                                   root.expires_unix_s(), trusted_time_);
  if (!s.ok()) return s;
  if (timestamp_keys_changed || !SameRoleKeys(original.snapshot(), root.snapshot()) ||
      !SameRoleKeys(original.targets(), root.targets())) {
    working_.ForgetNonRoot();
  }
  return absl::OkStatus();
}

// TUF 5.4: signed by the timestamp keys, no version going back (its own, the
// snapshot's it names, nor its issue time: the device's time floor only
// rises), unexpired. Its issue time raises trusted time.
absl::Status UpdateCycle::UpdateTimestamp() {
  absl::StatusOr<v1::Signed> envelope =
      FetchSigned(kTimestampPath, options_.max_timestamp_bytes);
  if (!envelope.ok()) return envelope.status();
  const v1::Root& root = working_.root().role;
  absl::Status s = VerifyThreshold(root, root.timestamp(), *envelope, "timestamp");
  if (!s.ok()) return s;
  absl::StatusOr<v1::Timestamp> ts = ParseTimestamp(envelope->role_bytes());
  if (!ts.ok()) return ts.status();
  if (const auto& old = working_.timestamp()) {
    if (ts->version() < old->role.version()) {
      return Rollback("timestamp version", ts->version(), old->role.version());
    }
    if (ts->issued_unix_s() < old->role.issued_unix_s()) {
      return Refusal(RefusalReason::kRollback,
                     absl::StrCat("timestamp issued at ", ts->issued_unix_s(),
                                  " < trusted ", old->role.issued_unix_s()));
    }
    if (ts->snapshot_version() < old->role.snapshot_version()) {
      return Rollback("timestamp's snapshot version", ts->snapshot_version(),
                      old->role.snapshot_version());
    }
  }
  if (ts->snapshot_length() > options_.max_snapshot_bytes) {
    return Refusal(RefusalReason::kEndlessData,
                   absl::StrCat("timestamp names a snapshot of ",
                                ts->snapshot_length(), " bytes > limit ",
                                options_.max_snapshot_bytes));
  }
  trusted_time_ = std::max(trusted_time_, absl::FromUnixSeconds(ts->issued_unix_s()));
  s = CheckNotExpired(absl::StrCat("timestamp ", ts->version()),
                      ts->expires_unix_s(), trusted_time_);
  if (!s.ok()) return s;
  working_.set_timestamp({*std::move(envelope), *std::move(ts)});
  return absl::OkStatus();
}

// TUF 5.5: the bytes the timestamp names, signed by the snapshot keys, of the
// version the timestamp names, no targets version going back, unexpired. A
// trusted snapshot the timestamp still names is kept without a fetch.
absl::Status UpdateCycle::UpdateSnapshot() {
  const v1::Timestamp& ts = working_.timestamp()->role;
  const auto& trusted = working_.snapshot();
  if (trusted && trusted->role.version() == ts.snapshot_version() &&
      CheckBytes("snapshot", trusted->envelope.SerializeAsString(),
                 ts.snapshot_length(), ts.snapshot_sha256())
          .ok()) {
    return CheckNotExpired(absl::StrCat("snapshot ", trusted->role.version()),
                           trusted->role.expires_unix_s(), trusted_time_);
  }
  absl::StatusOr<std::string> bytes = Fetch(kSnapshotPath, ts.snapshot_length());
  if (bytes.status().code() == absl::StatusCode::kNotFound) {
    return Refusal(RefusalReason::kFetchFailed, "snapshot.pb: not found");
  }
  if (!bytes.ok()) return bytes.status();
  absl::Status s = CheckBytes("snapshot", *bytes, ts.snapshot_length(),
                              ts.snapshot_sha256());
  if (!s.ok()) return s;
  absl::StatusOr<v1::Signed> envelope = ParseSigned(*bytes, kSnapshotPath);
  if (!envelope.ok()) return envelope.status();
  const v1::Root& root = working_.root().role;
  s = VerifyThreshold(root, root.snapshot(), *envelope, "snapshot");
  if (!s.ok()) return s;
  absl::StatusOr<v1::Snapshot> snap = ParseSnapshot(envelope->role_bytes());
  if (!snap.ok()) return snap.status();
  if (snap->version() != ts.snapshot_version()) {
    return Refusal(RefusalReason::kMixAndMatch,
                   absl::StrCat("snapshot version ", snap->version(),
                                ", timestamp names ", ts.snapshot_version()));
  }
  if (trusted) {
    if (snap->version() < trusted->role.version()) {
      return Rollback("snapshot version", snap->version(), trusted->role.version());
    }
    if (snap->targets_version() < trusted->role.targets_version()) {
      return Rollback("snapshot's targets version", snap->targets_version(),
                      trusted->role.targets_version());
    }
  }
  s = CheckNotExpired(absl::StrCat("snapshot ", snap->version()),
                      snap->expires_unix_s(), trusted_time_);
  if (!s.ok()) return s;
  working_.set_snapshot({*std::move(envelope), *std::move(snap)});
  return absl::OkStatus();
}

// TUF 5.6: the bytes the snapshot names, signed by the targets keys, of the
// version the snapshot names, not going back, unexpired.
absl::Status UpdateCycle::UpdateTargets() {
  const v1::Snapshot& snap = working_.snapshot()->role;
  const auto& trusted = working_.targets();
  if (trusted && trusted->role.version() == snap.targets_version() &&
      CheckBytes("targets", trusted->envelope.SerializeAsString(),
                 snap.targets_length(), snap.targets_sha256())
          .ok()) {
    return CheckNotExpired(absl::StrCat("targets ", trusted->role.version()),
                           trusted->role.expires_unix_s(), trusted_time_);
  }
  if (snap.targets_length() > options_.max_targets_bytes) {
    return Refusal(RefusalReason::kEndlessData,
                   absl::StrCat("snapshot names targets of ", snap.targets_length(),
                                " bytes > limit ", options_.max_targets_bytes));
  }
  const size_t max = snap.targets_length() != 0 ? snap.targets_length()
                                                 : options_.max_targets_bytes;
  absl::StatusOr<std::string> bytes = Fetch(kTargetsPath, max);
  if (bytes.status().code() == absl::StatusCode::kNotFound) {
    return Refusal(RefusalReason::kFetchFailed, "targets.pb: not found");
  }
  if (!bytes.ok()) return bytes.status();
  absl::Status s = CheckBytes("targets", *bytes, snap.targets_length(),
                              snap.targets_sha256());
  if (!s.ok()) return s;
  absl::StatusOr<v1::Signed> envelope = ParseSigned(*bytes, kTargetsPath);
  if (!envelope.ok()) return envelope.status();
  const v1::Root& root = working_.root().role;
  s = VerifyThreshold(root, root.targets(), *envelope, "targets");
  if (!s.ok()) return s;
  absl::StatusOr<v1::Targets> targets = ParseTargets(envelope->role_bytes());
  if (!targets.ok()) return targets.status();
  if (targets->version() != snap.targets_version()) {
    return Refusal(RefusalReason::kMixAndMatch,
                   absl::StrCat("targets version ", targets->version(),
                                ", snapshot names ", snap.targets_version()));
  }
  if (trusted && targets->version() < trusted->role.version()) {
    return Rollback("targets version", targets->version(), trusted->role.version());
  }
  s = CheckNotExpired(absl::StrCat("targets ", targets->version()),
                      targets->expires_unix_s(), trusted_time_);
  if (!s.ok()) return s;
  working_.set_targets({*std::move(envelope), *std::move(targets)});
  return absl::OkStatus();
}

}  // namespace fedtiny::client::trust
