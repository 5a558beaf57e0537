// The one place where absl::Status and grpc::Status meet, for both sides of the
// wire: everything inside the coordinator and the SDK speaks absl::Status; the
// service classes (coordinator/) and the device session (client/transport/)
// convert at their edge and nowhere else.
#ifndef FEDTINY_PROTO_GRPC_STATUS_H_
#define FEDTINY_PROTO_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace fedtiny {

// ToGrpcStatus / FromGrpcStatus keep the code (the two enums share their
// numbering, 0 to 16) and the message. Pure functions, thread-safe.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace fedtiny

#endif  // FEDTINY_PROTO_GRPC_STATUS_H_
