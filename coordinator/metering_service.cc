#include "coordinator/metering_service.h"

#include <optional>

#include "proto/grpc_status.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

}  // namespace

absl::StatusOr<meter::DurableLedger*> MeteringService::Ready(const std::string& device_id,
                                                             const std::string& secret) const {
  Coordinator* c = coordinator_.load(std::memory_order_acquire);
  if (c == nullptr) return absl::UnavailableError("coordinator is loading");
  if (ledger_ == nullptr) return absl::FailedPreconditionError("metering not configured");
  RETURN_IF_ERROR(c->AuthenticateDevice(device_id, secret));
  return ledger_;
}

grpc::ServerUnaryReactor* MeteringService::EnrollMeter(grpc::CallbackServerContext* context,
                                                       const meter::MeterEnrollRequest* request,
                                                       meter::MeterEnrollResponse* response) {
  absl::StatusOr<meter::DurableLedger*> ledger =
      Ready(request->device_id(), request->device_secret());
  if (!ledger.ok()) return Finish(context, ledger.status());
  std::optional<uint64_t> counter;
  if (request->has_counter()) counter = request->counter();
  absl::StatusOr<meter::Signed> grant =
      (*ledger)->Enroll(request->device_id(), request->package(), counter);
  if (grant.ok()) *response->mutable_grant() = *std::move(grant);
  return Finish(context, grant.status());
}

grpc::ServerUnaryReactor* MeteringService::SyncUsage(grpc::CallbackServerContext* context,
                                                     const meter::SyncRequest* request,
                                                     meter::SyncResponse* response) {
  absl::StatusOr<meter::DurableLedger*> ledger =
      Ready(request->device_id(), request->device_secret());
  if (!ledger.ok()) return Finish(context, ledger.status());
  absl::StatusOr<meter::SyncResponse> out = (*ledger)->Sync(*request);
  if (out.ok()) *response = *std::move(out);
  return Finish(context, out.status());
}

}  // namespace fedtiny::coordinator
