// The device's privacy budget (docs/observability.md, "Privacy"): the epsilon
// its reports spent in the current UTC day, persisted, so no restart, crash
// or reinstall of the app's state short of deleting the file gives any back.
// Spend writes the new total before the report is sent (write-ahead): a crash
// between the two loses the report, never the accounting.
//
// The day is the wall clock's UTC day, floor(unix_s / 86400). A clock set
// back keeps the stored day (its spending stands); a clock set forward starts
// a new day, which the device's owner could do on purpose: the budget bounds
// what an honest device sends, the server's checks (one report per window)
// the rest.
//
// File: "fedtiny-privacy-budget 1 <day> <spent>\n". A file that does not parse
// counts as today's budget used up (fail closed).
//
// Thread-safe. Borrows the storage and the clock, which must outlive it.
#ifndef FEDTINY_CLIENT_TELEMETRY_BUDGET_H_
#define FEDTINY_CLIENT_TELEMETRY_BUDGET_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "client/core/platform.h"
#include "tools/base/clock.h"

namespace fedtiny::client::telemetry {

class PrivacyBudget {
 public:
  // Open reads `path` (absent: nothing spent). kInternal on a storage error
  // other than a missing file. Blocks on storage.
  static absl::StatusOr<std::unique_ptr<PrivacyBudget>> Open(
      Storage& storage, std::string path, const ::fedtiny::Clock& clock);

  // Spend charges `epsilon` to today. kResourceExhausted (nothing charged)
  // when today's spending plus `epsilon` would exceed `daily_epsilon`;
  // kInvalidArgument for epsilon <= 0; kInternal when the new total cannot
  // be stored (nothing charged: the report must not be sent). Blocks on
  // storage.
  absl::Status Spend(double epsilon, double daily_epsilon);

  // SpentToday is the epsilon spent in the current UTC day.
  [[nodiscard]] double SpentToday() const;

 private:
  PrivacyBudget(Storage& storage, std::string path,
                const ::fedtiny::Clock& clock)
      : storage_(storage), path_(std::move(path)), clock_(clock) {}
  int64_t Today() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Storage& storage_;
  const std::string path_;
  const ::fedtiny::Clock& clock_;
  mutable absl::Mutex mu_;
  int64_t day_ ABSL_GUARDED_BY(mu_) = -1;
  double spent_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_BUDGET_H_
