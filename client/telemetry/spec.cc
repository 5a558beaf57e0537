#include "client/telemetry/spec.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::telemetry::Binning;
using ::fedtiny::telemetry::ProbeKind;
using ::fedtiny::telemetry::TelemetryProbe;
using ::fedtiny::telemetry::TelemetrySpec;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '.' || c == '-';
  });
}

absl::Status CheckBinning(const TelemetryProbe& p) {
  const Binning& b = p.binning();
  const bool categorical = p.kind() == fedtiny::telemetry::PREDICTED_CLASS;
  if (categorical != b.edges().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe ", p.name(), ": ",
                     categorical ? "PREDICTED_CLASS is categorical (no edges)"
                                 : "needs bin edges"));
  }
  for (int i = 0; i < b.edges_size(); ++i) {
    if (!std::isfinite(b.edges(i)) || (i > 0 && b.edges(i) <= b.edges(i - 1))) {
      return absl::InvalidArgumentError(
          absl::StrCat("probe ", p.name(),
                       ": edges must be finite and strictly increasing"));
    }
  }
  const int k = NumBins(b);
  if (k < 2 || k > kMaxBins) {
    return absl::InvalidArgumentError(absl::StrCat(
        "probe ", p.name(), ": ", k, " bins; 2 to ", kMaxBins, " allowed"));
  }
  return absl::OkStatus();
}

absl::Status CheckReference(const TelemetryProbe& p) {
  if (p.reference().empty()) return absl::OkStatus();
  double sum = 0;
  for (double f : p.reference()) {
    if (!(f >= 0 && f <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "probe ", p.name(), ": reference frequencies must be in [0, 1]"));
    }
    sum += f;
  }
  if (p.reference_size() != NumBins(p.binning()) || std::abs(sum - 1) > 1e-6) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe ", p.name(),
                     ": the reference needs one frequency per bin, sum 1"));
  }
  return absl::OkStatus();
}

absl::Status CheckProbe(const TelemetryProbe& p) {
  if (!ValidName(p.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe name '", p.name(), "' is not valid"));
  }
  if (p.kind() < fedtiny::telemetry::PREDICTED_CLASS ||
      p.kind() > fedtiny::telemetry::REQUESTS) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe ", p.name(), ": unknown kind"));
  }
  if (!(p.epsilon() > 0) || !std::isfinite(p.epsilon())) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe ", p.name(), ": epsilon must be > 0"));
  }
  absl::Status s = CheckBinning(p);
  if (!s.ok()) return s;
  return CheckReference(p);
}

}  // namespace

absl::Status ValidateSpec(const TelemetrySpec& spec) {
  if (spec.probes().empty() || spec.probes_size() > kMaxProbes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a spec has 1 to ", kMaxProbes, " probes, not ", spec.probes_size()));
  }
  if (spec.window_s() < 0 || !(spec.daily_epsilon() >= 0) ||
      !std::isfinite(spec.daily_epsilon())) {
    return absl::InvalidArgumentError(
        "window_s and daily_epsilon must be >= 0");
  }
  std::set<std::string> names;
  for (const TelemetryProbe& p : spec.probes()) {
    absl::Status s = CheckProbe(p);
    if (!s.ok()) return s;
    if (!names.insert(p.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("probe name ", p.name(), " repeats"));
    }
  }
  return absl::OkStatus();
}

int NumBins(const Binning& binning) {
  if (!binning.edges().empty()) return binning.edges_size() - 1;
  return static_cast<int>(std::min<uint32_t>(binning.categories(), 1 << 20));
}

uint32_t BinOf(const Binning& binning, double value) {
  const int k = NumBins(binning);
  if (k < 1 || std::isnan(value)) return 0;
  if (binning.edges().empty()) {
    if (value < 0) return 0;
    return static_cast<uint32_t>(std::min<double>(value, k - 1));
  }
  // The first edge above the value, among edges[1..k-1]: bin = its index - 1.
  const auto begin = binning.edges().begin() + 1,
             end = binning.edges().begin() + k;
  return static_cast<uint32_t>(std::upper_bound(begin, end, value) - begin);
}

int64_t WindowSeconds(const TelemetrySpec& spec) {
  return spec.window_s() > 0 ? spec.window_s() : kDefaultWindowSeconds;
}

double DailyEpsilon(const TelemetrySpec& spec) {
  return spec.daily_epsilon() > 0 ? spec.daily_epsilon() : kDefaultDailyEpsilon;
}

}  // namespace fedtiny::client::telemetry
