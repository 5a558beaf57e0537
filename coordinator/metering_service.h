// The Metering API (proto/meter.proto, docs/protocol.md "Metering"): devices
// enroll a package for metered inference and sync their usage on reconnect.
// A thin edge over the DurableLedger; devices authenticate as at check-in
// (device id and secret, Coordinator::AuthenticateDevice).
//
// Until Attach, calls get UNAVAILABLE "coordinator is loading"; attached
// without a ledger (no --meter_key), FAILED_PRECONDITION "metering not
// configured".
#ifndef FEDTINY_COORDINATOR_METERING_SERVICE_H_
#define FEDTINY_COORDINATOR_METERING_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "coordinator/coordinator.h"
#include "coordinator/meter/durable_ledger.h"
#include "proto/meter.grpc.pb.h"

namespace fedtiny::coordinator {

// Thread-safe. Borrows the Coordinator and the ledger, which must outlive it.
class MeteringService final : public meter::Metering::CallbackService {
 public:
  // Attach starts serving: `ledger` may be null (metering not configured).
  // Call once.
  void Attach(Coordinator* coordinator, meter::DurableLedger* ledger) {
    ledger_ = ledger;
    coordinator_.store(coordinator, std::memory_order_release);
  }

  grpc::ServerUnaryReactor* EnrollMeter(grpc::CallbackServerContext* context,
                                        const meter::MeterEnrollRequest* request,
                                        meter::MeterEnrollResponse* response) override;
  grpc::ServerUnaryReactor* SyncUsage(grpc::CallbackServerContext* context,
                                      const meter::SyncRequest* request,
                                      meter::SyncResponse* response) override;

 private:
  // Ready checks the service is attached and configured and the device
  // authenticates; returns the ledger.
  absl::StatusOr<meter::DurableLedger*> Ready(const std::string& device_id,
                                              const std::string& secret) const;

  std::atomic<Coordinator*> coordinator_{nullptr};
  meter::DurableLedger* ledger_ = nullptr;  // Set before coordinator_.
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_METERING_SERVICE_H_
