// The Federation API (proto/federation.proto) that devices call.
#ifndef FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
#define FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::coordinator {

// Checks that a CheckInRequest is well formed before anything acts on it.
// Returns kInvalidArgument naming the offending field.
absl::Status ValidateCheckIn(const fedtiny::v1::CheckInRequest& request);

// FederationService serves devices. Thread-safe: gRPC calls it from many threads;
// it holds no mutable state of its own.
class FederationService final
    : public fedtiny::v1::Federation::CallbackService {
 public:
  FederationService() = default;

  grpc::ServerUnaryReactor* CheckIn(
      grpc::CallbackServerContext* context,
      const fedtiny::v1::CheckInRequest* request,
      fedtiny::v1::CheckInResponse* response) override;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
