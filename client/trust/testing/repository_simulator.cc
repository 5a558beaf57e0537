#include "client/trust/testing/repository_simulator.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/trust/signing.h"

namespace fedtiny::client::trust::testing {

std::string Sha256Bytes(const std::string& data) { return Sha256Raw(data); }

RepositorySimulator::RepositorySimulator(FakeWallClock* clock) : clock_(clock) {
  lifetimes_[v1::ROLE_TYPE_ROOT] = absl::Hours(24 * 365);
  lifetimes_[v1::ROLE_TYPE_TARGETS] = absl::Hours(24 * 30);
  lifetimes_[v1::ROLE_TYPE_SNAPSHOT] = absl::Hours(24 * 7);
  lifetimes_[v1::ROLE_TYPE_TIMESTAMP] = absl::Hours(24);
  root_.set_type(v1::ROLE_TYPE_ROOT);
  targets_.set_type(v1::ROLE_TYPE_TARGETS);
  snapshot_.set_type(v1::ROLE_TYPE_SNAPSHOT);
  timestamp_.set_type(v1::ROLE_TYPE_TIMESTAMP);
}

absl::StatusOr<std::unique_ptr<RepositorySimulator>> RepositorySimulator::Create(
    FakeWallClock* clock, int root_keys, int root_threshold) {
  std::unique_ptr<RepositorySimulator> sim(new RepositorySimulator(clock));
  for (int i = 0; i < root_keys; ++i) {
    absl::StatusOr<std::string> id = sim->AddKey(v1::ROLE_TYPE_ROOT);
    if (!id.ok()) return id.status();
  }
  sim->root_.mutable_root()->set_threshold(root_threshold);
  for (v1::RoleType role : {v1::ROLE_TYPE_TARGETS, v1::ROLE_TYPE_SNAPSHOT,
                            v1::ROLE_TYPE_TIMESTAMP}) {
    absl::StatusOr<std::string> id = sim->AddKey(role);
    if (!id.ok()) return id.status();
    sim->RoleKeysOf(role).set_threshold(1);
  }
  absl::Status s = sim->PublishRoot();
  if (!s.ok()) return s;
  sim->AddTarget("model-v1", "model bytes v1");
  (*sim->targets_.mutable_directives())["default"] = "model-v1";
  s = sim->PublishTargets();
  if (!s.ok()) return s;
  return sim;
}

v1::RoleKeys& RepositorySimulator::RoleKeysOf(v1::RoleType role) {
  switch (role) {
    case v1::ROLE_TYPE_ROOT:
      return *root_.mutable_root();
    case v1::ROLE_TYPE_TARGETS:
      return *root_.mutable_targets();
    case v1::ROLE_TYPE_SNAPSHOT:
      return *root_.mutable_snapshot();
    default:
      return *root_.mutable_timestamp();
  }
}

absl::StatusOr<std::string> RepositorySimulator::NewKey() {
  absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
  if (!key.ok()) return key.status();
  std::string id = key->public_key().key_id();
  keys_.emplace(id, *std::move(key));
  return id;
}

absl::StatusOr<std::string> RepositorySimulator::AddKey(v1::RoleType role) {
  absl::StatusOr<std::string> id = NewKey();
  if (!id.ok()) return id;
  (*root_.mutable_keys())[*id] = PublicKeyOf(keys_.at(*id).public_key());
  RoleKeysOf(role).add_key_ids(*id);
  return id;
}

absl::StatusOr<std::string> RepositorySimulator::ReplaceKeys(v1::RoleType role) {
  RoleKeysOf(role).clear_key_ids();
  absl::StatusOr<std::string> id = AddKey(role);
  if (id.ok()) RoleKeysOf(role).set_threshold(1);
  return id;
}

void RepositorySimulator::SetSigners(v1::RoleType role,
                                     std::vector<std::string> key_ids) {
  signers_[role] = std::move(key_ids);
}

void RepositorySimulator::ClearSigners(v1::RoleType role) { signers_.erase(role); }

void RepositorySimulator::SetLifetime(v1::RoleType role, absl::Duration lifetime) {
  lifetimes_[role] = lifetime;
}

std::vector<std::string> RepositorySimulator::SignersOf(v1::RoleType role) const {
  auto it = signers_.find(role);
  if (it != signers_.end()) return it->second;
  std::set<std::string> ids;
  const v1::RoleKeys& keys = const_cast<RepositorySimulator*>(this)->RoleKeysOf(role);
  ids.insert(keys.key_ids().begin(), keys.key_ids().end());
  if (role == v1::ROLE_TYPE_ROOT) {
    ids.insert(previous_root_keys_.key_ids().begin(),
               previous_root_keys_.key_ids().end());
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

int64_t RepositorySimulator::ExpiryOf(v1::RoleType role) const {
  return absl::ToUnixSeconds(clock_->Now() + lifetimes_.at(role));
}

absl::StatusOr<std::string> RepositorySimulator::Sign(
    const google::protobuf::Message& role,
    const std::vector<std::string>& key_ids) const {
  std::vector<const crypto::EcPrivateKey*> keys;
  for (const std::string& id : key_ids) {
    auto it = keys_.find(id);
    if (it == keys_.end()) return absl::NotFoundError("simulator: no key " + id);
    keys.push_back(&it->second);
  }
  return SignRole(role, keys);
}

void RepositorySimulator::AddTarget(const std::string& name,
                                    const std::string& bytes,
                                    const std::string& variant) {
  v1::TargetInfo& info = (*targets_.mutable_targets())[name];
  info.set_length(bytes.size());
  info.set_sha256(Sha256Bytes(bytes));
  info.set_task("task");
  info.set_variant(variant);
  info.set_model_version(targets_.targets_size());
}

absl::Status RepositorySimulator::PublishRoot() {
  root_.set_version(root_.version() + 1);
  root_.set_expires_unix_s(ExpiryOf(v1::ROLE_TYPE_ROOT));
  absl::StatusOr<std::string> bytes = Sign(root_, SignersOf(v1::ROLE_TYPE_ROOT));
  if (!bytes.ok()) return bytes.status();
  files_[absl::StrCat(root_.version(), ".root.pb")] = *bytes;
  previous_root_keys_ = root_.root();
  return absl::OkStatus();
}

absl::Status RepositorySimulator::PublishTargets() {
  targets_.set_version(targets_.version() + 1);
  targets_.set_expires_unix_s(ExpiryOf(v1::ROLE_TYPE_TARGETS));
  absl::StatusOr<std::string> bytes =
      Sign(targets_, SignersOf(v1::ROLE_TYPE_TARGETS));
  if (!bytes.ok()) return bytes.status();
  files_[kTargetsPath] = *bytes;
  PointSnapshotAt(targets_, *bytes, snapshot_);
  return PublishSnapshot();
}

absl::Status RepositorySimulator::PublishSnapshot() {
  snapshot_.set_version(snapshot_.version() + 1);
  snapshot_.set_expires_unix_s(ExpiryOf(v1::ROLE_TYPE_SNAPSHOT));
  absl::StatusOr<std::string> bytes =
      Sign(snapshot_, SignersOf(v1::ROLE_TYPE_SNAPSHOT));
  if (!bytes.ok()) return bytes.status();
  files_[kSnapshotPath] = *bytes;
  PointTimestampAt(snapshot_, *bytes, timestamp_);
  return PublishTimestamp();
}

absl::Status RepositorySimulator::PublishTimestamp() {
  timestamp_.set_version(timestamp_.version() + 1);
  timestamp_.set_issued_unix_s(absl::ToUnixSeconds(clock_->Now()));
  timestamp_.set_expires_unix_s(ExpiryOf(v1::ROLE_TYPE_TIMESTAMP));
  absl::StatusOr<std::string> bytes =
      Sign(timestamp_, SignersOf(v1::ROLE_TYPE_TIMESTAMP));
  if (!bytes.ok()) return bytes.status();
  files_[kTimestampPath] = *bytes;
  return absl::OkStatus();
}

absl::StatusOr<std::string> RepositorySimulator::Fetch(const std::string& path,
                                                       size_t max_bytes,
                                                       absl::Time deadline) {
  fetch_log_.push_back(path);
  if (fetch_delay_ > absl::ZeroDuration()) clock_->Advance(fetch_delay_);
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError("simulator: no " + path);
  if (!ignore_max_bytes_ && it->second.size() > max_bytes) {
    return it->second.substr(0, max_bytes + 1);
  }
  return it->second;
}

}  // namespace fedtiny::client::trust::testing
