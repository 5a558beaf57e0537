// The coordinator's meter ledger kept on disk (issue #14, docs/metering.md):
// a MeterLedger whose whole state is written atomically to one file after
// every change and before the caller answers, so a restart keeps every
// checkpoint, grant, flag and cut-off a device or operator was told about.
//
// Thread-safe. Owns the ledger; borrows the clock, which must outlive it.
// Every mutating call blocks on a file write and an fsync.
#ifndef FEDTINY_COORDINATOR_METER_DURABLE_LEDGER_H_
#define FEDTINY_COORDINATOR_METER_DURABLE_LEDGER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/clock.h"
#include "coordinator/meter/meter_ledger.h"
#include "proto/meter.pb.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny::meter {

class DurableLedger {
 public:
  // Open loads `path` when it exists (kDataLoss if it does not parse) and
  // otherwise starts empty; the file is created at the first change.
  static absl::StatusOr<std::unique_ptr<DurableLedger>> Open(
      crypto::EcPrivateKey key, LedgerOptions options,
      const coordinator::Clock& clock, std::string path);

  // Enroll, Sync: as MeterLedger's, then written to disk (the write's error,
  // kInternal or kUnavailable, when it fails; the ledger has then changed in
  // memory, and a retried sync is answered as a repeat).
  absl::StatusOr<Signed> Enroll(const std::string& device_id,
                                const std::string& package,
                                std::optional<uint64_t> counter);
  absl::StatusOr<SyncResponse> Sync(const SyncRequest& request);

  // CutOffDevice stops (or with cut_off false resumes) grants to `device_id`
  // for `package`, or for every package when it is empty. kNotFound when no
  // such pair is enrolled. Returns how many pairs it changed.
  absl::StatusOr<int> CutOffDevice(const std::string& device_id,
                                    const std::string& package, bool cut_off);

  // AllUsage: every pair's usage, ordered by (device, package).
  std::vector<DeviceUsage> AllUsage() const { return ledger_.AllUsage(); }

 private:
  DurableLedger(crypto::EcPrivateKey key, LedgerOptions options,
                const coordinator::Clock& clock, std::string path);
  // Persist writes the ledger's current state; a snapshot taken under
  // write_mu_ includes every change made before the call.
  absl::Status Persist() ABSL_LOCKS_EXCLUDED(write_mu_);

  MeterLedger ledger_;
  const std::string path_;
  absl::Mutex write_mu_;
};

}  // namespace fedtiny::meter

#endif  // FEDTINY_COORDINATOR_METER_DURABLE_LEDGER_H_
