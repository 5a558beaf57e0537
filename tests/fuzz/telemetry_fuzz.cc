// Fuzzes the coordinator's telemetry path (coordinator/telemetry): an
// operator's TelemetrySpec (ValidateSpec), then anonymous reports checked
// against it (CheckReport), counted (Aggregates, in memory) and read back as the
// fleet view (BuildView: k-RR estimates, simplex projection, PSI, JSD, alerts).
//
// Input: [record: TelemetrySpec bytes][record: TelemetryReport bytes]...
// When the spec record does not validate, a fixed valid spec (two categorical
// probes with references, one binned latency probe) is used instead, so that
// reports keep reaching the checks behind it.
//
// Invariants: a validated spec validates again unchanged; an accepted report's
// values are one per known probe, each bin below its probe's bin count; Add
// never fails on accepted values (the window cap aside); the view counts every
// accepted report; every estimate is finite, in [0, 1] and sums to 1; raw
// estimates, bounds, PSI, JSD and quantiles are finite, PSI and JSD >= 0, JSD
// <= 1 (base 2); every alert is one of the documented states.
#include <cmath>
#include <cstdint>
#include <set>
#include <string>

#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry/drift.h"
#include "coordinator/telemetry/fleet_view.h"
#include "coordinator/telemetry/report_check.h"
#include "coordinator/telemetry/spec.h"
#include "proto/telemetry.pb.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace fedtiny::fuzz {
namespace {

namespace tpb = ::fedtiny::telemetry;
namespace ct = ::fedtiny::coordinator::telemetry;

constexpr int64_t kNow = 1'800'000'000;

tpb::TelemetrySpec FixedSpec() {
  tpb::TelemetrySpec s;
  s.set_version(3);
  s.set_window_s(3600);
  s.set_daily_epsilon(8);
  tpb::TelemetryProbe* p = s.add_probes();
  p->set_name("predicted_class");
  p->set_kind(tpb::PREDICTED_CLASS);
  p->mutable_binning()->set_categories(4);
  for (double r : {0.4, 0.3, 0.2, 0.1}) p->add_reference(r);
  p->set_epsilon(2);
  p = s.add_probes();
  p->set_name("act:3");
  p->set_kind(tpb::ACTIVATION);
  p->set_unit(3);
  for (double e : {-1.0, 0.0, 1.0}) p->mutable_binning()->add_edges(e);
  p->add_reference(0.5);
  p->add_reference(0.5);
  p->set_epsilon(1);
  p = s.add_probes();
  p->set_name("latency");
  p->set_kind(tpb::INFERENCE_LATENCY_US);
  for (double e : {0.0, 100.0, 1000.0, 10000.0}) p->mutable_binning()->add_edges(e);
  p->set_epsilon(1);
  return s;
}

bool Finite(double v) { return std::isfinite(v); }

void CheckView(const v1::TelemetryViewResponse& view, int64_t accepted) {
  static const std::set<std::string> kAlerts = {"", "stable", "moderate", "drift",
                                                "insufficient_data"};
  int64_t reports = 0;
  for (const v1::TelemetryGroup& g : view.groups()) {
    reports += g.reports();
    FUZZ_CHECK(kAlerts.count(g.alert())) << "group alert '" << g.alert() << "'";
    for (const v1::ProbeView& p : g.probes()) {
      FUZZ_CHECK(p.reports() <= g.reports());
      double sum = 0;
      for (double e : p.estimate()) {
        FUZZ_CHECK(Finite(e) && e >= -1e-12 && e <= 1 + 1e-12) << p.probe() << " estimate " << e;
        sum += e;
      }
      if (p.estimate_size() > 0) FUZZ_CHECK(std::fabs(sum - 1) < 1e-9) << "estimate sums to " << sum;
      for (double e : p.raw_estimate()) FUZZ_CHECK(Finite(e));
      FUZZ_CHECK(Finite(p.per_bin_bound_95()) && p.per_bin_bound_95() >= 0);
      FUZZ_CHECK(Finite(p.simultaneous_bound_95()) && p.simultaneous_bound_95() >= 0);
      FUZZ_CHECK(Finite(p.p50()) && Finite(p.p95()));
      FUZZ_CHECK(Finite(p.psi()) && p.psi() >= 0) << "psi " << p.psi();
      FUZZ_CHECK(Finite(p.jsd()) && p.jsd() >= 0 && p.jsd() <= 1 + 1e-9)  // Base 2.
          << "jsd " << p.jsd();
      FUZZ_CHECK(Finite(p.null_psi_99()));
      FUZZ_CHECK(kAlerts.count(p.alert())) << "probe alert '" << p.alert() << "'";
    }
  }
  FUZZ_CHECK(reports == accepted) << "the view counts " << reports << " of " << accepted;
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  tpb::TelemetrySpec parsed;
  tpb::TelemetrySpec spec = FixedSpec();
  const std::string spec_bytes = in.Record();
  if (parsed.ParseFromString(spec_bytes)) {
    absl::StatusOr<tpb::TelemetrySpec> valid = ct::ValidateSpec(parsed);
    if (valid.ok()) {
      absl::StatusOr<tpb::TelemetrySpec> again = ct::ValidateSpec(*valid);
      FUZZ_CHECK_OK(again) << "a validated spec does not validate again";
      FUZZ_CHECK(again->SerializeAsString() == valid->SerializeAsString())
          << "validation is not a fixed point";
      spec = *valid;
    }
  }
  absl::StatusOr<tpb::TelemetrySpec> fixed = ct::ValidateSpec(spec);
  FUZZ_CHECK_OK(fixed);
  spec = *fixed;
  absl::StatusOr<std::unique_ptr<ct::Aggregates>> agg = ct::Aggregates::Open({});
  FUZZ_CHECK_OK(agg);
  int64_t accepted = 0;
  for (int i = 0; i < 64 && !in.empty(); ++i) {
    tpb::TelemetryReport report;
    if (!report.ParseFromString(in.Record())) continue;
    report.set_task("t");
    absl::StatusOr<std::vector<ct::BinValue>> values = ct::CheckReport(report, spec, 5, kNow);
    if (!values.ok()) {
      FUZZ_CHECK(values.status().code() == absl::StatusCode::kInvalidArgument) << values.status();
      continue;
    }
    std::set<std::string> seen;
    for (const ct::BinValue& v : *values) {
      FUZZ_CHECK(seen.insert(v.probe).second) << "probe " << v.probe << " twice";
      FUZZ_CHECK(v.bin >= 0 && v.bin < v.bins) << v.probe << " bin " << v.bin << " of " << v.bins;
    }
    ct::CellKey key{"t", report.model_version(), report.device_class(), report.variant(),
                    report.window_start_unix_s()};
    absl::Status s = (*agg)->Add(key, *values, ct::OldestWindow(spec, kNow));
    FUZZ_CHECK_OK(s) << "an accepted report was not counted";
    ++accepted;
  }
  ct::NullPsiTable nulls;
  CheckView(ct::BuildView(spec, (*agg)->Snapshot("t"), 0, nulls), accepted);
  return 0;
}
