#include "coordinator/federation_service.h"

#include "coordinator/grpc_status.h"

namespace fedtiny::coordinator {

namespace {
constexpr int kMaxDeviceIdBytes = 128;
constexpr int64_t kIdleRetryEarliestMs = 60 * 1000;
constexpr int64_t kIdleRetryLatestMs = 5 * 60 * 1000;
}  // namespace

absl::Status ValidateCheckIn(const fedtiny::v1::CheckInRequest& request) {
  if (request.device_id().empty()) {
    return absl::InvalidArgumentError("check-in: device_id is empty");
  }
  if (request.device_id().size() > kMaxDeviceIdBytes) {
    return absl::InvalidArgumentError("check-in: device_id exceeds 128 bytes");
  }
  const int battery = request.state().battery_percent();
  if (battery < 0 || battery > 100) {
    return absl::InvalidArgumentError(
        "check-in: state.battery_percent outside [0, 100]");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* FederationService::CheckIn(
    grpc::CallbackServerContext* context,
    const fedtiny::v1::CheckInRequest* request,
    fedtiny::v1::CheckInResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status valid = ValidateCheckIn(*request);
  if (!valid.ok()) {
    reactor->Finish(ToGrpcStatus(valid));
    return reactor;
  }
  // No task is open yet: every device is told to come back later.
  response->mutable_retry()->set_earliest_ms(kIdleRetryEarliestMs);
  response->mutable_retry()->set_latest_ms(kIdleRetryLatestMs);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace fedtiny::coordinator
