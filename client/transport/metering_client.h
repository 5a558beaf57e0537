// The device's gRPC client for the coordinator's Metering service
// (proto/meter.proto, docs/metering.md): EnrollMeter and SyncUsage driving a
// client/meter Meter. The device authenticates as at check-in, with its id
// (the Meter's device_id) and the secret it checks in with.
//
//   MeteringClient client(session_options, secret);
//   client.Enroll(meter, std::nullopt);   // once per package; safe to repeat
//   ... meter.Predict(...) offline ...
//   client.Sync(meter);                   // at reconnect: usage up, next grant down
//
// Both calls are safe to retry: the coordinator answers a repeated enrollment
// (until the first sync) and a repeated sync with the same result, so gRPC's
// retry of UNAVAILABLE (SessionOptions::attempts) and the app's own retry
// after a lost answer are fine.
#ifndef FEDTINY_CLIENT_TRANSPORT_METERING_CLIENT_H_
#define FEDTINY_CLIENT_TRANSPORT_METERING_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/meter/meter.h"
#include "client/transport/session.h"
#include "proto/meter.grpc.pb.h"

namespace fedtiny::client {

// Thread-compatible: one thread uses a client at a time (and the Meter is not
// thread-safe either). Owns its channel; borrows the Meter per call. Every call
// blocks for at most SessionOptions::call_deadline.
class MeteringClient {
 public:
  // `device_secret`: the secret the device checks in with (16-64 bytes).
  MeteringClient(const SessionOptions& options, std::string device_secret);

  // Enroll enrolls the Meter's (device, package) and installs the first grant.
  // `counter`: the value now of the device's monotonic counter dedicated to
  // the meter (nullopt: none). Codes: the server's (docs/protocol.md:
  // kPermissionDenied for another secret, kAlreadyExists for a different
  // enrollment or after a sync, kFailedPrecondition when metering is not
  // configured), kUnavailable / kDeadlineExceeded from the network, or
  // Meter::InstallGrant's; the Meter is unchanged on error.
  absl::Status Enroll(meter::Meter& meter, std::optional<uint64_t> counter);

  // Sync persists the Meter's records (Meter::Flush), sends the usage since
  // its checkpoint and takes the answer (Meter::AcceptSync): the new
  // checkpoint and, unless refused or cut off, the next grant. Returns the
  // answer (flags and detail included). Codes: Flush's, the server's
  // (kNotFound: not enrolled), the network's, or, when the coordinator
  // refused the usage (a rollback, fork or bad link: its checkpoint is not on
  // this chain), kFailedPrecondition naming the flags and the coordinator's
  // detail. On error the Meter keeps its checkpoint and grant; syncing again
  // is safe.
  absl::StatusOr<meter::SyncResponse> Sync(meter::Meter& meter);

 private:
  SessionOptions options_;
  const std::string device_secret_;
  std::unique_ptr<meter::Metering::Stub> stub_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_METERING_CLIENT_H_
