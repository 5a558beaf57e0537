#include "coordinator/trust/key_dir.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/trust/signing.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

namespace fs = std::filesystem;
using client::trust::PublicKeyOf;

const v1::RoleKeys& KeysOf(const v1::Root& root, v1::RoleType role) {
  switch (role) {
    case v1::ROLE_TYPE_ROOT: return root.root();
    case v1::ROLE_TYPE_TARGETS: return root.targets();
    case v1::ROLE_TYPE_SNAPSHOT: return root.snapshot();
    default: return root.timestamp();
  }
}

v1::RoleKeys& MutableKeysOf(v1::Root& root, v1::RoleType role) {
  switch (role) {
    case v1::ROLE_TYPE_ROOT: return *root.mutable_root();
    case v1::ROLE_TYPE_TARGETS: return *root.mutable_targets();
    case v1::ROLE_TYPE_SNAPSHOT: return *root.mutable_snapshot();
    default: return *root.mutable_timestamp();
  }
}

constexpr v1::RoleType kRoles[] = {v1::ROLE_TYPE_ROOT, v1::ROLE_TYPE_TARGETS,
                                   v1::ROLE_TYPE_SNAPSHOT, v1::ROLE_TYPE_TIMESTAMP};

absl::Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);  // Parents as the umask says; the key dirs 0700.
  for (const char* sub : {"", "/metadata", "/online", "/offline"}) {
    const std::string d = dir + sub;
    if (mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::InternalError(absl::StrCat("cannot create ", d));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, crypto::EcPrivateKey>> LoadKeys(const std::string& dir) {
  std::map<std::string, crypto::EcPrivateKey> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (!absl::EndsWith(e.path().filename().string(), ".pem")) continue;
    ASSIGN_OR_RETURN(std::string pem, ReadFile(e.path().string()));
    absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::FromPem(pem);
    if (!key.ok()) {
      return absl::DataLossError(absl::StrCat(e.path().string(), ": ", key.status().message()));
    }
    std::string id = key->public_key().key_id();
    out.emplace(std::move(id), *std::move(key));
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  return out;
}

// NewKey generates a key, writes it (0600) under online/ or offline/ and lists
// it in `root` for `role`.
absl::StatusOr<std::string> NewKey(KeyDir& kd, v1::Root& root, v1::RoleType role) {
  ASSIGN_OR_RETURN(crypto::EcPrivateKey key, crypto::EcPrivateKey::Generate());
  ASSIGN_OR_RETURN(std::string pem, key.ToPem());
  const std::string id = key.public_key().key_id();
  const bool offline = role == v1::ROLE_TYPE_ROOT;
  RETURN_IF_ERROR(WriteFileAtomically(
      absl::StrCat(kd.dir, offline ? "/offline/" : "/online/", id, ".pem"), pem, 0600));
  (*root.mutable_keys())[id] = PublicKeyOf(key.public_key());
  v1::RoleKeys& keys = MutableKeysOf(root, role);
  keys.add_key_ids(id);
  if (keys.threshold() == 0) keys.set_threshold(1);
  (offline ? kd.offline : kd.online).emplace(id, std::move(key));
  return id;
}

// Signers of a root: the held keys of `roles`, at least each one's threshold.
absl::StatusOr<std::vector<const crypto::EcPrivateKey*>> RootSigners(
    const KeyDir& kd, const std::vector<const v1::RoleKeys*>& roles) {
  std::set<std::string> ids;
  for (const v1::RoleKeys* r : roles) {
    uint32_t held = 0;
    for (const std::string& id : r->key_ids()) {
      if (kd.offline.count(id)) {
        ids.insert(id);
        ++held;
      }
    }
    if (held < r->threshold()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the root needs ", r->threshold(), " root key(s) of ", kd.dir, "/offline; ", held,
          " held"));
    }
  }
  std::vector<const crypto::EcPrivateKey*> out;
  for (const std::string& id : ids) out.push_back(&kd.offline.at(id));
  return out;
}

// PublishRoot signs `next` as the version after kd.root and writes it.
absl::Status PublishRoot(KeyDir& kd, v1::Root next, absl::Time now, absl::Duration lifetime) {
  next.set_type(v1::ROLE_TYPE_ROOT);
  next.set_version(kd.root.version() + 1);
  next.set_expires_unix_s(absl::ToUnixSeconds(now + lifetime));
  std::vector<const v1::RoleKeys*> roles = {&next.root()};
  if (kd.root.version() > 0) roles.push_back(&kd.root.root());
  ASSIGN_OR_RETURN(std::vector<const crypto::EcPrivateKey*> signers, RootSigners(kd, roles));
  ASSIGN_OR_RETURN(std::string bytes, client::trust::SignRole(next, signers));
  RETURN_IF_ERROR(WriteFileAtomically(
      absl::StrCat(kd.dir, "/metadata/", next.version(), ".root.pb"), bytes));
  kd.roots.push_back(std::move(bytes));
  kd.root = std::move(next);
  return absl::OkStatus();
}

// Drops root.keys entries no role lists any more.
void DropUnlistedKeys(v1::Root& root) {
  std::set<std::string> listed;
  for (v1::RoleType role : kRoles) {
    for (const std::string& id : KeysOf(root, role).key_ids()) listed.insert(id);
  }
  for (auto it = root.mutable_keys()->begin(); it != root.mutable_keys()->end();) {
    it = listed.count(it->first) ? std::next(it) : root.mutable_keys()->erase(it);
  }
}

}  // namespace

absl::StatusOr<v1::RoleType> RoleByName(const std::string& name) {
  if (name == "root") return v1::ROLE_TYPE_ROOT;
  if (name == "targets" || name == "release") return v1::ROLE_TYPE_TARGETS;
  if (name == "snapshot") return v1::ROLE_TYPE_SNAPSHOT;
  if (name == "timestamp") return v1::ROLE_TYPE_TIMESTAMP;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "' (root, targets, snapshot, timestamp)"));
}

const char* RoleName(v1::RoleType role) {
  switch (role) {
    case v1::ROLE_TYPE_ROOT: return "root";
    case v1::ROLE_TYPE_TARGETS: return "targets";
    case v1::ROLE_TYPE_SNAPSHOT: return "snapshot";
    default: return "timestamp";
  }
}

absl::StatusOr<std::vector<const crypto::EcPrivateKey*>> KeyDir::KeysFor(
    v1::RoleType role) const {
  const v1::RoleKeys& keys = KeysOf(root, role);
  const auto& held = role == v1::ROLE_TYPE_ROOT ? offline : online;
  std::vector<const crypto::EcPrivateKey*> out;
  for (const std::string& id : keys.key_ids()) {
    auto it = held.find(id);
    if (it != held.end()) out.push_back(&it->second);
  }
  if (out.empty() || out.size() < keys.threshold()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, ": root ", root.version(), " needs ", keys.threshold(), " ", RoleName(role),
        " key(s); ", out.size(), " held"));
  }
  return out;
}

absl::StatusOr<KeyDir> LoadKeyDir(const std::string& dir) {
  KeyDir kd;
  kd.dir = dir;
  for (uint64_t n = 1;; ++n) {
    absl::StatusOr<std::string> bytes = ReadFile(absl::StrCat(dir, "/metadata/", n, ".root.pb"));
    if (!bytes.ok() && bytes.status().code() == absl::StatusCode::kNotFound) break;
    RETURN_IF_ERROR(bytes.status());
    v1::Root root;
    RETURN_IF_ERROR(client::trust::ParseSignedRole(*bytes, root));
    if (root.version() != n) {
      return absl::DataLossError(absl::StrCat(dir, ": ", n, ".root.pb holds version ",
                                              root.version()));
    }
    kd.roots.push_back(*std::move(bytes));
    kd.root = std::move(root);
  }
  if (kd.roots.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, " holds no root (flctl keys init --dir=", dir, ")"));
  }
  ASSIGN_OR_RETURN(kd.online, LoadKeys(dir + "/online"));
  ASSIGN_OR_RETURN(kd.offline, LoadKeys(dir + "/offline"));
  return kd;
}

absl::StatusOr<KeyDir> InitKeyDir(const std::string& dir, absl::Time now,
                                  absl::Duration root_lifetime) {
  std::error_code ec;
  if (fs::exists(dir + "/metadata/1.root.pb", ec)) {
    return absl::AlreadyExistsError(absl::StrCat(dir, " holds a root already"));
  }
  RETURN_IF_ERROR(MakeDirs(dir));
  KeyDir kd;
  kd.dir = dir;
  v1::Root root;
  for (v1::RoleType role : kRoles) RETURN_IF_ERROR(NewKey(kd, root, role).status());
  RETURN_IF_ERROR(PublishRoot(kd, std::move(root), now, root_lifetime));
  return kd;
}

absl::StatusOr<std::string> RotateKey(const std::string& dir, v1::RoleType role, absl::Time now,
                                      absl::Duration root_lifetime) {
  ASSIGN_OR_RETURN(KeyDir kd, LoadKeyDir(dir));
  v1::Root next = kd.root;
  MutableKeysOf(next, role).clear_key_ids();
  MutableKeysOf(next, role).set_threshold(1);
  ASSIGN_OR_RETURN(std::string id, NewKey(kd, next, role));
  DropUnlistedKeys(next);
  const v1::Root before = kd.root;
  RETURN_IF_ERROR(PublishRoot(kd, std::move(next), now, root_lifetime));
  // Keys the new root no longer lists are deleted: they can sign nothing a
  // device accepts any more.
  for (const auto& [old_id, unused] : before.keys()) {
    if (kd.root.keys().count(old_id)) continue;
    std::error_code ec;
    for (const char* sub : {"/online/", "/offline/"}) fs::remove(absl::StrCat(dir, sub, old_id, ".pem"), ec);
  }
  return id;
}

absl::Status RevokeKey(const std::string& dir, const std::string& key_id, absl::Time now,
                       absl::Duration root_lifetime) {
  ASSIGN_OR_RETURN(KeyDir kd, LoadKeyDir(dir));
  if (!kd.root.keys().count(key_id)) {
    return absl::NotFoundError(absl::StrCat("root ", kd.root.version(), " lists no key ", key_id));
  }
  v1::Root next = kd.root;
  for (v1::RoleType role : kRoles) {
    v1::RoleKeys& keys = MutableKeysOf(next, role);
    auto* ids = keys.mutable_key_ids();
    ids->erase(std::remove(ids->begin(), ids->end(), key_id), ids->end());
    if (ids->empty()) RETURN_IF_ERROR(NewKey(kd, next, role).status());
    keys.set_threshold(std::min<uint32_t>(keys.threshold(), ids->size()));
  }
  DropUnlistedKeys(next);
  // The revoked key still signs this root if it is a root key held here: the
  // old root's threshold must be met (TUF); it signs nothing after.
  RETURN_IF_ERROR(PublishRoot(kd, std::move(next), now, root_lifetime));
  for (const char* sub : {"/online/", "/offline/"}) {
    std::error_code ec;
    fs::remove(absl::StrCat(dir, sub, key_id, ".pem"), ec);
  }
  return absl::OkStatus();
}

std::string DescribeKeyDir(const KeyDir& kd) {
  std::string out = absl::StrCat("root version ", kd.root.version(), ", expires ",
                                 absl::FormatTime(absl::FromUnixSeconds(kd.root.expires_unix_s()),
                                                  absl::UTCTimeZone()),
                                 "\n");
  for (v1::RoleType role : kRoles) {
    const v1::RoleKeys& keys = KeysOf(kd.root, role);
    absl::StrAppend(&out, RoleName(role), " (threshold ", keys.threshold(), "):\n");
    for (const std::string& id : keys.key_ids()) {
      const char* where = kd.offline.count(id) ? "offline"
                          : kd.online.count(id) ? "online"
                                                : "not held";
      absl::StrAppend(&out, "  ", id, "  ", where, "\n");
    }
  }
  return out;
}

}  // namespace fedtiny::coordinator
