#include "coordinator/replica/federation_service.h"

#include "proto/grpc_status.h"
#include "tools/base/logging.h"

namespace fedtiny::coordinator::replica {

namespace {

// The replica's own failures (the database, a bug) are logged; a device's
// refused request is its answer, not news.
grpc::Status Convert(const char* method, const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnknown:
      FT_LOG(WARNING) << method << ": " << s;
      break;
    default:
      break;
  }
  return ToGrpcStatus(s);
}

template <typename T>
grpc::Status Answer(const char* method, absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return Convert(method, result.status());
  *response = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status FederationService::CheckIn(grpc::ServerContext*, const v1::CheckInRequest* request,
                                        v1::CheckInResponse* response) {
  return Answer("CheckIn", frontend_->CheckIn(*request), response);
}

grpc::Status FederationService::Download(grpc::ServerContext*, const v1::DownloadRequest* request,
                                         v1::DownloadResponse* response) {
  return Answer("Download", frontend_->Download(*request), response);
}

grpc::Status FederationService::Upload(grpc::ServerContext*, const v1::UploadRequest* request,
                                       v1::UploadResponse*) {
  return Convert("Upload", frontend_->Upload(*request));
}

grpc::Status FederationService::ReportFailure(grpc::ServerContext*, const v1::FailureReport* request,
                                              v1::FailureResponse*) {
  return Convert("ReportFailure", frontend_->ReportFailure(*request));
}

}  // namespace fedtiny::coordinator::replica
