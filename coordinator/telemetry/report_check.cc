#include "coordinator/telemetry/report_check.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "coordinator/telemetry/spec.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::telemetry {

namespace {

using fedtiny::telemetry::TelemetryProbe;
using fedtiny::telemetry::TelemetryReport;
using fedtiny::telemetry::TelemetrySpec;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("telemetry report: ", what));
}

bool ValidClass(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '_' || c == '.' || c == ':' ||
                  c == '-';
         });
}

// Names in messages are cut and made printable: reports are anonymous input.
std::string Quote(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += absl::ascii_isprint(c) ? c : '?';
  return absl::StrCat("'", out, "'");
}

absl::Status CheckHeader(const TelemetryReport& r, const TelemetrySpec& spec,
                         int64_t newest_version, int64_t now_s) {
  if (r.model_version() < 0 || r.model_version() > newest_version) {
    return Bad(absl::StrCat("model_version ", r.model_version(),
                            " is not one of the task's (0..", newest_version,
                            ")"));
  }
  // "float32", "int8" or a task's body variant (admin.proto's names).
  const bool variant_ok =
      !r.variant().empty() && r.variant().size() <= 15 &&
      std::all_of(r.variant().begin(), r.variant().end(), [](char ch) {
        return absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '_' || ch == '-';
      });
  if (!variant_ok) {
    return Bad(absl::StrCat("variant ", Quote(r.variant()),
                            " is not a variant name (1-15 of [a-z0-9_-])"));
  }
  if (!ValidClass(r.device_class())) {
    return Bad(absl::StrCat("device_class ", Quote(r.device_class()),
                            " must match [A-Za-z0-9_.:-]{1,64}"));
  }
  if (r.spec_version() != spec.version()) {
    return Bad(absl::StrCat("spec_version ", r.spec_version(),
                            " is not the task's current ", spec.version(),
                            " (fetch the spec again)"));
  }
  const int64_t w = r.window_start_unix_s();
  if (w % spec.window_s() != 0) {
    return Bad(absl::StrCat("window_start_unix_s ", w,
                            " is not a multiple of window_s ",
                            spec.window_s()));
  }
  if (w > now_s)
    return Bad(absl::StrCat("window_start_unix_s ", w, " is in the future"));
  if (w < OldestWindow(spec, now_s)) {
    return Bad(absl::StrCat("window_start_unix_s ", w, " is older than ",
                            kMaxWindowAge, " windows"));
  }
  if (r.consent_version().size() > 64)
    return Bad("consent_version is over 64 bytes");
  return absl::OkStatus();
}

}  // namespace

int64_t OldestWindow(const TelemetrySpec& spec, int64_t now_s) {
  const int64_t current =
      now_s - ((now_s % spec.window_s()) + spec.window_s()) % spec.window_s();
  return current - kMaxWindowAge * spec.window_s();
}

absl::StatusOr<std::vector<BinValue>> CheckReport(const TelemetryReport& r,
                                                  const TelemetrySpec& spec,
                                                  int64_t newest_version,
                                                  int64_t now_s) {
  RETURN_IF_ERROR(CheckHeader(r, spec, newest_version, now_s));
  if (r.values().empty()) return Bad("no values");
  if (r.values_size() > spec.probes_size()) {
    return Bad(absl::StrCat(r.values_size(), " values for ", spec.probes_size(),
                            " probes"));
  }
  std::vector<BinValue> out;
  std::set<std::string> seen;
  for (const auto& v : r.values()) {
    const auto probe = std::find_if(
        spec.probes().begin(), spec.probes().end(),
        [&](const TelemetryProbe& p) { return p.name() == v.probe(); });
    if (probe == spec.probes().end()) {
      return Bad(absl::StrCat("unknown probe ", Quote(v.probe())));
    }
    if (!seen.insert(v.probe()).second) {
      return Bad(
          absl::StrCat("probe ", Quote(v.probe()), " has more than one value"));
    }
    const int k = NumBins(*probe);
    if (v.bin() >= static_cast<uint32_t>(k)) {
      return Bad(absl::StrCat("probe ", Quote(v.probe()), ": bin ", v.bin(),
                              " is not below k = ", k));
    }
    // Doubles travel exactly; a tiny tolerance forgives a device's own
    // arithmetic.
    if (!(std::abs(v.epsilon() - probe->epsilon()) <=
          1e-9 * probe->epsilon())) {
      return Bad(absl::StrCat("probe ", Quote(v.probe()), ": epsilon ",
                              v.epsilon(), " is not the spec's ",
                              probe->epsilon()));
    }
    out.push_back(BinValue{v.probe(), static_cast<int>(v.bin()), k});
  }
  return out;
}

}  // namespace fedtiny::coordinator::telemetry
