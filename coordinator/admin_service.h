// The Admin API (proto/admin.proto) for operators. Every call must carry
// "authorization: Bearer <token>" matching the server's operator token (compared
// in constant time), or come over mutual TLS with a verified client certificate.
// Uses gRPC's synchronous API: calls are rare and WatchRounds blocks a thread
// per watcher while it streams.
#ifndef FEDTINY_COORDINATOR_ADMIN_SERVICE_H_
#define FEDTINY_COORDINATOR_ADMIN_SERVICE_H_

#include <atomic>
#include <string>

#include <grpcpp/grpcpp.h>

#include "coordinator/coordinator.h"
#include "proto/admin.grpc.pb.h"

namespace fedtiny::coordinator {

// Thread-safe. Borrows the Coordinator, which must outlive it.
class AdminService final : public v1::Admin::Service {
 public:
  // `token` empty: only mutual-TLS clients are accepted.
  AdminService(Coordinator* coordinator, std::string token, bool mtls)
      : coordinator_(coordinator), token_(std::move(token)), mtls_(mtls) {}

  // Ends every WatchRounds stream (for shutdown).
  void StopWatches() { stopping_ = true; }

  grpc::Status CreateTask(grpc::ServerContext*, const v1::CreateTaskRequest*, v1::TaskInfo*) override;
  grpc::Status ListTasks(grpc::ServerContext*, const v1::ListTasksRequest*, v1::ListTasksResponse*) override;
  grpc::Status GetTask(grpc::ServerContext*, const v1::GetTaskRequest*, v1::TaskInfo*) override;
  grpc::Status PauseTask(grpc::ServerContext*, const v1::SetTaskStateRequest*, v1::TaskInfo*) override;
  grpc::Status ResumeTask(grpc::ServerContext*, const v1::SetTaskStateRequest*, v1::TaskInfo*) override;
  grpc::Status ListRounds(grpc::ServerContext*, const v1::ListRoundsRequest*, v1::ListRoundsResponse*) override;
  grpc::Status GetRound(grpc::ServerContext*, const v1::GetRoundRequest*, v1::RoundInfo*) override;
  grpc::Status WatchRounds(grpc::ServerContext*, const v1::WatchRoundsRequest*,
                           grpc::ServerWriter<v1::RoundInfo>*) override;
  grpc::Status ListModels(grpc::ServerContext*, const v1::ListModelsRequest*, v1::ListModelsResponse*) override;
  grpc::Status Fleet(grpc::ServerContext*, const v1::FleetRequest*, v1::FleetResponse*) override;
  grpc::Status Verify(grpc::ServerContext*, const v1::VerifyRequest*, v1::VerifyResponse*) override;

 private:
  grpc::Status Authorize(const grpc::ServerContext* context) const;

  Coordinator* const coordinator_;
  const std::string token_;
  const bool mtls_;
  std::atomic<bool> stopping_{false};
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_ADMIN_SERVICE_H_
