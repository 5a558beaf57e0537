// The device's trusted metadata: the root it trusts and, once a first update
// passed, the timestamp, snapshot and targets it verified with it. Stored as
// one TrustedSet file (proto/trust.proto), written whole and atomically.
#ifndef FEDTINY_CLIENT_TRUST_TRUSTED_METADATA_H_
#define FEDTINY_CLIENT_TRUST_TRUSTED_METADATA_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/trust/metadata.h"
#include "proto/trust.pb.h"

namespace fedtiny::client::trust {

// TrustedMetadata is a value: copy it, change the copy, and keep it only if
// every check passed (the updater's way to leave the trusted set unchanged on
// a refusal). Thread-compatible; owns its messages.
class TrustedMetadata {
 public:
  // FromInitialRoot starts from the root shipped with the device (a Signed
  // envelope): it must be a well-formed root signed by a threshold of its own
  // root keys. Its expiry is not checked (TUF 5.2: an update replaces it).
  // kMalformed, kWrongRole or kSignatureThreshold refusals.
  static absl::StatusOr<TrustedMetadata> FromInitialRoot(
      absl::string_view signed_root);

  // Parse reads a stored TrustedSet and verifies it again: the root as
  // FromInitialRoot does, every other role against the root's keys for it.
  // A kStorage refusal when it does not parse or verify.
  static absl::StatusOr<TrustedMetadata> Parse(absl::string_view stored);

  // Serialize returns the TrustedSet bytes Parse reads.
  std::string Serialize() const;

  [[nodiscard]] const Verified<v1::Root>& root() const { return root_; }
  [[nodiscard]] const std::optional<Verified<v1::Timestamp>>& timestamp() const {
    return timestamp_;
  }
  [[nodiscard]] const std::optional<Verified<v1::Snapshot>>& snapshot() const {
    return snapshot_;
  }
  [[nodiscard]] const std::optional<Verified<v1::Targets>>& targets() const {
    return targets_;
  }

  // TimeFloor returns the issue time of the trusted timestamp (the infinite
  // past without one): the device's time is never earlier.
  [[nodiscard]] absl::Time TimeFloor() const;

  void set_root(Verified<v1::Root> root) { root_ = std::move(root); }
  void set_timestamp(Verified<v1::Timestamp> t) { timestamp_ = std::move(t); }
  void set_snapshot(Verified<v1::Snapshot> s) { snapshot_ = std::move(s); }
  void set_targets(Verified<v1::Targets> t) { targets_ = std::move(t); }
  // ForgetNonRoot drops timestamp, snapshot and targets (after a rotation of
  // their keys: TUF 5.3.11, the recovery from a fast-forward attack).
  void ForgetNonRoot();

 private:
  explicit TrustedMetadata(Verified<v1::Root> root) : root_(std::move(root)) {}

  Verified<v1::Root> root_;
  std::optional<Verified<v1::Timestamp>> timestamp_;
  std::optional<Verified<v1::Snapshot>> snapshot_;
  std::optional<Verified<v1::Targets>> targets_;
};

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_TRUSTED_METADATA_H_
