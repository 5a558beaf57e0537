#include "client/telemetry/recording_telemetry_server.h"

#include <utility>

namespace fedtiny::client::telemetry {

using ::fedtiny::telemetry::TelemetryReport;
using ::fedtiny::telemetry::TelemetrySpec;
using ::fedtiny::telemetry::UploadRequest;

RecordingTelemetryServer::RecordingTelemetryServer() {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  address_ = "127.0.0.1:" + std::to_string(port);
}

RecordingTelemetryServer::~RecordingTelemetryServer() {
  if (server_) server_->Shutdown();
}

void RecordingTelemetryServer::set_spec(std::optional<TelemetrySpec> spec) {
  absl::MutexLock lock(&mu_);
  spec_ = std::move(spec);
}

std::vector<RecordedCall> RecordingTelemetryServer::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

std::vector<TelemetryReport> RecordingTelemetryServer::reports() const {
  std::vector<TelemetryReport> out;
  for (const RecordedCall& c : calls()) {
    UploadRequest r;
    if (c.method == "Upload" && r.ParseFromString(c.bytes))
      out.push_back(r.report());
  }
  return out;
}

grpc::ServerUnaryReactor* RecordingTelemetryServer::GetSpec(
    grpc::CallbackServerContext* context,
    const fedtiny::telemetry::GetSpecRequest* request,
    fedtiny::telemetry::GetSpecResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::MutexLock lock(&mu_);
  calls_.push_back({"GetSpec", request->SerializeAsString()});
  if (!spec_.has_value()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no spec"));
  } else {
    *response->mutable_spec() = *spec_;
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

grpc::ServerUnaryReactor* RecordingTelemetryServer::Upload(
    grpc::CallbackServerContext* context, const UploadRequest* request,
    fedtiny::telemetry::UploadResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back({"Upload", request->SerializeAsString()});
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace fedtiny::client::telemetry
