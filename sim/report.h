// Run outputs: a CSV of rounds, a JSON summary, and a self-contained HTML report
// (inline SVG, no scripts, no network) with the accuracy curve and participation.
#ifndef FEDTINY_SIM_REPORT_H_
#define FEDTINY_SIM_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sim/experiment.h"

namespace fedtiny::sim {

std::string RoundsCsv(const ExperimentResult& r);

// When a run first reached a test accuracy: the first evaluated round at or
// above `target`, its virtual time, and the uploads sent up to and including
// it (RoundRecord::uploads). round = -1 when never reached.
struct TargetReached {
  int round = -1;
  double virtual_time_s = -1;
  int64_t uploads = -1;
};
TargetReached TimeToTarget(const ExperimentResult& r, double target);

std::string SummaryJson(const ExperimentResult& r);
// `runs` share the report: one curve each (e.g. a method comparison).
std::string HtmlReport(const std::string& title, const std::vector<ExperimentResult>& runs);

// The modelled verification and decryption cost per device class
// (ExperimentResult::bundle_crypto), as CSV.
std::string BundleCryptoCsv(const ExperimentResult& r);
// One line per model variant: download size, body multiply-adds per example,
// test accuracy through its body with the final heads.
std::string VariantsCsv(const ExperimentResult& r);

// Writes rounds.csv, summary.json, bundle_crypto.csv and report.html into
// `dir` (created if needed), each atomically. kInternal naming the path on I/O errors.
absl::Status WriteRunFiles(const std::string& dir, const ExperimentResult& r);

// One live line per round, for the progress display.
std::string RoundLine(const RoundRecord& rec);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_REPORT_H_
