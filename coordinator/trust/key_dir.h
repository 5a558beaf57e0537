// The operator's trust directory: the signed root versions and the private
// keys of every role, as `flctl keys` makes them and the coordinator reads them
// (docs/security.md, "Keys and who holds them").
//
//   D/metadata/<N>.root.pb   signed root versions 1..N (public)
//   D/online/<key id>.pem    targets (release), snapshot and timestamp keys,
//                            0600: copied to the coordinator with metadata/
//   D/offline/<key id>.pem   root keys, 0600: stay on the operator's machine
//
// Every change is a new root version signed by a threshold of the previous
// root's keys and of its own, written before the keys it names are used.
#ifndef FEDTINY_COORDINATOR_TRUST_KEY_DIR_H_
#define FEDTINY_COORDINATOR_TRUST_KEY_DIR_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/trust.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::coordinator {

// A loaded trust directory. A value: not thread-safe, owns its keys.
struct KeyDir {
  std::string dir;
  std::vector<std::string> roots;  // Signed roots; version i + 1 at [i].
  v1::Root root;                   // The newest, parsed.
  std::map<std::string, crypto::EcPrivateKey> online;   // By key id.
  std::map<std::string, crypto::EcPrivateKey> offline;  // Root keys (if present).

  // KeysFor returns the held private keys `role` lists in the newest root,
  // at least its threshold of them, else kFailedPrecondition.
  absl::StatusOr<std::vector<const crypto::EcPrivateKey*>> KeysFor(v1::RoleType role) const;
};

// RoleByName maps "root", "targets" (or "release"), "snapshot", "timestamp".
absl::StatusOr<v1::RoleType> RoleByName(const std::string& name);
const char* RoleName(v1::RoleType role);

// LoadKeyDir reads `dir`: every root version (kDataLoss for a gap or one that
// does not parse), and the keys in online/ and (if present) offline/. Blocks.
absl::StatusOr<KeyDir> LoadKeyDir(const std::string& dir);

// InitKeyDir creates `dir` with one root key (offline), one key per online
// role and root version 1 expiring `root_lifetime` after `now`.
// kAlreadyExists if `dir` holds a root already. Blocks.
absl::StatusOr<KeyDir> InitKeyDir(const std::string& dir, absl::Time now,
                                  absl::Duration root_lifetime = absl::Hours(24 * 365));

// RotateKey replaces every key of `role` by a new one and publishes the next
// root version (signed by the old and the new root keys); returns the new key
// id. The replaced keys' private key files are deleted. Blocks.
absl::StatusOr<std::string> RotateKey(const std::string& dir, v1::RoleType role, absl::Time now,
                                      absl::Duration root_lifetime = absl::Hours(24 * 365));

// RevokeKey removes `key_id` from every role and the root's keys, deletes its
// private key file, and publishes the next root; a role left without keys gets
// a new one. kNotFound for a key the root does not list. Blocks.
absl::Status RevokeKey(const std::string& dir, const std::string& key_id, absl::Time now,
                       absl::Duration root_lifetime = absl::Hours(24 * 365));

// DescribeKeyDir: the newest root's version, expiry and each role's keys,
// marked held online, offline or "not held", one per line.
std::string DescribeKeyDir(const KeyDir& keys);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TRUST_KEY_DIR_H_
