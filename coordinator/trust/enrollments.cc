#include "coordinator/trust/enrollments.h"

#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

absl::StatusOr<std::unique_ptr<Enrollments>> Enrollments::Open(const std::string& path) {
  std::unique_ptr<Enrollments> e(new Enrollments(path));
  if (path.empty()) return e;
  absl::StatusOr<std::string> stored = ReadFile(path);
  if (!stored.ok() && stored.status().code() == absl::StatusCode::kNotFound) return e;
  RETURN_IF_ERROR(stored.status());
  absl::MutexLock lock(&e->mu_);
  if (!e->devices_.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat(path, " does not parse"));
  }
  return e;
}

absl::Status Enrollments::Enroll(const std::string& device_id, const std::string& spki_der) {
  absl::StatusOr<crypto::EcPublicKey> key = crypto::EcPublicKey::FromSpkiDer(spki_der);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("enroll: device_public_key_spki: ", key.status().message()));
  }
  absl::MutexLock lock(&mu_);
  for (const std::string& r : devices_.revoked()) {
    if (r == device_id) return absl::PermissionDeniedError("enroll: this device_id is revoked");
  }
  auto it = devices_.public_key_spki().find(device_id);
  if (it != devices_.public_key_spki().end()) {
    if (it->second == spki_der) return absl::OkStatus();
    return absl::AlreadyExistsError("enroll: this device_id is enrolled with another key");
  }
  v1::EnrolledDevices next = devices_;
  (*next.mutable_public_key_spki())[device_id] = spki_der;
  if (!path_.empty()) RETURN_IF_ERROR(WriteFileAtomically(path_, next.SerializeAsString()));
  devices_ = std::move(next);
  return absl::OkStatus();
}

std::optional<std::string> Enrollments::PublicKeyOf(const std::string& device_id) const {
  absl::MutexLock lock(&mu_);
  auto it = devices_.public_key_spki().find(device_id);
  if (it == devices_.public_key_spki().end()) return std::nullopt;
  return it->second;
}

absl::Status Enrollments::Revoke(const std::string& device_id) {
  absl::MutexLock lock(&mu_);
  if (!devices_.public_key_spki().count(device_id)) {
    return absl::NotFoundError(absl::StrCat("no enrolled device '", device_id.substr(0, 128), "'"));
  }
  v1::EnrolledDevices next = devices_;
  next.mutable_public_key_spki()->erase(device_id);
  next.add_revoked(device_id);
  if (!path_.empty()) RETURN_IF_ERROR(WriteFileAtomically(path_, next.SerializeAsString()));
  devices_ = std::move(next);
  return absl::OkStatus();
}

bool Enrollments::IsRevoked(const std::string& device_id) const {
  absl::MutexLock lock(&mu_);
  for (const std::string& r : devices_.revoked()) {
    if (r == device_id) return true;
  }
  return false;
}

size_t Enrollments::size() const {
  absl::MutexLock lock(&mu_);
  return devices_.public_key_spki().size();
}

}  // namespace fedtiny::coordinator
