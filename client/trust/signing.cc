#include "client/trust/signing.h"

#include "tools/base/sha256.h"

namespace fedtiny::client::trust {

absl::StatusOr<std::string> SignRole(const google::protobuf::Message& role,
                                     const std::vector<const crypto::EcPrivateKey*>& keys) {
  v1::Signed envelope;
  envelope.set_role_bytes(role.SerializeAsString());
  for (const crypto::EcPrivateKey* key : keys) {
    absl::StatusOr<std::string> sig = key->Sign(envelope.role_bytes());
    if (!sig.ok()) return sig.status();
    v1::Signature* s = envelope.add_signatures();
    s->set_key_id(key->public_key().key_id());
    s->set_signature(*sig);
  }
  return envelope.SerializeAsString();
}

v1::PublicKey PublicKeyOf(const crypto::EcPublicKey& key) {
  v1::PublicKey out;
  out.set_scheme(crypto::kEcdsaP256Sha256);
  out.set_spki_der(key.spki_der());
  return out;
}

std::string Sha256Raw(absl::string_view data) {
  absl::StatusOr<Sha256Digest> d = Sha256(data);
  return d.ok() ? std::string(d->begin(), d->end()) : std::string();
}

void PointSnapshotAt(const v1::Targets& targets, const std::string& signed_targets,
                     v1::Snapshot& snapshot) {
  snapshot.set_targets_version(targets.version());
  snapshot.set_targets_length(signed_targets.size());
  snapshot.set_targets_sha256(Sha256Raw(signed_targets));
}

void PointTimestampAt(const v1::Snapshot& snapshot, const std::string& signed_snapshot,
                      v1::Timestamp& timestamp) {
  timestamp.set_snapshot_version(snapshot.version());
  timestamp.set_snapshot_length(signed_snapshot.size());
  timestamp.set_snapshot_sha256(Sha256Raw(signed_snapshot));
}

absl::Status ParseSignedRole(absl::string_view signed_bytes, google::protobuf::Message& role) {
  v1::Signed envelope;
  if (!envelope.ParseFromArray(signed_bytes.data(), static_cast<int>(signed_bytes.size())) ||
      !role.ParseFromString(envelope.role_bytes())) {
    return absl::DataLossError("stored trust metadata does not parse");
  }
  return absl::OkStatus();
}

}  // namespace fedtiny::client::trust
