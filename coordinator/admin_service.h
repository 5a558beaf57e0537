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

#include <grpcpp/grpcpp.h>

#include "coordinator/coordinator.h"
#include "proto/admin.grpc.pb.h"

namespace fedtiny::coordinator {

using RawAdminService = v1::Admin::WithRawCallbackMethod_CreateTask<v1::Admin::WithRawCallbackMethod_ListTasks<v1::Admin::WithRawCallbackMethod_GetTask<v1::Admin::WithRawCallbackMethod_PauseTask<v1::Admin::WithRawCallbackMethod_ResumeTask<v1::Admin::WithRawCallbackMethod_ListRounds<v1::Admin::WithRawCallbackMethod_GetRound<v1::Admin::WithRawCallbackMethod_ListModels<v1::Admin::WithRawCallbackMethod_Fleet<v1::Admin::WithRawCallbackMethod_Verify<v1::Admin::WithRawCallbackMethod_GetModel<v1::Admin::Service>>>>>>>>>>>;

// Thread-safe. Borrows the Coordinator, which must outlive it.
class AdminService final : public RawAdminService {
 public:
  // `token` empty: only mutual-TLS clients are accepted.
  AdminService(Coordinator* coordinator, std::string token, bool mtls)
      : coordinator_(coordinator), token_(std::move(token)), mtls_(mtls) {}

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
  grpc::Status WatchRounds(grpc::ServerContext*, const v1::WatchRoundsRequest*,
                           grpc::ServerWriter<v1::RoundInfo>*) override;

 private:
  // Authorizes, parses `raw` as Request, runs `handler`, serializes its answer.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
                                  grpc::ByteBuffer* response,
                                  grpc::Status (AdminService::*handler)(const Request&, Response*));
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
  grpc::Status Authorize(const grpc::ServerContextBase* context) const;

  Coordinator* const coordinator_;
  const std::string token_;
  const bool mtls_;
  std::atomic<bool> stopping_{false};
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_ADMIN_SERVICE_H_
