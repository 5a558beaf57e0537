// The Federation API's gRPC edge for a replica: converts between gRPC and the
// Frontend's absl::Status (proto/grpc_status.h). GetMetadata and Enroll are
// UNIMPLEMENTED (model trust needs a full coordinator).
#ifndef FEDTINY_COORDINATOR_REPLICA_FEDERATION_SERVICE_H_
#define FEDTINY_COORDINATOR_REPLICA_FEDERATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "coordinator/replica/frontend.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::coordinator::replica {

// Thread-safe (the Frontend is). Borrows the frontend, which must outlive it.
class FederationService final : public v1::Federation::Service {
 public:
  explicit FederationService(Frontend* frontend) : frontend_(frontend) {}

  grpc::Status CheckIn(grpc::ServerContext*, const v1::CheckInRequest* request,
                       v1::CheckInResponse* response) override;
  grpc::Status Download(grpc::ServerContext*, const v1::DownloadRequest* request,
                        v1::DownloadResponse* response) override;
  grpc::Status Upload(grpc::ServerContext*, const v1::UploadRequest* request,
                      v1::UploadResponse* response) override;
  grpc::Status ReportFailure(grpc::ServerContext*, const v1::FailureReport* request,
                             v1::FailureResponse* response) override;

 private:
  Frontend* const frontend_;
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_FEDERATION_SERVICE_H_
