// The device's gRPC session with the coordinator's Federation API. TLS unless
// plaintext is asked for. Every call has a deadline; UNAVAILABLE is retried by
// gRPC's own retry policy (jittered exponential backoff); everything else,
// DEADLINE_EXCEEDED included, becomes a Status at once. Nothing here throws,
// crashes or hangs on a bad network or a hostile server: every size the server
// announces is bounded by the options below before it sizes anything.
#ifndef FEDTINY_CLIENT_TRANSPORT_SESSION_H_
#define FEDTINY_CLIENT_TRANSPORT_SESSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/federation.grpc.pb.h"
#include "tools/base/sha256.h"

namespace fedtiny::client {

struct SessionOptions {
  std::string address;  // "host:port"
  // TLS always, unless `insecure`: the server's certificate is verified against
  // this CA, or against the system's trusted roots when it is empty.
  std::string tls_root_cert_pem;
  // Plaintext, for loopback tests and simulators only. It must be asked for; a
  // configured CA wins over it (TLS).
  bool insecure = false;
  // Per call, over all of its attempts.
  absl::Duration call_deadline = absl::Seconds(10);
  // Attempts per call while the server answers UNAVAILABLE (gRPC's retry policy
  // caps this at 5; 1 = no retry). No other code is retried: a DEADLINE_EXCEEDED
  // upload is late, which is final.
  int attempts = 4;
  absl::Duration backoff = absl::Milliseconds(200);  // First retry delay; doubles.
  int chunk_bytes = 256 << 10;  // Download chunk.
  // A bundle announced larger than this is refused before a byte is fetched.
  int64_t max_bundle_bytes = int64_t{64} << 20;
  // One bundle's download, all chunks together, ends by this deadline...
  absl::Duration download_deadline = absl::Minutes(10);
  // ...and, once `slow_download_grace` has passed, must average at least this
  // rate (against "slow retrieval": a server dripping bytes). 0: no minimum.
  int64_t min_download_bytes_per_second = 8 << 10;
  absl::Duration slow_download_grace = absl::Seconds(30);
  uint64_t seed = 0;  // Jitter; 0 = from the clock.
};

// MakeSessionChannel returns a channel to `options.address` for the gRPC
// service `service` (its full name): TLS unless `options.insecure` (as
// SessionOptions says), gRPC's retry policy for UNAVAILABLE over
// `options.attempts`. Does not block (gRPC connects at the first call).
std::shared_ptr<grpc::Channel> MakeSessionChannel(const SessionOptions& options,
                                                  const std::string& service);

// Thread-compatible: one thread uses a session at a time. Owns its channel.
class FederationSession {
 public:
  explicit FederationSession(const SessionOptions& options);

  // Codes: those of the server (docs/protocol.md), kUnavailable after the
  // attempts, or kDeadlineExceeded. Blocks for at most `call_deadline`.
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& request);

  // Downloads the bundle in chunks, each from the offset reached; verifies size
  // and SHA-256. Memory grows with the bytes that arrive, never with the size
  // announced. Refuses (kFailedPrecondition) a version older than
  // `held_version`; kResourceExhausted for a size over `max_bundle_bytes`
  // (before any request); kDeadlineExceeded past `download_deadline` or under
  // the minimum rate; kDataLoss when a chunk does not continue the bundle or the
  // bytes fail verification. Blocks for at most `download_deadline`.
  absl::StatusOr<std::string> DownloadBundle(const v1::Assignment& assignment,
                                             const v1::ModelBundle& bundle, int64_t held_version);
  // DownloadBundleTo is DownloadBundle handing each chunk to `sink`, in order,
  // as it arrives, instead of keeping the bundle (an encrypted bundle is
  // hashed and decrypted while it downloads: tools/base/crypto/bundle_stream.h).
  // Returns the bundle's SHA-256, checked against the assignment's. A sink
  // error ends the download with that error.
  absl::StatusOr<Sha256Digest> DownloadBundleTo(
      const v1::Assignment& assignment, const v1::ModelBundle& bundle, int64_t held_version,
      const std::function<absl::Status(absl::string_view chunk)>& sink);

  // Sent again only while the server is UNAVAILABLE (by gRPC, up to `attempts`).
  // Blocks for at most `call_deadline`.
  absl::Status Upload(const v1::UploadRequest& request);
  absl::Status ReportFailure(const v1::FailureReport& report);

  // GetMetadata fetches one model-trust file (docs/security.md), at most
  // `max_bytes` + 1 of its bytes (the server's own cut; a longer answer is
  // cut here too). Codes: the server's (kNotFound for an unknown path), or
  // kDeadlineExceeded after `timeout`. Blocks for at most `timeout`.
  absl::StatusOr<std::string> GetMetadata(const std::string& path, size_t max_bytes,
                                          absl::Duration timeout);
  // Enroll registers the device's public key; codes of the server. Blocks for
  // at most `call_deadline`.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);

  // A delay uniformly drawn in a retry window, for the caller's scheduler;
  // windows are clamped to [0, 24 h].
  absl::Duration JitteredDelay(const v1::RetryWindow& window);

 private:
  // Runs one gRPC call (gRPC's retry policy may make attempts inside it) with a
  // context whose deadline is `deadline` from now.
  template <typename Call>
  static grpc::Status Within(absl::Duration deadline, Call call);
  // kDeadlineExceeded when a download that started at `start` and has `got`
  // bytes is past its deadline or, after the grace, under the minimum rate.
  absl::Status CheckPace(absl::Time start, int64_t got) const;

  SessionOptions options_;
  std::unique_ptr<v1::Federation::Stub> stub_;
  std::mt19937_64 rng_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_TRANSPORT_SESSION_H_
