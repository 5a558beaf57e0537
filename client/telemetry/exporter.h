// Ties the recorder, the consent, the privacy budget and the device's state
// to the Telemetry service (docs/observability.md, "What leaves the device").
//
// Export() makes no call at all, GetSpec included, unless the user's consent
// is granted AND the network is unmetered AND the device is charging: GetSpec
// carries only the task's name, but even that would tell the server that
// this app runs here, so it waits for consent like the reports. Then, oldest
// first, each closed window not yet exported becomes one privatized report
// (report.h); its epsilon is charged to the day's budget before it is sent;
// a report the budget cannot pay for is not sent (kResourceExhausted) and
// waits for the next day, and one that alone costs more than a day's budget
// is dropped. A report whose upload fails is kept as it is and sent again
// next time (the same bytes: no new noise, no new epsilon). Last, the spec is
// refreshed (GetSpec): a new version starts the recorder over.
//
// Thread-compatible: one Export at a time. Borrows everything it is given,
// which must outlive it.
#ifndef FEDTINY_CLIENT_TELEMETRY_EXPORTER_H_
#define FEDTINY_CLIENT_TELEMETRY_EXPORTER_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/core/eligibility.h"
#include "client/telemetry/budget.h"
#include "client/telemetry/consent.h"
#include "client/telemetry/randomness.h"
#include "client/telemetry/recorder.h"
#include "client/telemetry/report.h"
#include "client/telemetry/telemetry_client.h"

namespace fedtiny::client::telemetry {

struct ExportResult {
  int reports_sent = 0;
  int64_t report_bytes = 0;  // Serialized TelemetryReport bytes sent.
};

class Exporter {
 public:
  // `context` names the task, model and device class (its consent_version
  // is filled from the consent at each export).
  Exporter(ReportContext context, Recorder& recorder, Consent& consent,
           PrivacyBudget& budget, const DeviceState& device,
           TelemetryClient& client, Randomness& rng)
      : context_(std::move(context)),
        recorder_(recorder),
        consent_(consent),
        budget_(budget),
        device_(device),
        client_(client),
        rng_(rng) {}

  // WhyNot is "" when export may run now, else the first unmet condition
  // ("no consent", "metered network", "not charging").
  [[nodiscard]] std::string WhyNot() const;

  // Export runs one export (above). kFailedPrecondition naming WhyNot()
  // without any call; kResourceExhausted when the budget stopped a report
  // (the result's counts are lost then: what was sent before stays sent);
  // the client's codes when a call failed. Blocks on the network and storage.
  absl::StatusOr<ExportResult> Export();

 private:
  // Sends `report`, marking its window exported on success.
  absl::Status Send(const fedtiny::telemetry::TelemetryReport& report,
                    ExportResult& result);
  absl::Status SendClosedWindows(const fedtiny::telemetry::TelemetrySpec& spec,
                                 ExportResult& result);

  ReportContext context_;
  Recorder& recorder_;
  Consent& consent_;
  PrivacyBudget& budget_;
  const DeviceState& device_;
  TelemetryClient& client_;
  Randomness& rng_;
  std::optional<fedtiny::telemetry::TelemetryReport>
      pending_;  // Paid for, not yet sent.
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_EXPORTER_H_
