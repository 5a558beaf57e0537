#include "coordinator/telemetry_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "coordinator/telemetry/report_check.h"
#include "proto/grpc_status.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                 const absl::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(s));
  return reactor;
}

std::string Cut(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

absl::StatusOr<fedtiny::telemetry::TelemetrySpec> TelemetryService::SpecOf(
    Coordinator& c, const std::string& task) const {
  absl::StatusOr<fedtiny::telemetry::TelemetrySpec> spec =
      c.TelemetrySpecOf(task);
  if (absl::IsNotFound(spec.status())) {
    return absl::NotFoundError(absl::StrCat("unknown task '", Cut(task), "'"));
  }
  if (!spec.ok()) {
    return absl::NotFoundError(
        absl::StrCat("task '", Cut(task), "' records no telemetry"));
  }
  return spec;
}

absl::StatusOr<int64_t> TelemetryService::NewestVersion(Coordinator& c,
                                                        const std::string& task,
                                                        int64_t claimed) {
  ASSIGN_OR_RETURN(v1::TaskInfo info, c.GetTask(task));
  {
    absl::MutexLock lock(&mu_);
    auto it = newest_.find(task);
    if (it != newest_.end() && it->second.created_ms == info.created_ms() &&
        claimed <= it->second.version) {
      return it->second.version;
    }
  }
  ASSIGN_OR_RETURN(std::vector<v1::ModelVersion> versions, c.ListModels(task));
  int64_t newest = 0;
  for (const v1::ModelVersion& v : versions)
    newest = std::max(newest, v.version());
  absl::MutexLock lock(&mu_);
  newest_[task] = Newest{info.created_ms(), newest};
  return newest;
}

absl::Status TelemetryService::Accept(
    const fedtiny::telemetry::TelemetryReport& report,
    const std::string& peer) {
  Coordinator* c = coordinator_.load(std::memory_order_acquire);
  if (c == nullptr) return absl::UnavailableError("coordinator is loading");
  const absl::Time now = clock_->Now();
  if (!limiter_.Allow(telemetry::PeerHost(peer), now)) {
    return absl::ResourceExhaustedError(
        "too many telemetry reports from this address; retry later");
  }
  absl::StatusOr<fedtiny::telemetry::TelemetrySpec> spec =
      SpecOf(*c, report.task());
  if (!spec.ok()) return absl::InvalidArgumentError(spec.status().message());
  ASSIGN_OR_RETURN(int64_t newest,
                   NewestVersion(*c, report.task(), report.model_version()));
  const int64_t now_s = absl::ToUnixSeconds(now);
  ASSIGN_OR_RETURN(std::vector<telemetry::BinValue> values,
                   telemetry::CheckReport(report, *spec, newest, now_s));
  const telemetry::CellKey key{report.task(), report.model_version(),
                               report.device_class(), report.variant(),
                               report.window_start_unix_s()};
  return aggregates_->Add(key, values, telemetry::OldestWindow(*spec, now_s));
}

grpc::ServerUnaryReactor* TelemetryService::GetSpec(
    grpc::CallbackServerContext* context,
    const fedtiny::telemetry::GetSpecRequest* request,
    fedtiny::telemetry::GetSpecResponse* response) {
  Coordinator* c = coordinator_.load(std::memory_order_acquire);
  if (c == nullptr)
    return Finish(context, absl::UnavailableError("coordinator is loading"));
  absl::StatusOr<fedtiny::telemetry::TelemetrySpec> spec =
      SpecOf(*c, request->task());
  if (spec.ok()) *response->mutable_spec() = *std::move(spec);
  return Finish(context, spec.status());
}

grpc::ServerUnaryReactor* TelemetryService::Upload(
    grpc::CallbackServerContext* context,
    const fedtiny::telemetry::UploadRequest* request,
    fedtiny::telemetry::UploadResponse*) {
  return Finish(context, Accept(request->report(), context->peer()));
}

}  // namespace fedtiny::coordinator
