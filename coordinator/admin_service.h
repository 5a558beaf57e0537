// The Admin API (proto/admin.proto) for operators. Every call must carry
// "authorization: Bearer <token>" matching the server's operator token (compared
// in constant time), or come over mutual TLS with a verified client certificate.
// Unary calls arrive as raw bytes on gRPC's callback API and are parsed here
// (after authorization), so bytes that are not the method's message get
// INVALID_ARGUMENT; WatchRounds uses the synchronous API and blocks a thread per
// watcher while it streams.
#ifndef FEDTINY_COORDINATOR_ADMIN_SERVICE_H_
#define FEDTINY_COORDINATOR_ADMIN_SERVICE_H_

#include <atomic>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "coordinator/coordinator.h"
#include "coordinator/meter/durable_ledger.h"
#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry/drift.h"
#include "proto/admin.grpc.pb.h"

namespace fedtiny::coordinator {

using RawAdminService = v1::Admin::WithRawCallbackMethod_CreateTask<v1::Admin::WithRawCallbackMethod_ListTasks<v1::Admin::WithRawCallbackMethod_GetTask<v1::Admin::WithRawCallbackMethod_PauseTask<v1::Admin::WithRawCallbackMethod_ResumeTask<v1::Admin::WithRawCallbackMethod_ListRounds<v1::Admin::WithRawCallbackMethod_GetRound<v1::Admin::WithRawCallbackMethod_ListModels<v1::Admin::WithRawCallbackMethod_Fleet<v1::Admin::WithRawCallbackMethod_Verify<v1::Admin::WithRawCallbackMethod_GetModel<
    v1::Admin::WithRawCallbackMethod_RollbackModel<v1::Admin::WithRawCallbackMethod_PinModel<v1::Admin::WithRawCallbackMethod_StopTask<v1::Admin::WithRawCallbackMethod_DeleteTask<v1::Admin::WithRawCallbackMethod_UpdateTask<v1::Admin::WithRawCallbackMethod_ListAudit<v1::Admin::WithRawCallbackMethod_ListDevices<
    v1::Admin::WithRawCallbackMethod_RevokeDevice<v1::Admin::WithRawCallbackMethod_ListUsage<
    v1::Admin::WithRawCallbackMethod_CutOffDevice<v1::Admin::WithRawCallbackMethod_FleetTelemetry<v1::Admin::Service>>>>>>>>>>>>>>>>>>>>>>;

// One operator token and the name the audit log records for it.
struct NamedToken {
  std::string name;
  std::string token;
};

// The operator tokens of a token file: one bare token (named "operator"), or
// one "name:token" per line (blank lines and "#" comments skipped). Names are
// [A-Za-z0-9._@-]; tokens have at least 16 characters. kInvalidArgument naming
// the line (never its token).
absl::StatusOr<std::vector<NamedToken>> ParseOperatorTokens(absl::string_view file);

// Thread-safe. Borrows the Coordinator, which must outlive it once attached.
class AdminService final : public RawAdminService {
 public:
  // `tokens`: a token file's contents (ParseOperatorTokens); empty: only
  // mutual-TLS clients are accepted. A file that does not parse accepts no
  // token (and says so in the log). `coordinator` may be null until Attach():
  // until then every authorized call gets UNAVAILABLE "coordinator is loading"
  // (the server registers the service before its store has loaded).
  AdminService(Coordinator* coordinator, const std::string& tokens, bool mtls);
  // `meter`: the meter ledger (borrowed), null when metering is off.
  void Attach(Coordinator* coordinator, meter::DurableLedger* meter = nullptr) {
    meter_ = meter;
    coordinator_.store(coordinator, std::memory_order_release);
  }

  // `telemetry`: the report counts (borrowed) FleetTelemetry reads; null:
  // FleetTelemetry gets FAILED_PRECONDITION. Call before Attach.
  void AttachTelemetry(telemetry::Aggregates* telemetry) { telemetry_ = telemetry; }

  // Ends every WatchRounds stream (for shutdown).
  void StopWatches() { stopping_ = true; }

  grpc::ServerUnaryReactor* CreateTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* PauseTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ResumeTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ListRounds(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* GetRound(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* Fleet(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* RollbackModel(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* PinModel(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* StopTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* DeleteTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* UpdateTask(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ListDevices(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* RevokeDevice(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
                                         grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* ListUsage(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
                                      grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* CutOffDevice(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
                                         grpc::ByteBuffer*) override;
  grpc::ServerUnaryReactor* FleetTelemetry(grpc::CallbackServerContext*, const grpc::ByteBuffer*,
                                           grpc::ByteBuffer*) override;
  grpc::Status WatchRounds(grpc::ServerContext*, const v1::WatchRoundsRequest*,
                           grpc::ServerWriter<v1::RoundInfo>*) override;

 private:
  // Authorizes, parses `raw` as Request, runs `handler`, serializes its answer.
  // `action` non-null: the call changes state, and is recorded in the audit log
  // (who, what, when, outcome) once it has run, or failed to parse.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
                                  grpc::ByteBuffer* response,
                                  grpc::Status (AdminService::*handler)(const Request&, Response*),
                                  const char* action = nullptr);
  grpc::Status DoCreateTask(const v1::CreateTaskRequest& r, v1::TaskInfo* out);
  grpc::Status DoListTasks(const v1::ListTasksRequest& r, v1::ListTasksResponse* out);
  grpc::Status DoGetTask(const v1::GetTaskRequest& r, v1::TaskInfo* out);
  grpc::Status DoPauseTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out);
  grpc::Status DoResumeTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out);
  grpc::Status DoListRounds(const v1::ListRoundsRequest& r, v1::ListRoundsResponse* out);
  grpc::Status DoGetRound(const v1::GetRoundRequest& r, v1::RoundInfo* out);
  grpc::Status DoListModels(const v1::ListModelsRequest& r, v1::ListModelsResponse* out);
  grpc::Status DoFleet(const v1::FleetRequest& r, v1::FleetResponse* out);
  grpc::Status DoVerify(const v1::VerifyRequest& r, v1::VerifyResponse* out);
  grpc::Status DoGetModel(const v1::GetModelRequest& r, v1::GetModelResponse* out);
  grpc::Status DoRollbackModel(const v1::RollbackRequest& r, v1::ModelVersion* out);
  grpc::Status DoPinModel(const v1::PinRequest& r, v1::ModelVersion* out);
  grpc::Status DoStopTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out);
  grpc::Status DoDeleteTask(const v1::DeleteTaskRequest& r, v1::DeleteTaskResponse* out);
  grpc::Status DoUpdateTask(const v1::UpdateTaskRequest& r, v1::TaskInfo* out);
  grpc::Status DoListAudit(const v1::ListAuditRequest& r, v1::ListAuditResponse* out);
  grpc::Status DoListDevices(const v1::ListDevicesRequest& r, v1::ListDevicesResponse* out);
  grpc::Status DoRevokeDevice(const v1::RevokeDeviceRequest& r, v1::RevokeDeviceResponse* out);
  grpc::Status DoListUsage(const v1::ListUsageRequest& r, v1::ListUsageResponse* out);
  grpc::Status DoCutOffDevice(const v1::CutOffDeviceRequest& r, v1::CutOffDeviceResponse* out);
  grpc::Status DoFleetTelemetry(const v1::TelemetryViewRequest& r, v1::TelemetryViewResponse* out);
  // OK with the caller's name in `*who` (a token's name, or "cert:<subject>").
  grpc::Status Authorize(const grpc::ServerContextBase* context, std::string* who) const;

  // Non-null once attached; handlers run only then.
  Coordinator* c() const { return coordinator_.load(std::memory_order_acquire); }

  std::atomic<Coordinator*> coordinator_;
  meter::DurableLedger* meter_ = nullptr;  // Set before coordinator_.
  telemetry::Aggregates* telemetry_ = nullptr;  // Set before coordinator_.
  telemetry::NullPsiTable nulls_;
  const std::vector<NamedToken> tokens_;
  const bool mtls_;
  std::atomic<bool> stopping_{false};
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_ADMIN_SERVICE_H_
