// The public keys devices enrolled with (Federation.Enroll), by device id,
// persisted in one file rewritten atomically at each change. The model key of
// an encrypted bundle is wrapped to these keys at check-in; a revoked
// device's key is removed.
#ifndef FEDTINY_COORDINATOR_TRUST_ENROLLMENTS_H_
#define FEDTINY_COORDINATOR_TRUST_ENROLLMENTS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/trust.pb.h"

namespace fedtiny::coordinator {

// Thread-safe (one mutex, held across the file write). Owns its map. Every
// enrollment rewrites the whole file: meant for fleets of up to ~10^5 devices;
// a larger fleet moves it into the Store.
class Enrollments {
 public:
  // Open reads `path` ("" keeps enrollments in memory only). kDataLoss if it
  // does not parse. Blocks.
  static absl::StatusOr<std::unique_ptr<Enrollments>> Open(const std::string& path);

  // Enroll records `spki_der` (a P-256 SubjectPublicKeyInfo, checked) for
  // `device_id`. Enrolling the same key again is OK; another key for an
  // enrolled id is kAlreadyExists (a device that lost its key enrolls under a
  // new id). kInvalidArgument for a key that is not P-256. Blocks on disk.
  absl::Status Enroll(const std::string& device_id, const std::string& spki_der)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Revoke removes `device_id`'s key and remembers the id as revoked: it
  // gets no more wrapped model keys and Enroll refuses it (kPermissionDenied).
  // kNotFound for an id never enrolled. Blocks on disk.
  absl::Status Revoke(const std::string& device_id) ABSL_LOCKS_EXCLUDED(mu_);
  bool IsRevoked(const std::string& device_id) const ABSL_LOCKS_EXCLUDED(mu_);

  // PublicKeyOf returns the enrolled key of `device_id`, if any.
  std::optional<std::string> PublicKeyOf(const std::string& device_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Enrollments(std::string path) : path_(std::move(path)) {}

  const std::string path_;
  mutable absl::Mutex mu_;
  v1::EnrolledDevices devices_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TRUST_ENROLLMENTS_H_
