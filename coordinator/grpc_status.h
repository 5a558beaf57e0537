// The one place where absl::Status and grpc::Status meet. Everything inside the
// coordinator speaks absl::Status; service methods convert at their edge.
#ifndef FEDTINY_COORDINATOR_GRPC_STATUS_H_
#define FEDTINY_COORDINATOR_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace fedtiny::coordinator {

// Same code (the two enums share their numbering) and the same message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_GRPC_STATUS_H_
