#include "client/transport/metering_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/grpc_status.h"

namespace fedtiny::client {
namespace {

// A context whose deadline is `deadline` from now.
std::unique_ptr<grpc::ClientContext> Within(absl::Duration deadline) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + std::max(deadline, absl::ZeroDuration())));
  return ctx;
}

// "rollback,fork" from the answer's flags.
std::string FlagNames(const meter::SyncResponse& r) {
  std::string out;
  for (int f : r.flags()) {
    absl::StrAppend(&out, out.empty() ? "" : ",",
                    meter::MeterFlag_Name(static_cast<meter::MeterFlag>(f)));
  }
  return out.empty() ? "no flags" : out;
}

}  // namespace

MeteringClient::MeteringClient(const SessionOptions& options, std::string device_secret)
    : options_(options),
      device_secret_(std::move(device_secret)),
      stub_(meter::Metering::NewStub(
          MakeSessionChannel(options, meter::Metering::service_full_name()))) {}

absl::Status MeteringClient::Enroll(meter::Meter& meter, std::optional<uint64_t> counter) {
  meter::MeterEnrollRequest request;
  request.set_device_id(meter.options().device_id);
  request.set_device_secret(device_secret_);
  request.set_package(meter.options().package);
  request.set_has_counter(counter.has_value());
  request.set_counter(counter.value_or(0));
  meter::MeterEnrollResponse response;
  const grpc::Status s =
      stub_->EnrollMeter(Within(options_.call_deadline).get(), request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  return meter.InstallGrant(response.grant());
}

absl::StatusOr<meter::SyncResponse> MeteringClient::Sync(meter::Meter& meter) {
  // Persisted first: records the coordinator bills must survive a crash.
  if (absl::Status f = meter.Flush(); !f.ok()) return f;
  meter::SyncRequest request = meter.MakeSyncRequest();
  request.set_device_secret(device_secret_);
  meter::SyncResponse response;
  const grpc::Status s =
      stub_->SyncUsage(Within(options_.call_deadline).get(), request, &response);
  if (!s.ok()) return FromGrpcStatus(s);
  if (absl::Status a = meter.AcceptSync(response); !a.ok()) {
    return absl::Status(a.code(), absl::StrCat("meter sync: the coordinator's answer (",
                                               FlagNames(response), ": ", response.detail(),
                                               ") was not taken: ", a.message()));
  }
  return response;
}

}  // namespace fedtiny::client
