// A model-trust repository for tests (TUF's conformance suite is the model):
// it holds the keys, makes and signs metadata, serves it through the Fetcher
// interface, logs what was fetched, and can be tampered with per scenario.
#ifndef FEDTINY_CLIENT_TRUST_TESTING_REPOSITORY_SIMULATOR_H_
#define FEDTINY_CLIENT_TRUST_TESTING_REPOSITORY_SIMULATOR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/trust/fetcher.h"
#include "client/trust/wall_clock.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::client::trust::testing {

// RepositorySimulator: not thread-safe (one test drives it). Borrows the
// clock (which its slow fetches advance); owns its keys and files.
class RepositorySimulator final : public Fetcher {
 public:
  // Create makes a repository whose root 1 has `root_keys` root keys (threshold
  // `root_threshold`) and one key for each other role, and publishes root 1
  // and a first targets/snapshot/timestamp (one target, "model-v1", directed
  // to class "default").
  static absl::StatusOr<std::unique_ptr<RepositorySimulator>> Create(
      FakeWallClock* clock, int root_keys = 1, int root_threshold = 1);

  // The roles as the next Publish*() will sign them (tests edit them freely).
  v1::Root& root() { return root_; }
  v1::Targets& targets() { return targets_; }
  v1::Snapshot& snapshot() { return snapshot_; }
  v1::Timestamp& timestamp() { return timestamp_; }
  v1::RoleKeys& RoleKeysOf(v1::RoleType role);

  // NewKey generates a key the repository holds, not yet in any role; returns
  // its id. AddKey also lists it (and files it in root.keys) for `role`.
  absl::StatusOr<std::string> NewKey();
  absl::StatusOr<std::string> AddKey(v1::RoleType role);
  // ReplaceKeys makes `role` signed by one new key only (a rotation).
  absl::StatusOr<std::string> ReplaceKeys(v1::RoleType role);

  // Signers: by default a role is signed by every key its current role lists
  // (root versions also by the keys of the root before). SetSigners overrides
  // that with any keys the repository holds (e.g. an attacker's);
  // ClearSigners restores the default.
  void SetSigners(v1::RoleType role, std::vector<std::string> key_ids);
  void ClearSigners(v1::RoleType role);

  // Expiry durations from the clock's now, applied at each publish.
  void SetLifetime(v1::RoleType role, absl::Duration lifetime);

  // PublishRoot increments root's version, signs it and serves it as
  // "<version>.root.pb". PublishTargets / PublishSnapshot / PublishTimestamp
  // increment that role's version and sign it; each also republishes the roles
  // that name it (targets -> snapshot -> timestamp).
  absl::Status PublishRoot();
  absl::Status PublishTargets();
  absl::Status PublishSnapshot();
  absl::Status PublishTimestamp();

  // Sign returns the Signed envelope of `role` by `key_ids`, serialized.
  absl::StatusOr<std::string> Sign(const google::protobuf::Message& role,
                                   const std::vector<std::string>& key_ids) const;

  // AddTarget describes `bytes` as target `name` (published by the next
  // PublishTargets).
  void AddTarget(const std::string& name, const std::string& bytes,
                 const std::string& variant = "float32");

  // The served files, by path; tests may replace or delete any.
  std::map<std::string, std::string>& files() { return files_; }
  // The signed root 1, for the device's initial trust.
  const std::string& initial_root() { return files_.at("1.root.pb"); }

  // Fetch serves a file: stops at max_bytes + 1 like a careful fetcher,
  // unless set_ignore_max_bytes (a hostile stream the updater must refuse);
  // advances the clock by the fetch delay first.
  absl::StatusOr<std::string> Fetch(const std::string& path, size_t max_bytes,
                                    absl::Time deadline) override;
  void set_fetch_delay(absl::Duration d) { fetch_delay_ = d; }
  void set_ignore_max_bytes(bool ignore) { ignore_max_bytes_ = ignore; }
  // Paths fetched, in order; ClearFetchLog empties it.
  const std::vector<std::string>& fetch_log() const { return fetch_log_; }
  void ClearFetchLog() { fetch_log_.clear(); }

 private:
  explicit RepositorySimulator(FakeWallClock* clock);
  std::vector<std::string> SignersOf(v1::RoleType role) const;
  int64_t ExpiryOf(v1::RoleType role) const;

  FakeWallClock* clock_;
  std::map<std::string, crypto::EcPrivateKey> keys_;  // by id
  std::map<v1::RoleType, std::vector<std::string>> signers_;
  std::map<v1::RoleType, absl::Duration> lifetimes_;
  v1::Root root_;
  v1::RoleKeys previous_root_keys_;  // the root role of the last root published
  v1::Targets targets_;
  v1::Snapshot snapshot_;
  v1::Timestamp timestamp_;
  std::map<std::string, std::string> files_;
  std::vector<std::string> fetch_log_;
  absl::Duration fetch_delay_ = absl::ZeroDuration();
  bool ignore_max_bytes_ = false;
};

// Sha256Bytes returns SHA-256(`data`) as 32 raw bytes.
std::string Sha256Bytes(const std::string& data);

}  // namespace fedtiny::client::trust::testing

#endif  // FEDTINY_CLIENT_TRUST_TESTING_REPOSITORY_SIMULATOR_H_
