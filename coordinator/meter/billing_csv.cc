#include "coordinator/meter/billing_csv.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace fedtiny::meter {
namespace {

std::string Field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

uint64_t Count(const DeviceUsage& u, MeterFlag f) {
  auto it = u.flag_counts.find(f);
  return it == u.flag_counts.end() ? 0 : it->second;
}

}  // namespace

std::string BillingCsv(const std::vector<DeviceUsage>& usage) {
  std::string out = absl::StrCat(kBillingCsvHeader, "\n");
  for (const DeviceUsage& u : usage) {
    absl::StrAppend(
        &out,
        absl::StrJoin(
            {Field(u.device_id), Field(u.package),
             absl::StrCat(u.accepted_calls), absl::StrCat(u.disputed_calls),
             absl::StrCat(u.syncs), absl::StrCat(u.checkpoint_index),
             absl::StrCat(Count(u, METER_FLAG_ROLLBACK)),
             absl::StrCat(Count(u, METER_FLAG_FORK)),
             absl::StrCat(Count(u, METER_FLAG_OVERUSE)),
             absl::StrCat(Count(u, METER_FLAG_GAP)),
             absl::StrCat(Count(u, METER_FLAG_BAD_LINK)),
             absl::StrCat(Count(u, METER_FLAG_CLOCK_BACK)),
             std::string(u.cut_off ? "1" : "0"), Field(u.last_flag_detail)},
            ","),
        "\n");
  }
  return out;
}

}  // namespace fedtiny::meter
