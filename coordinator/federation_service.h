// The Federation API (proto/federation.proto) that devices call: a thin edge
// that converts between gRPC and the Coordinator's absl::Status.
//
// Requests arrive as raw bytes and are parsed here, so bytes that are not the
// method's message get INVALID_ARGUMENT (gRPC's own parser would answer
// UNIMPLEMENTED or INTERNAL, which tells a device nothing true).
#ifndef FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
#define FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "coordinator/coordinator.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::coordinator {

using RawFederationService = v1::Federation::WithRawCallbackMethod_CheckIn<
    v1::Federation::WithRawCallbackMethod_Download<v1::Federation::WithRawCallbackMethod_Upload<
        v1::Federation::WithRawCallbackMethod_ReportFailure<v1::Federation::Service>>>>;

// Thread-safe (the Coordinator is). Borrows the Coordinator, which must outlive it.
class FederationService final : public RawFederationService {
 public:
  explicit FederationService(Coordinator* coordinator) : coordinator_(coordinator) {}

  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Download(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Upload(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReportFailure(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;

 private:
  Coordinator* const coordinator_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
