// The device's gRPC session with the coordinator's Federation API. Every call has
// a deadline; transient network failures (UNAVAILABLE, DEADLINE_EXCEEDED) are
// retried with jittered exponential backoff; everything else becomes a Status.
// Nothing here throws, crashes or hangs on a bad network or a bad server.
#ifndef FEDTINY_CLIENT_TRANSPORT_SESSION_H_
#define FEDTINY_CLIENT_TRANSPORT_SESSION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::client {

struct SessionOptions {
  std::string address;            // "host:port"
  std::string tls_root_cert_pem;  // Empty: plaintext (loopback and tests only).
  absl::Duration call_deadline = absl::Seconds(10);
  int attempts = 4;               // Per call, for transient failures.
  absl::Duration backoff = absl::Milliseconds(200);  // First retry delay; doubles.
  int chunk_bytes = 256 << 10;    // Download chunk.
  uint64_t seed = 0;              // Jitter; 0 = from the clock.
};

// Thread-compatible: one thread uses a session at a time. Owns its channel.
class FederationSession {
 public:
  explicit FederationSession(const SessionOptions& options);

  // Codes: those of the server (docs/protocol.md), or kUnavailable /
  // kDeadlineExceeded after the retries.
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& request);

  // Downloads the bundle in chunks, resuming after failures from the last good
  // offset; verifies size and SHA-256. Refuses (kFailedPrecondition) a version
  // older than `held_version`. kDataLoss when the bytes fail verification.
  absl::StatusOr<std::string> DownloadBundle(const v1::Assignment& assignment,
                                             const v1::ModelBundle& bundle, int64_t held_version);

  absl::Status Upload(const v1::UploadRequest& request);
  absl::Status ReportFailure(const v1::FailureReport& report);

  // A delay uniformly drawn in a retry window, for the caller's scheduler.
  absl::Duration JitteredDelay(const v1::RetryWindow& window);

 private:
  template <typename Call>
  grpc::Status WithRetries(Call call);

  SessionOptions options_;
  std::unique_ptr<v1::Federation::Stub> stub_;
  std::mt19937_64 rng_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_SESSION_H_
