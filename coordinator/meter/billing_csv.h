// Billing records from the meter ledger (issue #14, docs/metering.md): one CSV
// row per (device, package) with the billed and disputed calls and the flags,
// for an operator's billing system. Stateless; safe from any thread.
#ifndef FEDTINY_COORDINATOR_METER_BILLING_CSV_H_
#define FEDTINY_COORDINATOR_METER_BILLING_CSV_H_

#include <string>
#include <vector>

#include "coordinator/meter/meter_ledger.h"

namespace fedtiny::meter {

// The header row BillingCsv starts with.
inline constexpr char kBillingCsvHeader[] =
    "device_id,package,accepted_calls,disputed_calls,syncs,checkpoint_index,"
    "rollback,fork,"
    "overuse,gap,bad_link,clock_back,cut_off,last_flag";

// BillingCsv returns RFC 4180 CSV (CRLF-free: "\n" line ends) of `usage`:
// the header, then one row per entry in the given order. Fields with a comma,
// quote or line break are quoted, quotes doubled.
std::string BillingCsv(const std::vector<DeviceUsage>& usage);

}  // namespace fedtiny::meter

#endif  // FEDTINY_COORDINATOR_METER_BILLING_CSV_H_
