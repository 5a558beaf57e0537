#include "coordinator/telemetry/fleet_view.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "coordinator/telemetry/krr.h"
#include "coordinator/telemetry/spec.h"

namespace fedtiny::coordinator::telemetry {

namespace {

using fedtiny::telemetry::TelemetryProbe;

struct Group {
  int64_t reports = 0;
  std::map<std::string, std::vector<int64_t>> probes;
};

int Severity(const std::string& alert) {
  if (alert == "drift") return 4;
  if (alert == "moderate") return 3;
  if (alert == "stable") return 2;
  if (alert == "insufficient_data") return 1;
  return 0;
}

v1::ProbeView DescribeProbe(const TelemetryProbe& probe,
                            const std::vector<int64_t>& counts,
                            NullPsiTable& nulls) {
  v1::ProbeView v;
  v.set_probe(probe.name());
  v.set_kind(
      absl::AsciiStrToLower(fedtiny::telemetry::ProbeKind_Name(probe.kind())));
  const FrequencyEstimate e = Estimate(counts, probe.epsilon());
  v.set_reports(e.n);
  v.mutable_estimate()->Add(e.projected.begin(), e.projected.end());
  v.mutable_raw_estimate()->Add(e.raw.begin(), e.raw.end());
  v.set_per_bin_bound_95(
      *std::max_element(e.per_bin_95.begin(), e.per_bin_95.end()));
  v.set_simultaneous_bound_95(e.simultaneous_95);
  const std::vector<double> edges(probe.binning().edges().begin(),
                                  probe.binning().edges().end());
  v.mutable_edges()->Add(edges.begin(), edges.end());
  if (!edges.empty() && e.n > 0) {
    v.set_p50(Quantile(e.projected, edges, 0.5));
    v.set_p95(Quantile(e.projected, edges, 0.95));
  }
  if (!probe.reference().empty()) {
    const std::vector<double> ref(probe.reference().begin(),
                                  probe.reference().end());
    const DriftVerdict d =
        Assess(e.projected, ref, probe.epsilon(), e.n, nulls);
    v.set_psi(d.psi);
    v.set_jsd(d.jsd);
    v.set_null_psi_99(d.null_psi_99);
    v.set_alert(DriftStateName(d.state));
    v.set_shift(d.shift);
  }
  return v;
}

}  // namespace

double Quantile(const std::vector<double>& frequencies,
                const std::vector<double>& edges, double prob) {
  double below = 0;
  for (size_t i = 0; i < frequencies.size(); ++i) {
    if (frequencies[i] > 0 && below + frequencies[i] >= prob) {
      const double t = std::clamp((prob - below) / frequencies[i], 0.0, 1.0);
      return edges[i] + t * (edges[i + 1] - edges[i]);
    }
    below += frequencies[i];
  }
  return edges.back();
}

v1::TelemetryViewResponse BuildView(
    const fedtiny::telemetry::TelemetrySpec& spec,
    const std::map<CellKey, CellCounts>& cells, int64_t window_start,
    NullPsiTable& nulls) {
  std::map<std::pair<int64_t, std::string>, Group> groups;
  for (const auto& [key, cell] : cells) {
    if (window_start != 0 && key.window_start != window_start) continue;
    Group& g = groups[{key.model_version, key.device_class}];
    g.reports += cell.reports;
    for (const auto& [probe, counts] : cell.probes) {
      std::vector<int64_t>& sum = g.probes[probe];
      if (sum.empty()) sum.assign(counts.size(), 0);
      if (sum.size() != counts.size())
        continue;  // Rebinned without a new version.
      for (size_t i = 0; i < counts.size(); ++i) sum[i] += counts[i];
    }
  }
  v1::TelemetryViewResponse out;
  out.set_spec_version(spec.version());
  for (const auto& [id, g] : groups) {
    v1::TelemetryGroup* group = out.add_groups();
    group->set_model_version(id.first);
    group->set_device_class(id.second);
    group->set_reports(g.reports);
    for (const TelemetryProbe& probe : spec.probes()) {
      auto it = g.probes.find(probe.name());
      if (it == g.probes.end() ||
          static_cast<int>(it->second.size()) != NumBins(probe))
        continue;
      *group->add_probes() = DescribeProbe(probe, it->second, nulls);
      if (group->probes().rbegin()->shift()) group->set_shift(true);
      if (Severity(group->probes().rbegin()->alert()) >
          Severity(group->alert())) {
        group->set_alert(group->probes().rbegin()->alert());
      }
    }
  }
  return out;
}

}  // namespace fedtiny::coordinator::telemetry
