#include "tests/fuzz/trust_repository.h"

#include <cstdlib>
#include <iostream>

#include "absl/time/time.h"
#include "client/platform/linux/status_bridge.h"
#include "client/trust/updater.h"
#include "client/trust/wall_clock.h"
#include "tools/base/sha256.h"

namespace fedtiny::fuzz {
namespace {

// Test keys, made once with `openssl genpkey -algorithm EC -pkeyopt
// ec_paramgen_curve:P-256`. They protect nothing.
constexpr const char* kPems[] = {
    // root
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgircP51xduLRJ6Mqt\n"
    "yhMLIdWS9XnpLJL5MWvW0Nw0sXqhRANCAAQ5cF7inzE0870EMnF73c2OPvsl0Hx9\n"
    "ND7DaxFFxejnQ8lT+qYPL+uUhk9pQQtysgQkp0qyQnVZrr9EQttm8EJB\n"
    "-----END PRIVATE KEY-----\n",
    // targets
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFUo+gyuNAzbTBdd7\n"
    "tTRY4EnL9i+8V+I48/FX5KkUGdihRANCAAT8f6Zp0/FrTw2GNNokEKkwJPSS2LtP\n"
    "tJt/4hE/OMdaaV82giqxjYRtQGY7PHfP1crLBjql0beAViSxaNi6lQYg\n"
    "-----END PRIVATE KEY-----\n",
    // snapshot
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0Ujoz6dsyx3k0Zkw\n"
    "giex/gRt69KRogAeWigtxWpIPoShRANCAASPLxnpzIsalvMr5zkPyIa1xaWNST1I\n"
    "lzV33QAW4i/W7gDgQDLP1ysWiWNmCs2aTBQsxOkh9dthKcmY/DgnP/wu\n"
    "-----END PRIVATE KEY-----\n",
    // timestamp
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpxDNP8rksATsSwHK\n"
    "jTDirogageWHgoU/bi0EPlSwd6OhRANCAATwgJRWWxqPh9acf7CnfgWqsU8mb8bX\n"
    "TxPYbDwaqxInxfhQR+UJtk20lSFVibkyzQCbZjDXaMrox9CKsQNhg10I\n"
    "-----END PRIVATE KEY-----\n",
};

constexpr v1::RoleType kRoles[] = {v1::ROLE_TYPE_ROOT, v1::ROLE_TYPE_TARGETS,
                                   v1::ROLE_TYPE_SNAPSHOT,
                                   v1::ROLE_TYPE_TIMESTAMP};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "trust_repository: " << what << std::endl;
  std::abort();
}

std::string Digest(const std::string& bytes) {
  absl::StatusOr<Sha256Digest> d = Sha256(bytes);
  return d.ok() ? std::string(d->begin(), d->end()) : std::string();
}

}  // namespace

const TrustRepo& TrustRepo::Get() {
  static const TrustRepo* const repo = new TrustRepo();
  return *repo;
}

TrustRepo::TrustRepo() {
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::FromPem(kPems[i]);
    if (!key.ok()) Die(std::string(key.status().message()));
    keys_.emplace(kRoles[i], *std::move(key));
  }
  initial_root_ = Sign(v1::ROLE_TYPE_ROOT, Root(1).SerializeAsString());
  // Version 1 of everything, linked by lengths and hashes.
  MapFetcher repo;
  repo.files["targets.pb"] =
      Sign(v1::ROLE_TYPE_TARGETS, Targets(1).SerializeAsString());
  v1::Snapshot snap = Snapshot(1);
  snap.set_targets_length(repo.files["targets.pb"].size());
  snap.set_targets_sha256(Digest(repo.files["targets.pb"]));
  repo.files["snapshot.pb"] =
      Sign(v1::ROLE_TYPE_SNAPSHOT, snap.SerializeAsString());
  v1::Timestamp ts = Timestamp(1);
  ts.set_snapshot_length(repo.files["snapshot.pb"].size());
  ts.set_snapshot_sha256(Digest(repo.files["snapshot.pb"]));
  repo.files["timestamp.pb"] =
      Sign(v1::ROLE_TYPE_TIMESTAMP, ts.SerializeAsString());
  MemoryStorage storage;
  client::trust::FakeWallClock clock(absl::FromUnixSeconds(kTrustNow));
  auto updater = client::trust::Updater::Create(storage, "trusted", initial_root_,
                                                repo, clock);
  if (!updater.ok()) Die(std::string(updater.status().message()));
  absl::Status s = (*updater)->Refresh();
  if (!s.ok()) Die(std::string(s.message()));
  baseline_set_ = storage.files.at("trusted");
}

v1::Root TrustRepo::Root(uint64_t version) const {
  v1::Root root;
  root.set_type(v1::ROLE_TYPE_ROOT);
  root.set_version(version);
  root.set_expires_unix_s(kTrustNow + 365 * 86400);
  for (v1::RoleType role : kRoles) {
    const crypto::EcPublicKey& pub = keys_.at(role).public_key();
    v1::PublicKey& key = (*root.mutable_keys())[pub.key_id()];
    key.set_scheme(crypto::kEcdsaP256Sha256);
    key.set_spki_der(pub.spki_der());
    v1::RoleKeys* keys = role == v1::ROLE_TYPE_ROOT       ? root.mutable_root()
                         : role == v1::ROLE_TYPE_TARGETS  ? root.mutable_targets()
                         : role == v1::ROLE_TYPE_SNAPSHOT ? root.mutable_snapshot()
                                                          : root.mutable_timestamp();
    keys->add_key_ids(pub.key_id());
    keys->set_threshold(1);
  }
  return root;
}

v1::Timestamp TrustRepo::Timestamp(uint64_t version) const {
  v1::Timestamp ts;
  ts.set_type(v1::ROLE_TYPE_TIMESTAMP);
  ts.set_version(version);
  ts.set_expires_unix_s(kTrustNow + 86400);
  ts.set_issued_unix_s(kTrustNow);
  ts.set_snapshot_version(version);
  return ts;
}

v1::Snapshot TrustRepo::Snapshot(uint64_t version) const {
  v1::Snapshot snap;
  snap.set_type(v1::ROLE_TYPE_SNAPSHOT);
  snap.set_version(version);
  snap.set_expires_unix_s(kTrustNow + 7 * 86400);
  snap.set_targets_version(version);
  return snap;
}

v1::Targets TrustRepo::Targets(uint64_t version) const {
  v1::Targets targets;
  targets.set_type(v1::ROLE_TYPE_TARGETS);
  targets.set_version(version);
  targets.set_expires_unix_s(kTrustNow + 30 * 86400);
  v1::TargetInfo& info = (*targets.mutable_targets())[kTrustTargetName];
  const std::string bytes = kTrustTargetBytes;
  info.set_length(bytes.size());
  info.set_sha256(Digest(bytes));
  info.set_model_version(static_cast<int64_t>(version));
  info.set_variant("float32");
  (*targets.mutable_directives())["default"] = kTrustTargetName;
  return targets;
}

std::string TrustRepo::Sign(v1::RoleType role, const std::string& role_bytes) const {
  v1::Signed envelope;
  envelope.set_role_bytes(role_bytes);
  const crypto::EcPrivateKey& key = keys_.at(role);
  absl::StatusOr<std::string> sig = key.Sign(role_bytes);
  if (!sig.ok()) Die(std::string(sig.status().message()));
  v1::Signature* s = envelope.add_signatures();
  s->set_key_id(key.public_key().key_id());
  s->set_signature(*sig);
  return envelope.SerializeAsString();
}

client::StatusOr<std::string> MemoryStorage::ReadFile(const std::string& path) {
  auto it = files.find(path);
  if (it == files.end()) return client::Status(client::StatusCode::kNotFound, path);
  return it->second;
}

client::Status MemoryStorage::WriteFileAtomically(const std::string& path,
                                                  std::string_view contents) {
  files[path] = std::string(contents);
  return client::OkStatus();
}

client::Status MemoryStorage::Remove(const std::string& path) {
  files.erase(path);
  return client::OkStatus();
}

bool MemoryStorage::Exists(const std::string& path) { return files.count(path) > 0; }

absl::StatusOr<std::string> MapFetcher::Fetch(const std::string& path,
                                              size_t max_bytes, absl::Time) {
  auto it = files.find(path);
  if (it == files.end()) return absl::NotFoundError(path);
  return it->second.substr(0, max_bytes + 1);
}

}  // namespace fedtiny::fuzz
