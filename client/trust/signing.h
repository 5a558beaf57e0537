// The repository's side of model trust: signing a role into its Signed
// envelope and chaining the roles (snapshot -> targets, timestamp ->
// snapshot). Shared by the coordinator's repository (coordinator/trust), the
// operator's key tool (flctl keys) and the tests' RepositorySimulator, so that
// metadata is made one way only. Devices never sign.
#ifndef FEDTINY_CLIENT_TRUST_SIGNING_H_
#define FEDTINY_CLIENT_TRUST_SIGNING_H_

#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::client::trust {

// SignRole serializes `role` once and returns the serialized Signed envelope
// with one signature per key, in order. kInternal if a signature fails.
absl::StatusOr<std::string> SignRole(const google::protobuf::Message& role,
                                     const std::vector<const crypto::EcPrivateKey*>& keys);

// PublicKeyOf returns the metadata form of `key` (scheme ecdsa-p256-sha256).
v1::PublicKey PublicKeyOf(const crypto::EcPublicKey& key);

// Sha256Raw returns SHA-256(`data`) as 32 raw bytes.
std::string Sha256Raw(absl::string_view data);

// PointSnapshotAt makes `snapshot` name the signed targets `signed_targets`
// (version, length and hash); PointTimestampAt does the same for a timestamp
// and its signed snapshot.
void PointSnapshotAt(const v1::Targets& targets, const std::string& signed_targets,
                     v1::Snapshot& snapshot);
void PointTimestampAt(const v1::Snapshot& snapshot, const std::string& signed_snapshot,
                      v1::Timestamp& timestamp);

// ParseSignedRole returns the role inside a serialized Signed envelope,
// without checking its signatures: for the repository's own stored metadata
// only, never for bytes from elsewhere. kDataLoss if either does not parse.
absl::Status ParseSignedRole(absl::string_view signed_bytes, google::protobuf::Message& role);

}  // namespace fedtiny::client::trust

#endif  // FEDTINY_CLIENT_TRUST_SIGNING_H_
