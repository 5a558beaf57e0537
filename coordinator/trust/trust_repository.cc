#include "coordinator/trust/trust_repository.h"

#include <sys/stat.h>

#include <algorithm>
#include <utility>

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/trust/fetcher.h"
#include "client/trust/signing.h"
#include "tools/base/atomic_file.h"
#include "tools/base/logging.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

namespace ct = client::trust;

// The next version of a role: above the last, and at least the Unix time, so
// versions keep growing even if the stored set is lost with the data dir.
uint64_t NextVersion(uint64_t last, absl::Time now) {
  return std::max<uint64_t>(last + 1, static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixSeconds(now))));
}

// The repository signs targets, snapshot and timestamp: a threshold of each
// role's keys must be held (kFailedPrecondition otherwise).
absl::Status CheckOnlineKeys(const KeyDir& keys) {
  for (v1::RoleType role : {v1::ROLE_TYPE_TARGETS, v1::ROLE_TYPE_SNAPSHOT,
                            v1::ROLE_TYPE_TIMESTAMP}) {
    RETURN_IF_ERROR(keys.KeysFor(role).status());
  }
  return absl::OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool NearExpiry(int64_t expires_unix_s, absl::Duration lifetime, absl::Time now) {
  return now + lifetime / 2 >= absl::FromUnixSeconds(expires_unix_s);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TrustRepository>> TrustRepository::Open(const Options& options,
                                                                       const Clock* clock) {
  ASSIGN_OR_RETURN(KeyDir keys, LoadKeyDir(options.trust_dir));
  RETURN_IF_ERROR(CheckOnlineKeys(keys));
  std::unique_ptr<TrustRepository> repo(new TrustRepository(options, clock, std::move(keys)));
  absl::MutexLock lock(&repo->mu_);
  RETURN_IF_ERROR(repo->Load());
  repo->targets_.set_type(v1::ROLE_TYPE_TARGETS);
  repo->snapshot_.set_type(v1::ROLE_TYPE_SNAPSHOT);
  repo->timestamp_.set_type(v1::ROLE_TYPE_TIMESTAMP);
  RETURN_IF_ERROR(repo->Republish(true, true));
  FT_LOG(INFO) << "model trust: root " << repo->keys_.root.version() << ", targets "
               << repo->targets_.version() << " (" << repo->targets_.targets_size()
               << " targets)";
  return repo;
}

absl::Status TrustRepository::Load() {
  if (options_.state_path.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> stored = ReadFile(options_.state_path);
  if (!stored.ok() && stored.status().code() == absl::StatusCode::kNotFound) {
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(stored.status());
  v1::TrustedSet set;
  if (!set.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat(options_.state_path, " does not parse"));
  }
  RETURN_IF_ERROR(ct::ParseSignedRole(set.targets().SerializeAsString(), targets_));
  RETURN_IF_ERROR(ct::ParseSignedRole(set.snapshot().SerializeAsString(), snapshot_));
  return ct::ParseSignedRole(set.timestamp().SerializeAsString(), timestamp_);
}

absl::Status TrustRepository::Republish(bool targets, bool snapshot) {
  const absl::Time now = clock_->Now();
  v1::Targets t = targets_;
  v1::Snapshot s = snapshot_;
  v1::Timestamp ts = timestamp_;
  std::string signed_t = signed_targets_, signed_s = signed_snapshot_;
  if (targets) {
    t.set_version(NextVersion(t.version(), now));
    t.set_expires_unix_s(absl::ToUnixSeconds(now + options_.targets_lifetime));
    ASSIGN_OR_RETURN(signed_t, ct::SignRole(t, *keys_.KeysFor(v1::ROLE_TYPE_TARGETS)));
    ct::PointSnapshotAt(t, signed_t, s);
    snapshot = true;
  }
  if (snapshot) {
    s.set_version(NextVersion(s.version(), now));
    s.set_expires_unix_s(absl::ToUnixSeconds(now + options_.snapshot_lifetime));
    ASSIGN_OR_RETURN(signed_s, ct::SignRole(s, *keys_.KeysFor(v1::ROLE_TYPE_SNAPSHOT)));
    ct::PointTimestampAt(s, signed_s, ts);
  }
  ts.set_version(NextVersion(ts.version(), now));
  ts.set_issued_unix_s(absl::ToUnixSeconds(now));
  ts.set_expires_unix_s(absl::ToUnixSeconds(now + options_.timestamp_lifetime));
  ASSIGN_OR_RETURN(std::string signed_ts,
                   ct::SignRole(ts, *keys_.KeysFor(v1::ROLE_TYPE_TIMESTAMP)));
  if (!options_.state_path.empty()) {
    v1::TrustedSet set;
    if (!set.mutable_root()->ParseFromString(keys_.roots.back()) ||
        !set.mutable_targets()->ParseFromString(signed_t) ||
        !set.mutable_snapshot()->ParseFromString(signed_s) ||
        !set.mutable_timestamp()->ParseFromString(signed_ts)) {
      return absl::InternalError("model trust: signed metadata does not parse");
    }
    RETURN_IF_ERROR(WriteFileAtomically(options_.state_path, set.SerializeAsString()));
  }
  targets_ = std::move(t);
  snapshot_ = std::move(s);
  timestamp_ = std::move(ts);
  signed_targets_ = std::move(signed_t);
  signed_snapshot_ = std::move(signed_s);
  signed_timestamp_ = std::move(signed_ts);
  return absl::OkStatus();
}

absl::Status TrustRepository::Publish(const std::string& task, const BundleMap& bundles,
                                      const std::map<std::string, std::string>& variant_by_class) {
  absl::MutexLock lock(&mu_);
  v1::Targets next = targets_;
  auto* all = next.mutable_targets();
  for (auto it = all->begin(); it != all->end();) {
    it = it->second.task() == task ? all->erase(it) : std::next(it);
  }
  std::string directed;
  std::map<std::string, std::string> cluster0;  // variant -> target name
  for (const auto& [key, b] : bundles) {
    v1::TargetInfo& info = (*all)[b->meta.target_name()];
    info.set_length(b->served().size());
    info.set_sha256(b->meta.sha256());
    info.set_task(task);
    info.set_cluster(std::to_string(key.first));
    info.set_model_version(b->meta.version());
    info.set_variant(key.second);
    info.set_encrypted(b->encrypted());
    if (key.first == 0) cluster0[key.second] = b->meta.target_name();
  }
  if (auto it = cluster0.find("float32"); it != cluster0.end()) directed = it->second;
  auto* directives = next.mutable_directives();
  const std::string prefix = absl::StrCat(task, "/");
  for (auto it = directives->begin(); it != directives->end();) {
    it = absl::StartsWith(it->first, prefix) ? directives->erase(it) : std::next(it);
  }
  // "*": every class not directed otherwise runs float32 of the newest task
  // published (the default when a task names no classes).
  if (!directed.empty()) (*directives)["*"] = directed;
  for (const auto& [device_class, variant] : variant_by_class) {
    auto target = cluster0.find(variant);
    if (target != cluster0.end()) (*directives)[prefix + device_class] = target->second;
  }
  // A directive never names a target that is gone.
  for (auto it = directives->begin(); it != directives->end();) {
    it = all->count(it->second) ? std::next(it) : directives->erase(it);
  }
  if (google::protobuf::util::MessageDifferencer::Equals(next, targets_)) return absl::OkStatus();
  v1::Targets before = targets_;
  targets_ = std::move(next);
  absl::Status s = Republish(true, true);
  if (!s.ok()) targets_ = std::move(before);
  return s;
}

absl::StatusOr<std::string> TrustRepository::Get(const std::string& path) const {
  absl::MutexLock lock(&mu_);
  if (path == ct::kTimestampPath) return signed_timestamp_;
  if (path == ct::kSnapshotPath) return signed_snapshot_;
  if (path == ct::kTargetsPath) return signed_targets_;
  uint64_t n = 0;
  if (absl::EndsWith(path, ".root.pb") &&
      absl::SimpleAtoi(path.substr(0, path.size() - 8), &n) && n >= 1 &&
      n <= keys_.roots.size() && path == absl::StrCat(n, ".root.pb")) {
    return keys_.roots[n - 1];
  }
  return absl::NotFoundError(absl::StrCat("no trust metadata '", path.substr(0, 64), "'"));
}

std::string TrustRepository::LatestRoot() const {
  absl::MutexLock lock(&mu_);
  return keys_.roots.back();
}

uint64_t TrustRepository::root_version() const {
  absl::MutexLock lock(&mu_);
  return keys_.root.version();
}

absl::Status TrustRepository::ReloadKeys() {
  absl::MutexLock lock(&mu_);
  return ReloadKeysLocked();
}

absl::Status TrustRepository::ReloadKeysLocked() {
  ASSIGN_OR_RETURN(KeyDir next, LoadKeyDir(options_.trust_dir));
  if (next.root.version() <= keys_.root.version()) return absl::OkStatus();
  RETURN_IF_ERROR(CheckOnlineKeys(next));
  KeyDir before = std::move(keys_);
  keys_ = std::move(next);
  absl::Status s = Republish(true, true);
  if (!s.ok()) {
    keys_ = std::move(before);
    return s;
  }
  FT_LOG(INFO) << "model trust: now serving root " << keys_.root.version()
               << " from the trust directory";
  return absl::OkStatus();
}

absl::Status TrustRepository::Tick() {
  absl::MutexLock lock(&mu_);
  // A new root is one more file: look for it before reading the directory.
  const uint64_t next = keys_.root.version() + 1;
  if (FileExists(absl::StrCat(options_.trust_dir, "/metadata/", next, ".root.pb"))) {
    absl::Status s = ReloadKeysLocked();
    if (!s.ok() && failed_root_ != next) {  // Retried every tick, logged once.
      failed_root_ = next;
      FT_LOG(ERROR) << "model trust: root " << next
                    << " is in the trust directory but cannot be used yet (kept root "
                    << keys_.root.version() << "): " << s;
    }
  }
  const absl::Time now = clock_->Now();
  const bool targets = NearExpiry(targets_.expires_unix_s(), options_.targets_lifetime, now);
  const bool snapshot = NearExpiry(snapshot_.expires_unix_s(), options_.snapshot_lifetime, now);
  if (!targets && !snapshot &&
      !NearExpiry(timestamp_.expires_unix_s(), options_.timestamp_lifetime, now)) {
    return absl::OkStatus();
  }
  return Republish(targets, snapshot);
}

v1::Targets TrustRepository::targets() const {
  absl::MutexLock lock(&mu_);
  return targets_;
}

v1::Timestamp TrustRepository::timestamp() const {
  absl::MutexLock lock(&mu_);
  return timestamp_;
}

}  // namespace fedtiny::coordinator
