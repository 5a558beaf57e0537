#include "sim/telemetry/grpc_coordinator.h"

#include <sys/stat.h>

#include <utility>

#include "client/transport/model_proto.h"
#include "grpcpp/grpcpp.h"
#include "proto/grpc_status.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim::telemetry {
namespace {

constexpr char kToken[] = "drift-fleet-operator-token-0123456789";

void Authorize(grpc::ClientContext& ctx) {
  ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
}

}  // namespace

GrpcCoordinator::GrpcCoordinator(std::shared_ptr<coordinator::FakeClock> clock,
                                 coordinator::Server server)
    : clock_(std::move(clock)),
      server_(std::move(server)),
      admin_(fedtiny::v1::Admin::NewStub(grpc::CreateChannel(
          server_.address(), grpc::InsecureChannelCredentials()))) {}

absl::StatusOr<std::unique_ptr<GrpcCoordinator>> GrpcCoordinator::Start(
    const AuthoredModel& model, const std::string& task,
    const std::string& data_dir, absl::Time now) {
  mkdir(data_dir.c_str(), 0700);
  auto clock = std::make_shared<coordinator::FakeClock>(now);
  coordinator::Server::Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.data_dir = data_dir;
  o.admin_token = kToken;
  o.clock = clock;
  o.telemetry_reports_per_minute = 1e9;
  o.telemetry_burst = 1e9;
  ASSIGN_OR_RETURN(coordinator::Server server, coordinator::Server::Start(o));
  std::unique_ptr<GrpcCoordinator> c(
      new GrpcCoordinator(std::move(clock), std::move(server)));
  fedtiny::v1::CreateTaskRequest request;
  fedtiny::v1::TaskConfig& config = *request.mutable_config();
  config.set_name(task);
  config.set_population("fleet");
  *config.mutable_model() = client::ModelToProto(model.body, model.head);
  config.set_rounds(1);
  config.set_clients_per_round(1);
  config.set_min_reports(1);
  config.set_round_deadline_ms(60'000);
  *config.mutable_telemetry() = model.spec;
  grpc::ClientContext ctx;
  Authorize(ctx);
  fedtiny::v1::TaskInfo info;
  RETURN_IF_ERROR(FromGrpcStatus(c->admin_->CreateTask(&ctx, request, &info)));
  return c;
}

absl::StatusOr<fedtiny::v1::TelemetryViewResponse> GrpcCoordinator::View(
    const std::string& task, int64_t window_start) {
  grpc::ClientContext ctx;
  Authorize(ctx);
  fedtiny::v1::TelemetryViewRequest request;
  request.set_task(task);
  request.set_window_start_unix_s(window_start);
  fedtiny::v1::TelemetryViewResponse response;
  RETURN_IF_ERROR(
      FromGrpcStatus(admin_->FleetTelemetry(&ctx, request, &response)));
  return response;
}

}  // namespace fedtiny::sim::telemetry
