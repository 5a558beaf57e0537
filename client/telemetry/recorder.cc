#include "client/telemetry/recorder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fedtiny::client::telemetry {

using ::fedtiny::telemetry::ProbeKind;
using ::fedtiny::telemetry::TelemetrySpec;

absl::StatusOr<std::unique_ptr<Recorder>> Recorder::Create(
    RecorderOptions options, const ::fedtiny::Clock& clock, Randomness& rng) {
  if (options.ring_windows < 1 || options.ring_windows > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("ring_windows must be 1..64, not ", options.ring_windows));
  }
  if (!(options.cost.active_power_mw >= 0) || !(options.cost.nj_per_mac >= 0)) {
    return absl::InvalidArgumentError("the cost model's figures must be >= 0");
  }
  return std::unique_ptr<Recorder>(
      new Recorder(std::move(options), clock, rng));
}

Recorder::Recorder(RecorderOptions options, const ::fedtiny::Clock& clock,
                   Randomness& rng)
    : options_(std::move(options)), clock_(clock), rng_(rng) {
  ring_.resize(static_cast<size_t>(options_.ring_windows));
}

absl::Status Recorder::SetSpec(const TelemetrySpec& spec) {
  absl::Status valid = ValidateSpec(spec);
  if (!valid.ok()) return valid;
  FastMutexLock lock(&mu_);
  if (!spec_.has_value() || spec_->version() != spec.version() ||
      WindowSeconds(*spec_) != WindowSeconds(spec)) {
    open_ = Window{};
    for (Window& w : ring_) w = Window{};
  }
  spec_ = spec;
  window_s_ = WindowSeconds(spec);
  num_probes_ = spec.probes_size();
  for (int i = 0; i < num_probes_; ++i) {
    slots_[i] = ProbeSlot{spec.probes(i).kind(), spec.probes(i).unit()};
  }
  return absl::OkStatus();
}

std::optional<TelemetrySpec> Recorder::spec() const {
  FastMutexLock lock(&mu_);
  return spec_;
}

int64_t Recorder::WindowStart(absl::Time t) const {
  const int64_t s = absl::ToUnixSeconds(t);
  return s - ((s % window_s_) + window_s_) % window_s_;
}

Window& Recorder::CurrentAt(int64_t monotonic_us) {
  const int64_t since = monotonic_us - wall_read_monotonic_us_;
  if (monotonic_us >= 0 && open_.start_unix_s >= 0 && since >= 0 &&
      since < kWallRecheckUs &&
      wall_read_unix_s_ + 1 < open_.start_unix_s + window_s_) {
    return open_;  // Read the wall clock under a second ago, and the window
                   // goes on.
  }
  const absl::Time now = clock_.Now();
  if (monotonic_us >= 0) {
    wall_read_monotonic_us_ = monotonic_us;
    wall_read_unix_s_ = absl::ToUnixSeconds(now);
  }
  return Current(now);
}

Window& Recorder::Current(absl::Time now) {
  const int64_t start = WindowStart(now);
  // A clock gone back keeps the open window: no window is reopened.
  if (open_.start_unix_s >= start) return open_;
  CloseOpen();
  open_.start_unix_s = start;
  open_.spec_version = spec_->version();
  return open_;
}

void Recorder::CloseOpen() {
  if (open_.start_unix_s >= 0) {
    ring_[next_] = open_;
    next_ = (next_ + 1) % ring_.size();
  }
  open_ = Window{};
}

void Recorder::Offer(ProbeKind kind, double value, Window& w) {
  for (int i = 0; i < num_probes_; ++i) {
    if (slots_[i].kind == kind) w.probes[i].Offer(value, rng_);
  }
}

void Recorder::RecordInference(const Inference& in) {
  if (!enabled()) return;
  FastMutexLock lock(&mu_);
  if (!spec_.has_value()) return;
  Window& w = CurrentAt(in.end_monotonic_us);
  const double energy_uj =
      (options_.cost.active_power_mw * static_cast<double>(in.latency_us) +
       options_.cost.nj_per_mac * static_cast<double>(in.macs)) /
      1000.0;
  ++w.requests;
  w.rows += static_cast<int64_t>(in.classes.size());
  w.inference_us.Add(in.latency_us);
  w.energy_uj += energy_uj;
  w.peak_arena_bytes = std::max(w.peak_arena_bytes, in.arena_bytes);
  w.peak_stack_bytes = std::max(w.peak_stack_bytes, in.stack_bytes);
  const size_t rows = in.classes.size();
  for (int i = 0; i < num_probes_; ++i) {
    Reservoir& r = w.probes[i];
    switch (slots_[i].kind) {
      case fedtiny::telemetry::PREDICTED_CLASS:
        for (size_t row = 0; row < rows; ++row) r.Offer(in.classes[row], rng_);
        break;
      case fedtiny::telemetry::ACTIVATION: {
        const int64_t unit = slots_[i].unit;
        if (unit >= in.feature_dim ||
            in.features.size() < rows * in.feature_dim)
          break;
        for (size_t row = 0; row < rows; ++row) {
          r.Offer(in.features[row * in.feature_dim + unit], rng_);
        }
        break;
      }
      case fedtiny::telemetry::INFERENCE_LATENCY_US:
        r.Offer(static_cast<double>(in.latency_us), rng_);
        break;
      case fedtiny::telemetry::ENERGY_UJ:
        r.Offer(energy_uj, rng_);
        break;
      default:
        break;
    }
  }
}

void Recorder::RecordTrainingStep(int64_t latency_us) {
  if (!enabled()) return;
  FastMutexLock lock(&mu_);
  if (!spec_.has_value()) return;
  Window& w = Current(clock_.Now());
  ++w.training_steps;
  w.training_us.Add(latency_us);
  Offer(fedtiny::telemetry::TRAINING_LATENCY_US,
        static_cast<double>(latency_us), w);
}

void Recorder::RecordMemory(int64_t arena_bytes, int64_t stack_bytes) {
  if (!enabled()) return;
  FastMutexLock lock(&mu_);
  if (!spec_.has_value()) return;
  Window& w = Current(clock_.Now());
  w.peak_arena_bytes = std::max(w.peak_arena_bytes, arena_bytes);
  w.peak_stack_bytes = std::max(w.peak_stack_bytes, stack_bytes);
}

std::vector<Window> Recorder::ClosedUnexported() {
  FastMutexLock lock(&mu_);
  std::vector<Window> out;
  if (!spec_.has_value()) return out;
  // Closes an open window whose time is over, without opening the next: a
  // window exists only where something was recorded.
  if (open_.start_unix_s >= 0 && WindowStart(clock_.Now()) > open_.start_unix_s)
    CloseOpen();
  for (size_t i = 0; i < ring_.size(); ++i) {
    const Window& w = ring_[(next_ + i) % ring_.size()];
    if (w.start_unix_s >= 0 && !w.exported) out.push_back(w);
  }
  return out;
}

bool Recorder::MarkExported(int64_t start_unix_s) {
  FastMutexLock lock(&mu_);
  for (Window& w : ring_) {
    if (w.start_unix_s == start_unix_s && start_unix_s >= 0) {
      w.exported = true;
      return true;
    }
  }
  return false;
}

bool Recorder::HoldsUnexported(int64_t start_unix_s) const {
  FastMutexLock lock(&mu_);
  for (const Window& w : ring_) {
    if (w.start_unix_s == start_unix_s && start_unix_s >= 0) return !w.exported;
  }
  return false;
}

WindowSummary Recorder::Summarize(const Window& w, bool open) {
  WindowSummary s;
  s.start_unix_s = w.start_unix_s;
  s.open = open;
  s.exported = w.exported;
  s.requests = w.requests;
  s.rows = w.rows;
  s.training_steps = w.training_steps;
  s.inference_p50_us = w.inference_us.Quantile(0.5);
  s.inference_p95_us = w.inference_us.Quantile(0.95);
  s.training_p50_us = w.training_us.Quantile(0.5);
  s.training_p95_us = w.training_us.Quantile(0.95);
  s.peak_arena_bytes = w.peak_arena_bytes;
  s.peak_stack_bytes = w.peak_stack_bytes;
  s.energy_uj_per_inference = w.requests > 0 ? w.energy_uj / w.requests : 0;
  return s;
}

std::vector<WindowSummary> Recorder::Summaries() const {
  FastMutexLock lock(&mu_);
  std::vector<WindowSummary> out;
  for (size_t i = 0; i < ring_.size(); ++i) {
    const Window& w = ring_[(next_ + i) % ring_.size()];
    if (w.start_unix_s >= 0) out.push_back(Summarize(w, false));
  }
  if (open_.start_unix_s >= 0) out.push_back(Summarize(open_, true));
  return out;
}

void Recorder::Erase() {
  FastMutexLock lock(&mu_);
  open_ = Window{};
  for (Window& w : ring_) w = Window{};
  next_ = 0;
  wall_read_monotonic_us_ = -kWallRecheckUs;
}

}  // namespace fedtiny::client::telemetry
