// The on-device telemetry recorder (issue #15, docs/observability.md): per
// reporting window of the spec (window_s seconds, aligned to the Unix epoch,
// so a day's window is a UTC day), the statistics of window.h for the spec's
// probes. Storage is bounded: the open window and a ring of the last
// `ring_windows` closed ones, allocated at construction; the oldest is
// overwritten. Nothing is persisted: a restart loses the windows (never
// the privacy budget, budget.h).
//
// Recording is off until consent turns it on (consent.h calls set_enabled);
// while off every Record call returns at once and keeps nothing.
//
// Energy per inference, from the app's per-device-class cost model:
//   energy_uj = active_power_mw * latency_us / 1000 + nj_per_mac * macs / 1000
// (mW x us = nJ): the first term is the processor's active power over the
// call's wall time, the second the arithmetic, for a device class whose MAC
// cost is known (e.g. a Cortex-M4 datasheet's nJ per cycle x cycles per MAC).
//
// Thread-safe: Record calls may come from several threads (one mutex,
// uncontended in the common case of one inference thread). Borrows the clock
// and the randomness, which must outlive it.
#ifndef FEDTINY_CLIENT_TELEMETRY_RECORDER_H_
#define FEDTINY_CLIENT_TELEMETRY_RECORDER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/core/span.h"
#include "client/telemetry/fast_mutex.h"
#include "client/telemetry/randomness.h"
#include "client/telemetry/window.h"
#include "proto/telemetry.pb.h"
#include "tools/base/clock.h"

namespace fedtiny::client::telemetry {

// The app's energy model for this device's class (see above).
struct CostModel {
  std::string device_class;  // Reported as is: a class, never a model number.
  double active_power_mw = 0;
  double nj_per_mac = 0;
};

struct RecorderOptions {
  int ring_windows = 8;  // Closed windows kept, 1..64.
  CostModel cost;
};

// One Predict call, as recording_predictor.h hands it over.
struct Inference {
  int64_t latency_us = 0;
  Span<const int32_t> classes;  // One per row.
  Span<const float> features;   // rows x feature_dim body outputs, or empty.
  int64_t feature_dim = 0;
  int64_t macs = 0;         // Multiply-adds of the call (all rows).
  int64_t arena_bytes = 0;  // The predictor's arena (0: unknown).
  int64_t stack_bytes = 0;  // The app's stack bound or measure (0: unknown).
  // When the call ended (the platform's monotonic Clock), or -1: unknown.
  int64_t end_monotonic_us = -1;
};

// What the app and the user can view of one window.
struct WindowSummary {
  int64_t start_unix_s = 0;
  bool open = false;      // Still recording.
  bool exported = false;  // Its report left the device.
  int64_t requests = 0, rows = 0, training_steps = 0;
  double inference_p50_us = 0, inference_p95_us = 0;
  double training_p50_us = 0, training_p95_us = 0;
  int64_t peak_arena_bytes = 0, peak_stack_bytes = 0;
  double energy_uj_per_inference = 0;
};

class Recorder {
 public:
  // kInvalidArgument for ring_windows outside 1..64 or a negative cost.
  static absl::StatusOr<std::unique_ptr<Recorder>> Create(
      RecorderOptions options, const ::fedtiny::Clock& clock, Randomness& rng);

  // SetSpec validates (spec.h) and installs the probes. A spec of another
  // version erases the windows recorded under the old one (their reports
  // could not be checked against the new probes). kInvalidArgument for a bad
  // spec (nothing changes).
  absl::Status SetSpec(const fedtiny::telemetry::TelemetrySpec& spec);
  [[nodiscard]] std::optional<fedtiny::telemetry::TelemetrySpec> spec() const;

  void set_enabled(bool enabled) {
    enabled_.store(enabled, std::memory_order_relaxed);
  }
  [[nodiscard]] bool enabled() const {
    return enabled_.load(std::memory_order_relaxed);
  }

  // RecordInference records one Predict call into the window of now. Does
  // nothing while disabled or without a spec. Allocates nothing.
  void RecordInference(const Inference& inference);
  // RecordTrainingStep records one training step's wall time.
  void RecordTrainingStep(int64_t latency_us);
  // RecordMemory raises the window's peak arena and stack bytes.
  void RecordMemory(int64_t arena_bytes, int64_t stack_bytes);

  // ClosedUnexported copies the closed windows not yet exported, oldest
  // first, after closing the open one if its time is over. Allocates.
  [[nodiscard]] std::vector<Window> ClosedUnexported();
  // MarkExported marks the closed window starting at `start_unix_s`
  // exported (false if it is gone: erased or overwritten).
  bool MarkExported(int64_t start_unix_s);
  // HoldsUnexported says whether the closed window starting at
  // `start_unix_s` is still held and not exported.
  [[nodiscard]] bool HoldsUnexported(int64_t start_unix_s) const;
  // Summaries returns every held window, oldest first, the open one last.
  [[nodiscard]] std::vector<WindowSummary> Summaries() const;
  // Erase forgets every window (delete-with-data).
  void Erase();

  [[nodiscard]] const CostModel& cost() const { return options_.cost; }
  // Bytes the windows occupy (fixed at creation).
  [[nodiscard]] size_t storage_bytes() const {
    return sizeof(Window) * (ring_.size() + 1);
  }

 private:
  Recorder(RecorderOptions options, const ::fedtiny::Clock& clock,
           Randomness& rng);
  // The open window for `now`, after closing the previous one into the ring.
  Window& Current(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The same for a call that ended at `monotonic_us` (-1: unknown), reading
  // the wall clock at most once a second of monotonic time while the open
  // window lasts (the wall clock is a third of RecordInference's cost). A
  // window that ends while the device sleeps (the monotonic clock stops) is
  // closed at most one second of activity late.
  Window& CurrentAt(int64_t monotonic_us) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the open window (if any) into the ring, leaving none open.
  void CloseOpen() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t WindowStart(absl::Time t) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Offer(fedtiny::telemetry::ProbeKind kind, double value, Window& w)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static WindowSummary Summarize(const Window& w, bool open);

  const RecorderOptions options_;
  const ::fedtiny::Clock& clock_;
  std::atomic<bool> enabled_{false};

  mutable FastMutex mu_;
  Randomness& rng_ ABSL_GUARDED_BY(mu_);
  std::optional<fedtiny::telemetry::TelemetrySpec> spec_ ABSL_GUARDED_BY(mu_);
  int64_t window_s_ ABSL_GUARDED_BY(mu_) = 86400;
  int num_probes_ ABSL_GUARDED_BY(mu_) = 0;
  std::array<ProbeSlot, kMaxProbes> slots_ ABSL_GUARDED_BY(mu_);
  Window open_ ABSL_GUARDED_BY(mu_);
  std::vector<Window> ring_
      ABSL_GUARDED_BY(mu_);  // Sized once; slot next_ is the oldest.
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  static constexpr int64_t kWallRecheckUs = 1'000'000;
  int64_t wall_read_monotonic_us_ ABSL_GUARDED_BY(mu_) = -kWallRecheckUs;
  int64_t wall_read_unix_s_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fedtiny::client::telemetry

#endif  // FEDTINY_CLIENT_TELEMETRY_RECORDER_H_
