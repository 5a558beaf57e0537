// The simulator's devices over real gRPC: Federation calls go through a channel
// to a coordinator server (plaintext or TLS, as the channel says). The
// operator-side calls and the ticker go to `server_side`, the Coordinator inside
// that server, which the caller (a test or an in-process fleet) owns.
#ifndef FEDTINY_SIM_GRPC_FEDERATION_H_
#define FEDTINY_SIM_GRPC_FEDERATION_H_

#include <memory>

#include "grpcpp/grpcpp.h"
#include "proto/federation.grpc.pb.h"
#include "sim/federation.h"

namespace fedtiny::sim {

// Thread-safe (gRPC stubs are). Borrows `server_side`.
class GrpcFederation final : public Federation {
 public:
  GrpcFederation(std::shared_ptr<grpc::Channel> channel, coordinator::Coordinator* server_side);
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& r) override;
  absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& r) override;
  absl::Status Upload(const v1::UploadRequest& r) override;
  absl::Status ReportFailure(const v1::FailureReport& r) override;
  absl::StatusOr<v1::RoundInfo> GetRound(const std::string& task, int64_t round) override {
    return server_side_->GetRound(task, round);
  }
  absl::StatusOr<std::map<int, std::string>> CurrentModels(const std::string& task) override {
    return server_side_->CurrentModels(task);
  }
  void Tick() override { server_side_->Tick(); }

 private:
  std::unique_ptr<v1::Federation::Stub> stub_;
  coordinator::Coordinator* const server_side_;
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_GRPC_FEDERATION_H_
