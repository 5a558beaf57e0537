#include "coordinator/federation_service.h"

#include "coordinator/grpc_status.h"

namespace fedtiny::coordinator {

namespace {

template <typename T>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<T> result, T* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) *response = *std::move(result);
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context, const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* FederationService::CheckIn(grpc::CallbackServerContext* context,
                                                     const v1::CheckInRequest* request,
                                                     v1::CheckInResponse* response) {
  return Reply(context, coordinator_->CheckIn(*request), response);
}

grpc::ServerUnaryReactor* FederationService::Download(grpc::CallbackServerContext* context,
                                                      const v1::DownloadRequest* request,
                                                      v1::DownloadResponse* response) {
  return Reply(context, coordinator_->Download(*request), response);
}

grpc::ServerUnaryReactor* FederationService::Upload(grpc::CallbackServerContext* context,
                                                    const v1::UploadRequest* request,
                                                    v1::UploadResponse*) {
  return Reply(context, coordinator_->Upload(*request));
}

grpc::ServerUnaryReactor* FederationService::ReportFailure(grpc::CallbackServerContext* context,
                                                           const v1::FailureReport* request,
                                                           v1::FailureResponse*) {
  return Reply(context, coordinator_->ReportFailure(*request));
}

}  // namespace fedtiny::coordinator
