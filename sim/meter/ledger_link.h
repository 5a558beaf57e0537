// How sim/meter's fleet reaches the coordinator's meter ledger: in process
// (MeterLedger called directly, the default) or over gRPC (a real coordinator
// Server on 127.0.0.1 with metering on, called through its Metering service as
// devices do, authenticated with a per-device secret). Both run on a virtual
// clock the fleet advances.
#ifndef FEDTINY_SIM_METER_LEDGER_LINK_H_
#define FEDTINY_SIM_METER_LEDGER_LINK_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/meter/meter_ledger.h"
#include "proto/meter.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::meter::sim {

// Not thread-safe: the fleet is one thread. Owns its ledger or server.
class LedgerLink {
 public:
  virtual ~LedgerLink() = default;
  // Enroll and Sync return the ledger's answer (the Metering service's codes
  // over gRPC, MeterLedger's in process).
  virtual absl::StatusOr<Signed> Enroll(const std::string& device_id,
                                        std::optional<uint64_t> counter) = 0;
  virtual absl::StatusOr<SyncResponse> Sync(const SyncRequest& request) = 0;
  // The key devices verify grants and checkpoints with.
  virtual const crypto::EcPublicKey& public_key() const = 0;
  // Moves the coordinator's clock.
  virtual void Advance(absl::Duration d) = 0;
};

// The ledger in this process, its clock starting at `start`.
std::unique_ptr<LedgerLink> InProcessLink(const LedgerOptions& options, absl::Time start);

// A coordinator Server with `options` as its ledger settings (--meter_*),
// listening on 127.0.0.1 (a free port), its state in `data_dir` (created; the
// meter key is written there too). Devices use the secret
// "meter-fleet-secret-<device_id>". Errors: the server's start.
absl::StatusOr<std::unique_ptr<LedgerLink>> GrpcLink(const LedgerOptions& options,
                                                     absl::Time start,
                                                     const std::string& data_dir);

}  // namespace fedtiny::meter::sim

#endif  // FEDTINY_SIM_METER_LEDGER_LINK_H_
