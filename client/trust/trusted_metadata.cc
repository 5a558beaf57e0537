#include "client/trust/trusted_metadata.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/trust/refusal.h"

namespace fedtiny::client::trust {
namespace {

absl::StatusOr<Verified<v1::Root>> VerifySelfSignedRoot(v1::Signed envelope) {
  absl::StatusOr<v1::Root> root = ParseRoot(envelope.role_bytes());
  if (!root.ok()) return root.status();
  absl::Status s = VerifyThreshold(*root, root->root(), envelope, "root");
  if (!s.ok()) return s;
  return Verified<v1::Root>{std::move(envelope), *std::move(root)};
}

// Verifies a stored role against the trusted root's keys for it.
template <typename Role>
absl::StatusOr<Verified<Role>> VerifyStored(
    const v1::Root& root, const v1::RoleKeys& keys, v1::Signed envelope,
    absl::StatusOr<Role> (*parse)(absl::string_view), absl::string_view what) {
  absl::Status s = VerifyThreshold(root, keys, envelope, what);
  if (!s.ok()) return s;
  absl::StatusOr<Role> role = parse(envelope.role_bytes());
  if (!role.ok()) return role.status();
  return Verified<Role>{std::move(envelope), *std::move(role)};
}

absl::Status Corrupt(const absl::Status& why) {
  return Refusal(RefusalReason::kStorage,
                 absl::StrCat("stored trusted set: ", why.message()));
}

}  // namespace

absl::StatusOr<TrustedMetadata> TrustedMetadata::FromInitialRoot(
    absl::string_view signed_root) {
  absl::StatusOr<v1::Signed> envelope = ParseSigned(signed_root, "initial root");
  if (!envelope.ok()) return envelope.status();
  absl::StatusOr<Verified<v1::Root>> root =
      VerifySelfSignedRoot(*std::move(envelope));
  if (!root.ok()) return root.status();
  return TrustedMetadata(*std::move(root));
}

absl::StatusOr<TrustedMetadata> TrustedMetadata::Parse(absl::string_view stored) {
  v1::TrustedSet set;
  if (!set.ParseFromArray(stored.data(), static_cast<int>(stored.size()))) {
    return Refusal(RefusalReason::kStorage, "stored trusted set does not parse");
  }
  absl::StatusOr<Verified<v1::Root>> root = VerifySelfSignedRoot(set.root());
  if (!root.ok()) return Corrupt(root.status());
  TrustedMetadata m(*std::move(root));
  const v1::Root& r = m.root_.role;
  if (set.has_timestamp()) {
    auto ts = VerifyStored<v1::Timestamp>(r, r.timestamp(), set.timestamp(),
                                          &ParseTimestamp, "timestamp");
    if (!ts.ok()) return Corrupt(ts.status());
    m.timestamp_ = *std::move(ts);
  }
  if (set.has_snapshot()) {
    auto snap = VerifyStored<v1::Snapshot>(r, r.snapshot(), set.snapshot(),
                                           &ParseSnapshot, "snapshot");
    if (!snap.ok()) return Corrupt(snap.status());
    m.snapshot_ = *std::move(snap);
  }
  if (set.has_targets()) {
    auto targets = VerifyStored<v1::Targets>(r, r.targets(), set.targets(),
                                             &ParseTargets, "targets");
    if (!targets.ok()) return Corrupt(targets.status());
    m.targets_ = *std::move(targets);
  }
  return m;
}

std::string TrustedMetadata::Serialize() const {
  v1::TrustedSet set;
  *set.mutable_root() = root_.envelope;
  if (timestamp_) *set.mutable_timestamp() = timestamp_->envelope;
  if (snapshot_) *set.mutable_snapshot() = snapshot_->envelope;
  if (targets_) *set.mutable_targets() = targets_->envelope;
  return set.SerializeAsString();
}

absl::Time TrustedMetadata::TimeFloor() const {
  if (!timestamp_) return absl::InfinitePast();
  return absl::FromUnixSeconds(timestamp_->role.issued_unix_s());
}

void TrustedMetadata::ForgetNonRoot() {
  timestamp_.reset();
  snapshot_.reset();
  targets_.reset();
}

}  // namespace fedtiny::client::trust
