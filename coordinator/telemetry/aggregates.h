// Counts of k-RR reports per (task, model version, device class, variant,
// window) and probe: what the Telemetry service accumulates and the fleet
// view reads. Durable: every accepted report is in <path> (rewritten with
// WriteFileAtomically, its payload guarded by a SHA-256) before Add returns,
// so a crash or torn write loses no report whose Upload succeeded.
#ifndef FEDTINY_COORDINATOR_TELEMETRY_AGGREGATES_H_
#define FEDTINY_COORDINATOR_TELEMETRY_AGGREGATES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace fedtiny::coordinator::telemetry {

struct CellKey {
  std::string task;
  int64_t model_version = 0;
  std::string device_class;
  std::string variant;
  int64_t window_start = 0;
  bool operator<(const CellKey& o) const {
    return std::tie(task, model_version, device_class, variant, window_start) <
           std::tie(o.task, o.model_version, o.device_class, o.variant,
                    o.window_start);
  }
};

struct CellCounts {
  int64_t reports = 0;
  std::map<std::string, std::vector<int64_t>>
      probes;  // Probe -> count per bin.
};

// One reported value, validated by the caller: `bin` < `bins`.
struct BinValue {
  std::string probe;
  int bin = 0;
  int bins = 0;
};

// Thread-safe; Add serializes on one lock and blocks on the disk write.
class Aggregates {
 public:
  struct Options {
    std::string path;  // "": in memory only (tests).
    // A task's reports per window, over every cell: more are refused.
    int64_t max_reports_per_window = 1'000'000;
  };

  // Open loads `options.path` if present. kDataLoss when it fails its check.
  static absl::StatusOr<std::unique_ptr<Aggregates>> Open(Options options);

  // Add counts one report in `key`'s cell and drops the task's cells of
  // windows before `drop_before`. kResourceExhausted when the task's window is
  // full; kInvalidArgument when a probe's bin count differs from the stored
  // one (the spec changed its binning without a new spec version); kInternal
  // when the file cannot be written (nothing is then counted).
  absl::Status Add(const CellKey& key, const std::vector<BinValue>& values,
                   int64_t drop_before) ABSL_LOCKS_EXCLUDED(mu_);

  // DropTask removes every cell of `task` (a deleted task), durably.
  // kInternal when the file cannot be written (nothing is then dropped).
  absl::Status DropTask(const std::string& task) ABSL_LOCKS_EXCLUDED(mu_);

  // The cells of `task` (every task when empty).
  std::map<CellKey, CellCounts> Snapshot(const std::string& task) const
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit Aggregates(Options options) : options_(std::move(options)) {}
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Persist() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<CellKey, CellCounts> cells_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator::telemetry

#endif  // FEDTINY_COORDINATOR_TELEMETRY_AGGREGATES_H_
