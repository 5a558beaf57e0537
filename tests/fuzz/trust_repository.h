// A fixed model-trust repository for the trust_metadata fuzz harness and its
// corpus generator: four fixed P-256 keys (test keys, public in this source),
// deterministic roles, and a device that trusts version 1 of every role. Also
// the in-memory storage and map-backed fetcher the harness drives it with.
#ifndef FEDTINY_TESTS_FUZZ_TRUST_REPOSITORY_H_
#define FEDTINY_TESTS_FUZZ_TRUST_REPOSITORY_H_

#include <map>
#include <string>
#include <vector>

#include "client/core/platform.h"
#include "client/trust/fetcher.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::fuzz {

// 2026-01-01T00:00:00Z: the repository's and the device's "now".
inline constexpr int64_t kTrustNow = 1767225600;
inline constexpr char kTrustTargetName[] = "model";
inline constexpr char kTrustTargetBytes[] = "model bundle bytes";

// TrustRepo: built once (Get()); immutable afterwards, thread-safe.
class TrustRepo {
 public:
  static const TrustRepo& Get();

  // The roles at `version` (timestamp, snapshot and targets name each other's
  // version `version`; lengths and hashes left for Link()).
  v1::Root Root(uint64_t version) const;
  v1::Timestamp Timestamp(uint64_t version) const;
  v1::Snapshot Snapshot(uint64_t version) const;
  v1::Targets Targets(uint64_t version) const;

  // Sign wraps `role_bytes` in an envelope signed by `role`'s key.
  std::string Sign(v1::RoleType role, const std::string& role_bytes) const;

  // The signed root 1 and the stored trusted set of a device that refreshed
  // against version 1 of everything.
  const std::string& initial_root() const { return initial_root_; }
  const std::string& baseline_set() const { return baseline_set_; }

 private:
  TrustRepo();
  std::map<v1::RoleType, crypto::EcPrivateKey> keys_;
  std::string initial_root_;
  std::string baseline_set_;
};

// MemoryStorage: files in a map. Not thread-safe.
class MemoryStorage final : public client::Storage {
 public:
  client::StatusOr<std::string> ReadFile(const std::string& path) override;
  client::Status WriteFileAtomically(const std::string& path,
                                     std::string_view contents) override;
  client::Status Remove(const std::string& path) override;
  bool Exists(const std::string& path) override;
  std::map<std::string, std::string> files;
};

// MapFetcher: serves `files` (absent: kNotFound), stopping at max_bytes + 1.
// Not thread-safe.
class MapFetcher final : public client::trust::Fetcher {
 public:
  absl::StatusOr<std::string> Fetch(const std::string& path, size_t max_bytes,
                                    absl::Time deadline) override;
  std::map<std::string, std::string> files;
};

}  // namespace fedtiny::fuzz

#endif  // FEDTINY_TESTS_FUZZ_TRUST_REPOSITORY_H_
