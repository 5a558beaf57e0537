// The Telemetry API (proto/telemetry.proto, docs/protocol.md "Telemetry"):
// devices fetch their task's spec and upload anonymous k-RR reports, which
// are counted in the durable Aggregates after CheckReport. Reports carry no
// device id and need no device secret, so each peer address is rate-limited
// and each task's window capped (Aggregates::Options); that bounds, but does
// not stop, report stuffing by an attacker with many addresses.
//
// Until Attach, calls get UNAVAILABLE "coordinator is loading".
#ifndef FEDTINY_COORDINATOR_TELEMETRY_SERVICE_H_
#define FEDTINY_COORDINATOR_TELEMETRY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry/rate_limiter.h"
#include "proto/telemetry.grpc.pb.h"

namespace fedtiny::coordinator {

// Thread-safe. Borrows the Coordinator, the aggregates and the clock, which
// must outlive it.
class TelemetryService final
    : public fedtiny::telemetry::Telemetry::CallbackService {
 public:
  explicit TelemetryService(telemetry::RateLimiter::Options limits)
      : limiter_(limits) {}

  // Attach starts serving. Call once.
  void Attach(Coordinator* coordinator, telemetry::Aggregates* aggregates,
              const Clock* clock) {
    aggregates_ = aggregates;
    clock_ = clock;
    coordinator_.store(coordinator, std::memory_order_release);
  }

  grpc::ServerUnaryReactor* GetSpec(
      grpc::CallbackServerContext* context,
      const fedtiny::telemetry::GetSpecRequest* request,
      fedtiny::telemetry::GetSpecResponse* response) override;
  grpc::ServerUnaryReactor* Upload(
      grpc::CallbackServerContext* context,
      const fedtiny::telemetry::UploadRequest* request,
      fedtiny::telemetry::UploadResponse* response) override;

  // Upload's logic without gRPC: `peer` names the caller for the rate limit.
  // kUnavailable before Attach; kResourceExhausted past the peer's rate or the
  // window's cap; kInvalidArgument for an unknown task, a task without a spec,
  // or a report CheckReport refuses; kInternal when it cannot be saved.
  absl::Status Accept(const fedtiny::telemetry::TelemetryReport& report,
                      const std::string& peer);

 private:
  // The task's validated spec: kNotFound when unknown or without one.
  absl::StatusOr<fedtiny::telemetry::TelemetrySpec> SpecOf(
      Coordinator& c, const std::string& task) const;

  // The task's newest committed version, read from the store only when a
  // report names a version above the one last read (versions only grow) or
  // the task was created again under its name since (its creation time).
  absl::StatusOr<int64_t> NewestVersion(Coordinator& c, const std::string& task,
                                        int64_t claimed)
      ABSL_LOCKS_EXCLUDED(mu_);

  std::atomic<Coordinator*> coordinator_{nullptr};
  absl::Mutex mu_;
  struct Newest {
    int64_t created_ms = 0;  // Of the task the version is of.
    int64_t version = 0;
  };
  std::map<std::string, Newest> newest_ ABSL_GUARDED_BY(mu_);
  telemetry::Aggregates* aggregates_ = nullptr;  // Set before coordinator_.
  const Clock* clock_ = nullptr;                 // Set before coordinator_.
  telemetry::RateLimiter limiter_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TELEMETRY_SERVICE_H_
