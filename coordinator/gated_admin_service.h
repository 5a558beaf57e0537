// The Admin service as registered with gRPC before the store has loaded: it
// answers UNAVAILABLE "coordinator is loading" until the server attaches the
// real AdminService, then forwards every call to it. The server binds its port
// (and says NOT_SERVING on gRPC health) before it loads, and AdminService needs
// a loaded Coordinator from its construction.
#ifndef FEDTINY_COORDINATOR_GATED_ADMIN_SERVICE_H_
#define FEDTINY_COORDINATOR_GATED_ADMIN_SERVICE_H_

#include <atomic>

#include <grpcpp/grpcpp.h>

#include "coordinator/admin_service.h"

namespace fedtiny::coordinator {

// Thread-safe. Borrows the attached AdminService, which must outlive it.
class GatedAdminService final : public RawAdminService {
 public:
  // Attach starts forwarding to `admin`.
  void Attach(AdminService* admin) { admin_.store(admin); }

  grpc::ServerUnaryReactor* CreateTask(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* GetTask(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* PauseTask(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ResumeTask(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ListRounds(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* GetRound(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Fleet(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* Verify(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* c, const grpc::ByteBuffer* in,
      grpc::ByteBuffer* out) override;
  grpc::Status WatchRounds(grpc::ServerContext* c, const v1::WatchRoundsRequest* in,
                           grpc::ServerWriter<v1::RoundInfo>* out) override;

 private:
  std::atomic<AdminService*> admin_{nullptr};
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_GATED_ADMIN_SERVICE_H_
