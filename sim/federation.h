// What simulated devices talk to: the coordinator's Federation API, plus the two
// operator-side calls the simulator needs (a round's outcome, the current models)
// and the server's deadline ticker. In process it is the real Coordinator over a
// MemoryStore on the virtual clock; over gRPC it is a real server's socket
// (sim/grpc_federation.h). The round driver cannot tell them apart, so one
// experiment config gives the same committed versions either way.
#ifndef FEDTINY_SIM_FEDERATION_H_
#define FEDTINY_SIM_FEDERATION_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/coordinator.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"

namespace fedtiny::sim {

// Implementations are thread-safe as the Coordinator is.
class Federation {
 public:
  virtual ~Federation() = default;
  virtual absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& r) = 0;
  virtual absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& r) = 0;
  virtual absl::Status Upload(const v1::UploadRequest& r) = 0;
  virtual absl::Status ReportFailure(const v1::FailureReport& r) = 0;
  // Operator side: a round's record, and the newest model per cluster.
  virtual absl::StatusOr<v1::RoundInfo> GetRound(const std::string& task, int64_t round) = 0;
  virtual absl::StatusOr<std::map<int, std::string>> CurrentModels(const std::string& task) = 0;
  // What the server's ticker does: close rounds whose deadline has passed.
  virtual void Tick() = 0;
};

// The real Coordinator, called directly. Borrows it.
class InProcessFederation final : public Federation {
 public:
  explicit InProcessFederation(coordinator::Coordinator* c) : c_(c) {}
  absl::StatusOr<v1::CheckInResponse> CheckIn(const v1::CheckInRequest& r) override {
    return c_->CheckIn(r);
  }
  absl::StatusOr<v1::DownloadResponse> Download(const v1::DownloadRequest& r) override {
    return c_->Download(r);
  }
  absl::Status Upload(const v1::UploadRequest& r) override { return c_->Upload(r); }
  absl::Status ReportFailure(const v1::FailureReport& r) override { return c_->ReportFailure(r); }
  absl::StatusOr<v1::RoundInfo> GetRound(const std::string& task, int64_t round) override {
    return c_->GetRound(task, round);
  }
  absl::StatusOr<std::map<int, std::string>> CurrentModels(const std::string& task) override {
    return c_->CurrentModels(task);
  }
  void Tick() override { c_->Tick(); }

 private:
  coordinator::Coordinator* const c_;
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_FEDERATION_H_
