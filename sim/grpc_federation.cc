#include "sim/grpc_federation.h"

#include "proto/grpc_status.h"

namespace fedtiny::sim {

namespace {

template <typename Response, typename Call>
absl::StatusOr<Response> Unary(Call call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  Response out;
  grpc::Status s = call(&ctx, &out);
  if (!s.ok()) return FromGrpcStatus(s);
  return out;
}

}  // namespace

GrpcFederation::GrpcFederation(std::shared_ptr<grpc::Channel> channel,
                               coordinator::Coordinator* server_side)
    : stub_(v1::Federation::NewStub(std::move(channel))), server_side_(server_side) {}

absl::StatusOr<v1::CheckInResponse> GrpcFederation::CheckIn(const v1::CheckInRequest& r) {
  return Unary<v1::CheckInResponse>(
      [&](grpc::ClientContext* c, v1::CheckInResponse* out) { return stub_->CheckIn(c, r, out); });
}

absl::StatusOr<v1::DownloadResponse> GrpcFederation::Download(const v1::DownloadRequest& r) {
  return Unary<v1::DownloadResponse>(
      [&](grpc::ClientContext* c, v1::DownloadResponse* out) { return stub_->Download(c, r, out); });
}

absl::Status GrpcFederation::Upload(const v1::UploadRequest& r) {
  return Unary<v1::UploadResponse>([&](grpc::ClientContext* c, v1::UploadResponse* out) {
           return stub_->Upload(c, r, out);
         }).status();
}

absl::Status GrpcFederation::ReportFailure(const v1::FailureReport& r) {
  return Unary<v1::FailureResponse>([&](grpc::ClientContext* c, v1::FailureResponse* out) {
           return stub_->ReportFailure(c, r, out);
         }).status();
}

}  // namespace fedtiny::sim
