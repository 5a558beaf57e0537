// A Telemetry service for tests (proto/telemetry.proto): plaintext on
// 127.0.0.1, port picked by the kernel; records every call it receives, with
// the request's serialized bytes, and answers GetSpec with the spec it is
// given (NOT_FOUND without one) and Upload with OK.
//
// Thread-safe (gRPC's threads call it). Owns its server; the destructor
// stops it.
#ifndef FEDTINY_CLIENT_TELEMETRY_RECORDING_TELEMETRY_SERVER_H_
#define FEDTINY_CLIENT_TELEMETRY_RECORDING_TELEMETRY_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/telemetry.grpc.pb.h"

namespace fedtiny::client::telemetry {

struct RecordedCall {
  std::string method;  // "GetSpec" or "Upload".
  std::string bytes;   // The request as it arrived, serialized.
};

class RecordingTelemetryServer final
    : public fedtiny::telemetry::Telemetry::CallbackService {
 public:
  RecordingTelemetryServer();
  ~RecordingTelemetryServer() override;

  [[nodiscard]] const std::string& address() const { return address_; }
  void set_spec(std::optional<fedtiny::telemetry::TelemetrySpec> spec);
  [[nodiscard]] std::vector<RecordedCall> calls() const;
  // The reports of the Upload calls, parsed.
  [[nodiscard]] std::vector<fedtiny::telemetry::TelemetryReport> reports()
      const;

  grpc::ServerUnaryReactor* GetSpec(
      grpc::CallbackServerContext* context,
      const fedtiny::telemetry::GetSpecRequest* request,
      fedtiny::telemetry::GetSpecResponse* response) override;
  grpc::ServerUnaryReactor* Upload(
      grpc::CallbackServerContext* context,
      const fedtiny::telemetry::UploadRequest* request,
      fedtiny::telemetry::UploadResponse* response) override;

 private:
  mutable absl::Mutex mu_;
  std::optional<fedtiny::telemetry::TelemetrySpec> spec_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordedCall> calls_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_RECORDING_TELEMETRY_SERVER_H_
