#include "coordinator/telemetry/fleet_view.h"

#include <cmath>

#include "coordinator/telemetry/krr_encoder_for_test.h"
#include "gtest/gtest.h"

namespace fedtiny::coordinator::telemetry {
namespace {

TEST(QuantileTest, LinearWithinABin) {
  const std::vector<double> edges = {0, 10, 20, 40};
  // Half the mass in [0, 10), a quarter in each other bin.
  EXPECT_NEAR(Quantile({0.5, 0.25, 0.25}, edges, 0.5), 10.0, 1e-12);
  EXPECT_NEAR(Quantile({0.5, 0.25, 0.25}, edges, 0.25), 5.0, 1e-12);
  EXPECT_NEAR(Quantile({0.5, 0.25, 0.25}, edges, 0.95), 20 + 0.8 * 20, 1e-12);
  EXPECT_NEAR(Quantile({0, 0, 1}, edges, 0.5), 30.0, 1e-12);
}

fedtiny::telemetry::TelemetrySpec Spec() {
  fedtiny::telemetry::TelemetrySpec s;
  s.set_version(2);
  auto* cls = s.add_probes();
  cls->set_name("cls");
  cls->set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  cls->mutable_binning()->set_categories(4);
  for (double r : {0.5, 0.3, 0.15, 0.05}) cls->add_reference(r);
  cls->set_epsilon(2);
  auto* lat = s.add_probes();
  lat->set_name("lat");
  lat->set_kind(fedtiny::telemetry::INFERENCE_LATENCY_US);
  for (double e : {0.0, 1000.0, 2000.0, 4000.0})
    lat->mutable_binning()->add_edges(e);
  lat->set_epsilon(2);
  return s;
}

// Two classes of 3,000 reports each, over two variants and two windows; the
// second class has 20% of its devices predicting the rare class.
TEST(FleetViewTest, FlagsTheDriftedClassOnly) {
  TestKrrEncoder enc(7);
  std::map<CellKey, CellCounts> cells;
  const std::vector<double> ref = {0.5, 0.3, 0.15, 0.05}, lat = {0.1, 0.6, 0.3};
  for (const std::string device_class : {"m4", "m7"}) {
    for (int half = 0; half < 2; ++half) {
      CellCounts& c = cells[CellKey{
          "t", 5, device_class, half ? "int8" : "float32", 86400 * (1 + half)}];
      c.reports = 1500;
      c.probes["cls"] = enc.Counts(ref, device_class == "m7" ? 1200 : 1500, 2);
      if (device_class == "m7") {
        const auto moved = enc.Counts({0, 0, 0, 1}, 300, 2);
        for (int i = 0; i < 4; ++i) c.probes["cls"][i] += moved[i];
      }
      c.probes["lat"] = enc.FleetCounts(lat, 1500, 2);
      c.probes["gone"] = {1, 2};
    }
  }
  NullPsiTable nulls;
  const v1::TelemetryViewResponse v = BuildView(Spec(), cells, 0, nulls);
  EXPECT_EQ(v.spec_version(), 2u);
  ASSERT_EQ(v.groups_size(), 2);
  EXPECT_EQ(v.groups(0).device_class(), "m4");
  EXPECT_EQ(v.groups(0).reports(), 3000);
  EXPECT_EQ(v.groups(0).alert(), "stable");
  EXPECT_EQ(v.groups(1).alert(), "drift");
  ASSERT_EQ(v.groups(1).probes_size(), 2);  // "gone" is not in the spec.
  const v1::ProbeView& p = v.groups(1).probes(0);
  EXPECT_EQ(p.reports(), 3000);
  EXPECT_GT(p.psi(), 0.25);
  EXPECT_GT(p.psi(), p.null_psi_99());
  // The true histogram's median is 1000 + (0.4 / 0.6) * 1000, its p95 2000 +
  // (0.25 / 0.3) * 2000; the estimate is within the simultaneous bound of it.
  const v1::ProbeView& l = v.groups(0).probes(1);
  EXPECT_EQ(l.kind(), "inference_latency_us");
  EXPECT_EQ(l.alert(), "");
  EXPECT_NEAR(l.p50(), 1000 + 1000 * 0.4 / 0.6,
              1000 * l.simultaneous_bound_95() / 0.6 + 1);
  EXPECT_NEAR(l.p95(), 2000 + 2000 * 0.25 / 0.3,
              2000 * 2 * l.simultaneous_bound_95() / 0.3 + 1);
  // One window only: half the reports, fewer than... still a verdict.
  const v1::TelemetryViewResponse one = BuildView(Spec(), cells, 86400, nulls);
  EXPECT_EQ(one.groups(0).reports(), 1500);
}

TEST(FleetViewTest, FewReportsAreInsufficientData) {
  std::map<CellKey, CellCounts> cells;
  CellCounts& c = cells[CellKey{"t", 1, "m4", "int8", 86400}];
  c.reports = 10;
  c.probes["cls"] = {0, 0, 0, 10};
  NullPsiTable nulls;
  const v1::TelemetryViewResponse v = BuildView(Spec(), cells, 0, nulls);
  ASSERT_EQ(v.groups_size(), 1);
  EXPECT_EQ(v.groups(0).alert(), "insufficient_data");
  EXPECT_GT(v.groups(0).probes(0).psi(), 0.25);
}

}  // namespace
}  // namespace fedtiny::coordinator::telemetry
