#include "coordinator/telemetry/spec.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::telemetry {

namespace {

using fedtiny::telemetry::ProbeKind;
using fedtiny::telemetry::TelemetryProbe;
using fedtiny::telemetry::TelemetrySpec;

bool ValidProbeName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '.' || c == '-';
  });
}

absl::Status Bad(const std::string& probe, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("telemetry: probe '", probe, "': ", what));
}

absl::Status CheckBinning(const TelemetryProbe& p) {
  const auto& b = p.binning();
  if (!b.edges().empty() && b.categories() != 0) {
    return Bad(p.name(), "binning has both edges and categories");
  }
  if (b.edges().empty()) {
    if (b.categories() < kMinBins || b.categories() > kMaxBins) {
      return Bad(
          p.name(),
          absl::StrCat("binning needs 2..64 categories or 3..65 edges (has ",
                       b.categories(), " categories)"));
    }
    return absl::OkStatus();
  }
  if (b.edges_size() - 1 < kMinBins || b.edges_size() - 1 > kMaxBins) {
    return Bad(p.name(), absl::StrCat("binning has ", b.edges_size(),
                                      " edges: need 3..65 (2..64 bins)"));
  }
  for (int i = 0; i < b.edges_size(); ++i) {
    if (!std::isfinite(b.edges(i)))
      return Bad(p.name(), absl::StrCat("edge ", i, " is not finite"));
    if (i > 0 && !(b.edges(i) > b.edges(i - 1))) {
      return Bad(
          p.name(),
          absl::StrCat("edges must be strictly increasing (edge ", i, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckReference(const TelemetryProbe& p) {
  const bool needs = p.kind() == fedtiny::telemetry::PREDICTED_CLASS ||
                     p.kind() == fedtiny::telemetry::ACTIVATION;
  if (p.reference().empty()) {
    return needs ? Bad(p.name(),
                       "PREDICTED_CLASS and ACTIVATION probes need a reference")
                 : absl::OkStatus();
  }
  const int k = NumBins(p);
  if (p.reference_size() != k) {
    return Bad(p.name(), absl::StrCat("reference has ", p.reference_size(),
                                      " values for ", k, " bins"));
  }
  double sum = 0;
  for (int i = 0; i < k; ++i) {
    if (!std::isfinite(p.reference(i)) || p.reference(i) < 0) {
      return Bad(p.name(),
                 absl::StrCat("reference[", i, "] must be finite and >= 0"));
    }
    sum += p.reference(i);
  }
  if (std::abs(sum - 1.0) > kReferenceSumTolerance) {
    return Bad(p.name(), absl::StrCat("reference sums to ", sum,
                                      ", not 1 (within 1e-6)"));
  }
  return absl::OkStatus();
}

absl::Status CheckProbe(const TelemetryProbe& p) {
  if (!ValidProbeName(p.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry: probe name '", p.name().substr(0, 64),
                     "' must match [a-z0-9_:.-]{1,64}"));
  }
  if (p.kind() == fedtiny::telemetry::PROBE_KIND_UNSPECIFIED ||
      !ProbeKind_IsValid(p.kind())) {
    return Bad(p.name(), "kind is unspecified or unknown");
  }
  RETURN_IF_ERROR(CheckBinning(p));
  RETURN_IF_ERROR(CheckReference(p));
  if (!std::isfinite(p.epsilon()) || !(p.epsilon() > 0)) {
    return Bad(p.name(), "epsilon must be > 0 and finite");
  }
  return absl::OkStatus();
}

}  // namespace

int NumBins(const TelemetryProbe& probe) {
  const auto& b = probe.binning();
  return b.edges().empty() ? static_cast<int>(b.categories())
                           : b.edges_size() - 1;
}

absl::StatusOr<TelemetrySpec> ValidateSpec(TelemetrySpec spec) {
  if (spec.window_s() == 0) spec.set_window_s(kDefaultWindowS);
  if (spec.daily_epsilon() == 0) spec.set_daily_epsilon(kDefaultDailyEpsilon);
  if (spec.window_s() < 60 || spec.window_s() > 366 * kDefaultWindowS) {
    return absl::InvalidArgumentError(
        "telemetry: window_s must be in [60, 366 days]");
  }
  if (!std::isfinite(spec.daily_epsilon()) || !(spec.daily_epsilon() > 0)) {
    return absl::InvalidArgumentError(
        "telemetry: daily_epsilon must be > 0 and finite");
  }
  if (spec.probes_size() > kMaxProbes) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry: ", spec.probes_size(), " probes; at most 32"));
  }
  std::set<std::string> names;
  double total_epsilon = 0;
  for (const TelemetryProbe& p : spec.probes()) {
    RETURN_IF_ERROR(CheckProbe(p));
    if (!names.insert(p.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("telemetry: probe name '", p.name(), "' appears twice"));
    }
    total_epsilon += p.epsilon();
  }
  if (total_epsilon > spec.daily_epsilon() * (1 + 1e-12)) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry: the probes' epsilons sum to ", total_epsilon,
                     ", over daily_epsilon ", spec.daily_epsilon(),
                     " (one report spends their sum)"));
  }
  return spec;
}

}  // namespace fedtiny::coordinator::telemetry
