#include "client/telemetry/telemetry_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "proto/grpc_status.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::telemetry::Telemetry;

std::shared_ptr<grpc::ChannelCredentials> Credentials(
    const TelemetryClientOptions& o) {
  if (o.insecure && o.tls_root_cert_pem.empty())
    return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs =
      o.tls_root_cert_pem;  // Empty: the system's trusted roots.
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> MakeChannel(const TelemetryClientOptions& o) {
  grpc::ChannelArguments args;
  if (o.attempts >= 2) {
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    args.SetServiceConfigJSON(absl::StrFormat(
        R"({"methodConfig": [{"name": [{"service": "%s"}], "retryPolicy": {)"
        R"("maxAttempts": %d, "initialBackoff": "0.2s", "maxBackoff": "3.2s", )"
        R"("backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]})",
        Telemetry::service_full_name(), std::min(o.attempts, 5)));
  }
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  return grpc::CreateCustomChannel(o.address, Credentials(o), args);
}

}  // namespace

TelemetryClient::TelemetryClient(const TelemetryClientOptions& options)
    : options_(options), stub_(Telemetry::NewStub(MakeChannel(options))) {}

absl::StatusOr<fedtiny::telemetry::TelemetrySpec> TelemetryClient::GetSpec(
    const std::string& task) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
  fedtiny::telemetry::GetSpecRequest request;
  request.set_task(task);
  fedtiny::telemetry::GetSpecResponse response;
  grpc::Status s = stub_->GetSpec(&ctx, request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return response.spec();
}

absl::Status TelemetryClient::Upload(
    const fedtiny::telemetry::TelemetryReport& report) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_deadline));
  fedtiny::telemetry::UploadRequest request;
  *request.mutable_report() = report;
  fedtiny::telemetry::UploadResponse response;
  return FromGrpcStatus(stub_->Upload(&ctx, request, &response));
}

}  // namespace fedtiny::client::telemetry
