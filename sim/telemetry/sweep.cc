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
  total.shifts += c.shifts;
}

}  // namespace

int FirstDetection(const FleetResult& run, int onset, bool shift) {
  for (const ClassWindow& row : run.rows) {
    if (row.window >= onset && row.drifted_devices > 0 &&
        (shift ? row.shift : row.alert == "drift"))
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
      c.shifts += p.shift;
    }
  }
  return c;
}

absl::StatusOr<SweepScores> Sweep(const AuthoredModel& model,
                                  const LabeledImages& test,
                                  const FleetOptions& base,
                                  const std::vector<Drift>& drifts, int seeds) {
  SweepScores scores;
  scores.seeds = seeds;
  for (int s = 1; s <= seeds; ++s) {
    FleetOptions o = base;
    o.seed = static_cast<uint64_t>(s);
    o.drift = Drift{};
    ASSIGN_OR_RETURN(FleetResult r, RunFleet(model, test, o));
    Add(scores.drift_free, CountFalseAlarms(r));
  }
  for (const Drift& drift : drifts) {
    DriftScore score{drift};
    for (int s = 1; s <= seeds; ++s) {
      FleetOptions o = base;
      o.seed = static_cast<uint64_t>(s);
      o.drift = drift;
      ASSIGN_OR_RETURN(FleetResult r, RunFleet(model, test, o));
      const int w = FirstDetection(r, o.drift_from_window);
      score.in_onset_window += w == o.drift_from_window;
      score.shift_in_onset_window +=
          FirstDetection(r, o.drift_from_window, /*shift=*/true) == o.drift_from_window;
      if (w >= 0) {
        ++score.detected;
        score.windows_to_detect += w - o.drift_from_window + 1;
      }
      Add(score.in_drifted_runs, CountFalseAlarms(r));
    }
    scores.drifts.push_back(score);
  }
  return scores;
}

absl::StatusOr<std::string> SweepTable(const AuthoredModel& model,
                                       const LabeledImages& test,
                                       const FleetOptions& base,
                                       const std::vector<Drift>& drifts,
                                       int seeds) {
  ASSIGN_OR_RETURN(SweepScores scores, Sweep(model, test, base, drifts, seeds));
  std::string out = absl::StrFormat(
      "%d devices (%.0f%% gateways), drift: %.0f%% of %s from window %d of %d, "
      "%d seeds\n\n"
      "| drift | detected in onset window | mean windows to detect | false "
      "alarms, drifted runs | false alarms, drift-free runs | shift in onset "
      "window | false shifts, drift-free runs |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
      base.devices, 100 * base.gateway_fraction, 100 * base.drift_fraction,
      base.drift_class, base.drift_from_window, base.windows, seeds);
  for (const DriftScore& d : scores.drifts) {
    absl::StrAppend(
        &out, "| ", DriftName(d.drift), " | ",
        Percent(d.in_onset_window, seeds), " | ",
        d.detected > 0
            ? absl::StrFormat("%.2f", 1.0 * d.windows_to_detect / d.detected)
            : "never",
        " | ", Percent(d.in_drifted_runs.alarms, d.in_drifted_runs.verdicts),
        " | ", Percent(scores.drift_free.alarms, scores.drift_free.verdicts),
        " | ", Percent(d.shift_in_onset_window, seeds), " | ",
        Percent(scores.drift_free.shifts, scores.drift_free.verdicts), " |\n");
  }
  return out;
}

}  // namespace fedtiny::sim::telemetry
