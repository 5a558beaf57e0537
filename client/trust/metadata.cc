#include "client/trust/metadata.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "client/trust/refusal.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::client::trust {
namespace {

constexpr size_t kSha256Size = 32;

template <typename Role>
absl::StatusOr<Role> ParseRole(absl::string_view bytes, v1::RoleType type) {
  Role role;
  if (!role.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Refusal(RefusalReason::kMalformed,
                   absl::StrCat(RoleName(type), " does not parse"));
  }
  if (role.type() != type) {
    return Refusal(RefusalReason::kWrongRole,
                   absl::StrCat("expected ", RoleName(type), ", got ",
                                RoleName(role.type())));
  }
  if (role.version() == 0) {
    return Refusal(RefusalReason::kMalformed,
                   absl::StrCat(RoleName(type), " version 0"));
  }
  return role;
}

absl::Status CheckRoleKeys(const v1::Root& root, const v1::RoleKeys& keys,
                           absl::string_view role) {
  std::set<std::string> distinct(keys.key_ids().begin(), keys.key_ids().end());
  if (keys.threshold() == 0 || keys.threshold() > distinct.size()) {
    return Refusal(RefusalReason::kMalformed,
                   absl::StrCat("root: ", role, " threshold ", keys.threshold(),
                                " with ", distinct.size(), " keys"));
  }
  for (const std::string& id : distinct) {
    if (root.keys().count(id) == 0) {
      return Refusal(RefusalReason::kMalformed,
                     absl::StrCat("root: ", role, " names unknown key ", id));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRootKeys(const v1::Root& root) {
  for (const auto& [id, key] : root.keys()) {
    if (key.scheme() != crypto::kEcdsaP256Sha256 ||
        crypto::KeyIdOfSpki(key.spki_der()) != id ||
        !crypto::EcPublicKey::FromSpkiDer(key.spki_der()).ok()) {
      return Refusal(RefusalReason::kMalformed,
                     absl::StrCat("root: key ", id, " is not a P-256 key filed "
                                  "under its id"));
    }
  }
  const std::pair<const v1::RoleKeys*, const char*> roles[] = {
      {&root.root(), "root"},
      {&root.targets(), "targets"},
      {&root.snapshot(), "snapshot"},
      {&root.timestamp(), "timestamp"}};
  for (const auto& [keys, name] : roles) {
    absl::Status s = CheckRoleKeys(root, *keys, name);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckDigest(absl::string_view what, const std::string& digest,
                         bool optional) {
  if ((optional && digest.empty()) || digest.size() == kSha256Size) {
    return absl::OkStatus();
  }
  return Refusal(RefusalReason::kMalformed,
                 absl::StrCat(what, " sha256 of ", digest.size(), " bytes"));
}

}  // namespace

absl::string_view RoleName(v1::RoleType type) {
  switch (type) {
    case v1::ROLE_TYPE_ROOT:
      return "root";
    case v1::ROLE_TYPE_TARGETS:
      return "targets";
    case v1::ROLE_TYPE_SNAPSHOT:
      return "snapshot";
    case v1::ROLE_TYPE_TIMESTAMP:
      return "timestamp";
    default:
      return "unspecified";
  }
}

absl::StatusOr<v1::Signed> ParseSigned(absl::string_view bytes,
                                       absl::string_view what) {
  v1::Signed s;
  if (!s.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Refusal(RefusalReason::kMalformed,
                   absl::StrCat(what, ": not a signed envelope"));
  }
  return s;
}

absl::Status VerifyThreshold(const v1::Root& root, const v1::RoleKeys& keys,
                             const v1::Signed& signed_, absl::string_view what) {
  const std::set<std::string> allowed(keys.key_ids().begin(),
                                      keys.key_ids().end());
  std::set<std::string> valid;
  for (const v1::Signature& sig : signed_.signatures()) {
    if (allowed.count(sig.key_id()) == 0 || valid.count(sig.key_id()) > 0) {
      continue;
    }
    auto it = root.keys().find(sig.key_id());
    if (it == root.keys().end()) continue;
    absl::StatusOr<crypto::EcPublicKey> key =
        crypto::EcPublicKey::FromSpkiDer(it->second.spki_der());
    if (key.ok() && key->key_id() == sig.key_id() &&
        key->Verify(signed_.role_bytes(), sig.signature()).ok()) {
      valid.insert(sig.key_id());
    }
  }
  if (keys.threshold() > 0 && valid.size() >= keys.threshold()) {
    return absl::OkStatus();
  }
  return Refusal(RefusalReason::kSignatureThreshold,
                 absl::StrCat(what, ": ", valid.size(), " valid signatures of ",
                              keys.threshold(), " required"));
}

absl::StatusOr<v1::Root> ParseRoot(absl::string_view role_bytes) {
  absl::StatusOr<v1::Root> root =
      ParseRole<v1::Root>(role_bytes, v1::ROLE_TYPE_ROOT);
  if (!root.ok()) return root;
  absl::Status s = CheckRootKeys(*root);
  if (!s.ok()) return s;
  return root;
}

absl::StatusOr<v1::Timestamp> ParseTimestamp(absl::string_view role_bytes) {
  absl::StatusOr<v1::Timestamp> ts =
      ParseRole<v1::Timestamp>(role_bytes, v1::ROLE_TYPE_TIMESTAMP);
  if (!ts.ok()) return ts;
  if (ts->snapshot_version() == 0 || ts->snapshot_length() == 0) {
    return Refusal(RefusalReason::kMalformed,
                   "timestamp: no snapshot version or length");
  }
  absl::Status s = CheckDigest("timestamp: snapshot", ts->snapshot_sha256(),
                               /*optional=*/false);
  if (!s.ok()) return s;
  return ts;
}

absl::StatusOr<v1::Snapshot> ParseSnapshot(absl::string_view role_bytes) {
  absl::StatusOr<v1::Snapshot> snap =
      ParseRole<v1::Snapshot>(role_bytes, v1::ROLE_TYPE_SNAPSHOT);
  if (!snap.ok()) return snap;
  if (snap->targets_version() == 0) {
    return Refusal(RefusalReason::kMalformed, "snapshot: no targets version");
  }
  absl::Status s = CheckDigest("snapshot: targets", snap->targets_sha256(),
                               /*optional=*/true);
  if (!s.ok()) return s;
  return snap;
}

absl::StatusOr<v1::Targets> ParseTargets(absl::string_view role_bytes) {
  absl::StatusOr<v1::Targets> targets =
      ParseRole<v1::Targets>(role_bytes, v1::ROLE_TYPE_TARGETS);
  if (!targets.ok()) return targets;
  for (const auto& [name, info] : targets->targets()) {
    absl::Status s = CheckDigest(absl::StrCat("targets: ", name),
                                 info.sha256(), /*optional=*/false);
    if (!s.ok()) return s;
  }
  for (const auto& [device_class, name] : targets->directives()) {
    if (targets->targets().count(name) == 0) {
      return Refusal(RefusalReason::kMalformed,
                     absl::StrCat("targets: class ", device_class,
                                  " directed to unknown target ", name));
    }
  }
  return targets;
}

absl::Status CheckNotExpired(absl::string_view what, int64_t expires_unix_s,
                             absl::Time trusted_time) {
  if (trusted_time < absl::FromUnixSeconds(expires_unix_s)) {
    return absl::OkStatus();
  }
  return Refusal(RefusalReason::kExpired,
                 absl::StrCat(what, " expired at ", expires_unix_s,
                              ", trusted time ", absl::ToUnixSeconds(trusted_time)));
}

bool SameRoleKeys(const v1::RoleKeys& a, const v1::RoleKeys& b) {
  return a.threshold() == b.threshold() &&
         std::set<std::string>(a.key_ids().begin(), a.key_ids().end()) ==
             std::set<std::string>(b.key_ids().begin(), b.key_ids().end());
}

}  // namespace fedtiny::client::trust
