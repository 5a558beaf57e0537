#include "sim/telemetry/sweep.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim::telemetry {
namespace {

std::string Percent(int64_t part, int64_t whole) {
  if (whole == 0) return "n/a";
  return absl::StrFormat("%.2f%% (%d/%d)", 100.0 * part / whole, part, whole);
}

void Add(AlarmCount& total, const AlarmCount& c) {
  total.verdicts += c.verdicts;
  total.alarms += c.alarms;
}

}  // namespace

int FirstDetection(const FleetResult& run, int onset) {
  for (const ClassWindow& row : run.rows) {
    if (row.window >= onset && row.drifted_devices > 0 && row.alert == "drift")
      return row.window;
  }
  return -1;
}

AlarmCount CountFalseAlarms(const FleetResult& run) {
  AlarmCount c;
  for (const ClassWindow& row : run.rows) {
    if (row.drifted_devices > 0) continue;
    for (const ProbeOutcome& p : row.probes) {
      if (p.alert.empty() || p.alert == "insufficient_data") continue;
      ++c.verdicts;
      c.alarms += p.alert == "drift";
    }
  }
  return c;
}

absl::StatusOr<std::string> SweepTable(const AuthoredModel& model,
                                       const LabeledImages& test,
                                       const FleetOptions& base,
                                       const std::vector<Drift>& drifts,
                                       int seeds) {
  std::string out = absl::StrFormat(
      "%d devices (%.0f%% gateways), drift: %.0f%% of %s from window %d of %d, "
      "%d seeds\n\n"
      "| drift | detected in onset window | mean windows to detect | false "
      "alarms, drifted "
      "runs | false alarms, drift-free runs |\n| --- | ---: | ---: | ---: | "
      "---: |\n",
      base.devices, 100 * base.gateway_fraction, 100 * base.drift_fraction,
      base.drift_class, base.drift_from_window, base.windows, seeds);
  AlarmCount clean;
  for (int s = 1; s <= seeds; ++s) {
    FleetOptions o = base;
    o.seed = static_cast<uint64_t>(s);
    o.drift = Drift{};
    ASSIGN_OR_RETURN(FleetResult r, RunFleet(model, test, o));
    Add(clean, CountFalseAlarms(r));
  }
  for (const Drift& drift : drifts) {
    int64_t in_onset = 0, detected = 0, windows = 0;
    AlarmCount in_drifted;
    for (int s = 1; s <= seeds; ++s) {
      FleetOptions o = base;
      o.seed = static_cast<uint64_t>(s);
      o.drift = drift;
      ASSIGN_OR_RETURN(FleetResult r, RunFleet(model, test, o));
      const int w = FirstDetection(r, o.drift_from_window);
      in_onset += w == o.drift_from_window;
      if (w >= 0) ++detected, windows += w - o.drift_from_window + 1;
      Add(in_drifted, CountFalseAlarms(r));
    }
    absl::StrAppend(
        &out, "| ", DriftName(drift), " | ", Percent(in_onset, seeds), " | ",
        detected > 0 ? absl::StrFormat("%.2f", 1.0 * windows / detected)
                     : "never",
        " | ", Percent(in_drifted.alarms, in_drifted.verdicts), " | ",
        Percent(clean.alarms, clean.verdicts), " |\n");
  }
  return out;
}

}  // namespace fedtiny::sim::telemetry
