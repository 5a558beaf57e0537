// The device's gRPC client of the fedtiny.telemetry.Telemetry service
// (proto/telemetry.proto). TLS unless plaintext is asked for, as the
// Federation session (client/transport/session.h): the server is verified
// against `tls_root_cert_pem`, or the system's roots when it is empty. Every
// call has a deadline; UNAVAILABLE is retried by gRPC's retry policy.
//
// Nothing here checks consent: the Exporter (exporter.h) is the only caller
// and gates every call.
//
// Thread-safe (gRPC stubs are). Owns its channel.
#ifndef FEDTINY_CLIENT_TELEMETRY_TELEMETRY_CLIENT_H_
#define FEDTINY_CLIENT_TELEMETRY_TELEMETRY_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/telemetry.grpc.pb.h"

namespace fedtiny::client::telemetry {

struct TelemetryClientOptions {
  std::string address;  // "host:port"
  std::string tls_root_cert_pem;
  // Plaintext, for loopback tests only; a configured CA wins over it.
  bool insecure = false;
  absl::Duration call_deadline = absl::Seconds(10);
  int attempts = 3;  // While UNAVAILABLE; 1 = no retry (gRPC caps it at 5).
};

class TelemetryClient {
 public:
  explicit TelemetryClient(const TelemetryClientOptions& options);

  // GetSpec fetches the task's spec. The server's codes (kNotFound: the task
  // records nothing), kUnavailable, kDeadlineExceeded. Blocks for at most
  // call_deadline.
  absl::StatusOr<fedtiny::telemetry::TelemetrySpec> GetSpec(
      const std::string& task);
  // Upload sends one report. The server's codes (kInvalidArgument for a
  // malformed report), kUnavailable, kDeadlineExceeded. Blocks for at most
  // call_deadline.
  absl::Status Upload(const fedtiny::telemetry::TelemetryReport& report);

 private:
  const TelemetryClientOptions options_;
  std::unique_ptr<fedtiny::telemetry::Telemetry::Stub> stub_;
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_TELEMETRY_CLIENT_H_
