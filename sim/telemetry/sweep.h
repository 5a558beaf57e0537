// Scoring the telemetry fleet simulator's runs against the bar of
// docs/experiments.md ("injected drift in 20% of devices detected within one
// reporting window at epsilon = 2; false alarms < 1% over drift-free runs of
// the same length, several seeds").
//
// A run detects the drift in window w when a device class with drifting
// devices has the group alert "drift" in the coordinator's view of w. A false
// alarm is a probe verdict of "drift" for a class with no drifting device in
// that window; probe verdicts are the (window, class, probe) triples with a
// reference and enough reports ("insufficient_data" is no verdict).
//
// Free functions; thread-safe.
#ifndef FEDTINY_SIM_TELEMETRY_SWEEP_H_
#define FEDTINY_SIM_TELEMETRY_SWEEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/telemetry/fleet.h"

namespace fedtiny::sim::telemetry {

// FirstDetection is the first window >= `onset` in which a drifting class is
// flagged ("drift", or with `shift` a shift beyond noise), or -1.
int FirstDetection(const FleetResult& run, int onset, bool shift = false);

struct AlarmCount {
  int64_t verdicts = 0;  // Probe verdicts on classes without drifting devices.
  int64_t alarms = 0;    // Of which "drift".
  int64_t shifts = 0;    // Of which a shift beyond noise.
};
AlarmCount CountFalseAlarms(const FleetResult& run);

// The scores of one drift over a sweep's seeds.
struct DriftScore {
  Drift drift;
  int64_t in_onset_window = 0;    // Runs flagged in the onset window.
  int64_t detected = 0;           // Runs flagged at all.
  int64_t windows_to_detect = 0;  // Summed over detected runs (1: onset).
  AlarmCount in_drifted_runs;     // Before onset and on clean classes.
  int64_t shift_in_onset_window = 0;  // Runs with a shift in the onset window.
};

struct SweepScores {
  int seeds = 0;
  AlarmCount drift_free;  // Over the drift-free runs.
  std::vector<DriftScore> drifts;
};

// Sweep runs `seeds` seeds (1..seeds) of `base` with each of `drifts`, and
// the same number of drift-free runs. RunFleet's codes.
absl::StatusOr<SweepScores> Sweep(const AuthoredModel& model,
                                  const LabeledImages& test,
                                  const FleetOptions& base,
                                  const std::vector<Drift>& drifts, int seeds);

// SweepTable runs Sweep and returns a Markdown table: per drift, detection in
// the onset window, mean windows to detection (1: in the onset window's
// reports), false alarms in the drifted runs (before onset and on the clean
// class), and false alarms over the drift-free runs.
absl::StatusOr<std::string> SweepTable(const AuthoredModel& model,
                                       const LabeledImages& test,
                                       const FleetOptions& base,
                                       const std::vector<Drift>& drifts,
                                       int seeds);

}  // namespace fedtiny::sim::telemetry

#endif  // FEDTINY_SIM_TELEMETRY_SWEEP_H_
