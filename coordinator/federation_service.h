// The Federation API (proto/federation.proto) that devices call: a thin edge
// that converts between gRPC and the Coordinator's absl::Status.
#ifndef FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
#define FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "coordinator/coordinator.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::coordinator {

// Thread-safe (the Coordinator is). Borrows the Coordinator, which must outlive it.
class FederationService final : public v1::Federation::CallbackService {
 public:
  explicit FederationService(Coordinator* coordinator) : coordinator_(coordinator) {}

  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* context,
                                    const v1::CheckInRequest* request,
                                    v1::CheckInResponse* response) override;
  grpc::ServerUnaryReactor* Download(grpc::CallbackServerContext* context,
                                     const v1::DownloadRequest* request,
                                     v1::DownloadResponse* response) override;
  grpc::ServerUnaryReactor* Upload(grpc::CallbackServerContext* context,
                                   const v1::UploadRequest* request,
                                   v1::UploadResponse* response) override;
  grpc::ServerUnaryReactor* ReportFailure(grpc::CallbackServerContext* context,
                                          const v1::FailureReport* request,
                                          v1::FailureResponse* response) override;

 private:
  Coordinator* const coordinator_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
