#include "coordinator/telemetry/spec.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator::telemetry {
namespace {

using fedtiny::telemetry::TelemetryProbe;
using fedtiny::telemetry::TelemetrySpec;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

TelemetryProbe Latency(const std::string& name = "latency") {
  TelemetryProbe p;
  p.set_name(name);
  p.set_kind(fedtiny::telemetry::INFERENCE_LATENCY_US);
  for (double e : {0.0, 1000.0, 2000.0, 5000.0})
    p.mutable_binning()->add_edges(e);
  p.set_epsilon(1);
  return p;
}

TelemetryProbe Classes() {
  TelemetryProbe p;
  p.set_name("predicted:class");
  p.set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  p.mutable_binning()->set_categories(3);
  for (double r : {0.5, 0.3, 0.2}) p.add_reference(r);
  p.set_epsilon(2);
  return p;
}

TelemetrySpec Spec() {
  TelemetrySpec s;
  *s.add_probes() = Latency();
  *s.add_probes() = Classes();
  return s;
}

void ExpectRefused(const TelemetrySpec& s, const std::string& words) {
  EXPECT_THAT(ValidateSpec(s).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(words)));
}

TEST(SpecTest, AcceptsAndFillsDefaults) {
  absl::StatusOr<TelemetrySpec> s = ValidateSpec(Spec());
  ASSERT_THAT(s.status(), IsOk());
  EXPECT_EQ(s->window_s(), 86400);
  EXPECT_EQ(s->daily_epsilon(), 4.0);
  EXPECT_EQ(NumBins(s->probes(0)), 3);
  EXPECT_EQ(NumBins(s->probes(1)), 3);
}

TEST(SpecTest, RefusesBadNamesAndDuplicates) {
  TelemetrySpec s = Spec();
  s.mutable_probes(0)->set_name("Latency");
  ExpectRefused(s, "[a-z0-9_:.-]{1,64}");
  s.mutable_probes(0)->set_name(std::string(65, 'a'));
  ExpectRefused(s, "[a-z0-9_:.-]{1,64}");
  s.mutable_probes(0)->set_name("predicted:class");
  ExpectRefused(s, "appears twice");
}

TEST(SpecTest, RefusesTooManyProbes) {
  TelemetrySpec s;
  s.set_daily_epsilon(100);
  for (int i = 0; i < 33; ++i)
    *s.add_probes() = Latency("p" + std::to_string(i));
  ExpectRefused(s, "at most 32");
  s.mutable_probes()->RemoveLast();
  EXPECT_THAT(ValidateSpec(s).status(), IsOk());
}

TEST(SpecTest, RefusesBadBinnings) {
  TelemetrySpec s = Spec();
  s.mutable_probes(0)->mutable_binning()->set_edges(2, 500);
  ExpectRefused(s, "strictly increasing");
  s = Spec();
  s.mutable_probes(0)->mutable_binning()->set_edges(1, std::nan(""));
  ExpectRefused(s, "not finite");
  s = Spec();
  s.mutable_probes(0)->mutable_binning()->clear_edges();
  s.mutable_probes(0)->mutable_binning()->add_edges(1);
  s.mutable_probes(0)->mutable_binning()->add_edges(2);
  ExpectRefused(s, "2..64 bins");
  s = Spec();
  s.mutable_probes(1)->mutable_binning()->set_categories(65);
  ExpectRefused(s, "2..64 categories");
  s.mutable_probes(1)->mutable_binning()->set_categories(1);
  ExpectRefused(s, "2..64 categories");
  s = Spec();
  s.mutable_probes(1)->mutable_binning()->add_edges(1);
  ExpectRefused(s, "both edges and categories");
  s = Spec();
  s.mutable_probes(0)->clear_binning();
  for (int i = 0; i <= 64; ++i)
    s.mutable_probes(0)->mutable_binning()->add_edges(i);
  EXPECT_THAT(ValidateSpec(s).status(), IsOk());  // 64 bins.
  s.mutable_probes(0)->mutable_binning()->add_edges(65);
  ExpectRefused(s, "2..64 bins");
}

TEST(SpecTest, RefusesBadReferences) {
  TelemetrySpec s = Spec();
  s.mutable_probes(1)->clear_reference();
  ExpectRefused(s, "need a reference");
  s.mutable_probes(1)->set_kind(fedtiny::telemetry::ACTIVATION);
  ExpectRefused(s, "need a reference");
  s = Spec();
  s.mutable_probes(1)->add_reference(0);
  ExpectRefused(s, "4 values for 3 bins");
  s = Spec();
  s.mutable_probes(1)->set_reference(0, 0.5 + 2e-6);
  ExpectRefused(s, "not 1");
  s.mutable_probes(1)->set_reference(0, 0.5 + 5e-7);
  EXPECT_THAT(ValidateSpec(s).status(), IsOk());
  s = Spec();
  s.mutable_probes(1)->set_reference(0, 1.0);
  s.mutable_probes(1)->set_reference(1, -0.2);
  ExpectRefused(s, ">= 0");
}

TEST(SpecTest, RefusesBadEpsilons) {
  TelemetrySpec s = Spec();
  s.mutable_probes(0)->set_epsilon(0);
  ExpectRefused(s, "epsilon must be > 0");
  s.mutable_probes(0)->set_epsilon(std::numeric_limits<double>::infinity());
  ExpectRefused(s, "epsilon must be > 0");
  s = Spec();
  s.mutable_probes(0)->set_epsilon(2.5);  // 2.5 + 2 > 4.
  ExpectRefused(s, "over daily_epsilon");
  s.set_daily_epsilon(4.5);
  EXPECT_THAT(ValidateSpec(s).status(), IsOk());
  s.set_daily_epsilon(-1);
  ExpectRefused(s, "daily_epsilon must be > 0");
}

TEST(SpecTest, RefusesUnspecifiedKind) {
  TelemetrySpec s = Spec();
  s.mutable_probes(0)->set_kind(fedtiny::telemetry::PROBE_KIND_UNSPECIFIED);
  ExpectRefused(s, "kind");
}

}  // namespace
}  // namespace fedtiny::coordinator::telemetry
