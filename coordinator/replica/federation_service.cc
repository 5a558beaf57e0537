#include "coordinator/replica/federation_service.h"

#include "proto/grpc_status.h"

namespace fedtiny::coordinator::replica {

namespace {

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status FederationService::CheckIn(grpc::ServerContext*, const v1::CheckInRequest* request,
                                        v1::CheckInResponse* response) {
  return Answer(frontend_->CheckIn(*request), response);
}

grpc::Status FederationService::Download(grpc::ServerContext*, const v1::DownloadRequest* request,
                                         v1::DownloadResponse* response) {
  return Answer(frontend_->Download(*request), response);
}

grpc::Status FederationService::Upload(grpc::ServerContext*, const v1::UploadRequest* request,
                                       v1::UploadResponse*) {
  return ToGrpcStatus(frontend_->Upload(*request));
}

grpc::Status FederationService::ReportFailure(grpc::ServerContext*, const v1::FailureReport* request,
                                              v1::FailureResponse*) {
  return ToGrpcStatus(frontend_->ReportFailure(*request));
}

}  // namespace fedtiny::coordinator::replica
