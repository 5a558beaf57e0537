#include "coordinator/meter/durable_ledger.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace fedtiny::meter {

DurableLedger::DurableLedger(crypto::EcPrivateKey key, LedgerOptions options,
                             const coordinator::Clock& clock, std::string path)
    : ledger_(std::move(key), options, clock), path_(std::move(path)) {}

absl::StatusOr<std::unique_ptr<DurableLedger>> DurableLedger::Open(
    crypto::EcPrivateKey key, LedgerOptions options,
    const coordinator::Clock& clock, std::string path) {
  std::unique_ptr<DurableLedger> d(
      new DurableLedger(std::move(key), options, clock, std::move(path)));
  absl::StatusOr<std::string> bytes = ReadFile(d->path_);
  if (absl::IsNotFound(bytes.status())) return d;
  RETURN_IF_ERROR(bytes.status());
  RETURN_IF_ERROR(d->ledger_.LoadState(*bytes));
  return d;
}

absl::Status DurableLedger::Persist() {
  absl::MutexLock lock(&write_mu_);
  return WriteFileAtomically(path_, ledger_.SaveState(), 0600);
}

absl::StatusOr<Signed> DurableLedger::Enroll(const std::string& device_id,
                                             const std::string& package,
                                             std::optional<uint64_t> counter) {
  ASSIGN_OR_RETURN(Signed grant, ledger_.Enroll(device_id, package, counter));
  RETURN_IF_ERROR(Persist());
  return grant;
}

absl::StatusOr<SyncResponse> DurableLedger::Sync(const SyncRequest& request) {
  ASSIGN_OR_RETURN(SyncResponse response, ledger_.Sync(request));
  RETURN_IF_ERROR(Persist());
  return response;
}

absl::StatusOr<int> DurableLedger::CutOffDevice(const std::string& device_id,
                                                const std::string& package,
                                                bool cut_off) {
  int changed = 0;
  for (const DeviceUsage& u : ledger_.AllUsage()) {
    if (u.device_id != device_id || (!package.empty() && u.package != package)) {
      continue;
    }
    RETURN_IF_ERROR(ledger_.CutOff(u.device_id, u.package, cut_off));
    ++changed;
  }
  if (changed == 0) {
    return absl::NotFoundError(absl::StrCat("meter: ", device_id,
                                            package.empty() ? "" : "/", package,
                                            " is not enrolled"));
  }
  RETURN_IF_ERROR(Persist());
  return changed;
}

}  // namespace fedtiny::meter
