// The coordinator's side of the telemetry fleet simulator over real gRPC: a
// real coordinator::Server on 127.0.0.1 (port picked at start), its clock the
// simulator's virtual one, the authored model and spec created as a task
// through the Admin service. Devices reach it with the real client Exporter
// and TelemetryClient (virtual_device.h); the fleet view comes from
// Admin.FleetTelemetry. The per-address rate limit is raised: every virtual
// device uploads from the same loopback address.
//
// Thread-safe (gRPC stubs and the server are). Owns the server, which stops
// when this is destroyed.
#ifndef FEDTINY_SIM_TELEMETRY_GRPC_COORDINATOR_H_
#define FEDTINY_SIM_TELEMETRY_GRPC_COORDINATOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "coordinator/server.h"
#include "proto/admin.grpc.pb.h"
#include "sim/telemetry/model_author.h"

namespace fedtiny::sim::telemetry {

class GrpcCoordinator {
 public:
  // Start starts the server with its data in `data_dir` (created; it must
  // not hold another coordinator's data) and creates `task`. The server's
  // and the Admin service's codes. Blocks.
  static absl::StatusOr<std::unique_ptr<GrpcCoordinator>> Start(
      const AuthoredModel& model, const std::string& task,
      const std::string& data_dir, absl::Time now);

  [[nodiscard]] std::string address() const { return server_.address(); }
  void SetTime(absl::Time t) { clock_->Set(t); }

  // View is Admin.FleetTelemetry for `task` over the window at
  // `window_start` (0: every retained window). Blocks.
  absl::StatusOr<fedtiny::v1::TelemetryViewResponse> View(
      const std::string& task, int64_t window_start);

 private:
  GrpcCoordinator(std::shared_ptr<coordinator::FakeClock> clock,
                  coordinator::Server server);

  std::shared_ptr<coordinator::FakeClock> clock_;
  coordinator::Server server_;
  std::unique_ptr<fedtiny::v1::Admin::Stub> admin_;
};

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_GRPC_COORDINATOR_H_
