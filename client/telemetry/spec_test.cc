#include "client/telemetry/spec.h"

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::telemetry::Binning;
using ::fedtiny::telemetry::TelemetrySpec;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

Binning Edges(std::initializer_list<double> e) {
  Binning b;
  for (double v : e) b.add_edges(v);
  return b;
}

TEST(SpecTest, BinOfFollowsTheProtosRule) {
  const Binning b = Edges({0, 10, 100, 1000});  // k = 3.
  EXPECT_EQ(NumBins(b), 3);
  EXPECT_EQ(BinOf(b, -5), 0u);  // Below edges[0]: bin 0.
  EXPECT_EQ(BinOf(b, 0), 0u);
  EXPECT_EQ(BinOf(b, 9.99), 0u);
  EXPECT_EQ(BinOf(b, 10), 1u);  // [10, 100).
  EXPECT_EQ(BinOf(b, 99), 1u);
  EXPECT_EQ(BinOf(b, 100), 2u);
  EXPECT_EQ(BinOf(b, 1000), 2u);  // At or above the last edge: k - 1.
  EXPECT_EQ(BinOf(b, 1e9), 2u);
  Binning c;
  c.set_categories(10);
  EXPECT_EQ(NumBins(c), 10);
  EXPECT_EQ(BinOf(c, 7), 7u);
  EXPECT_EQ(BinOf(c, 12), 9u);
  EXPECT_EQ(BinOf(c, -1), 0u);
}

TelemetrySpec Valid() {
  TelemetrySpec s;
  s.set_version(1);
  auto* p = s.add_probes();
  p->set_name("class");
  p->set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  p->mutable_binning()->set_categories(3);
  p->add_reference(0.5);
  p->add_reference(0.25);
  p->add_reference(0.25);
  p->set_epsilon(1);
  auto* q = s.add_probes();
  q->set_name("lat_us");
  q->set_kind(fedtiny::telemetry::INFERENCE_LATENCY_US);
  *q->mutable_binning() = Edges({0, 10, 100});
  q->set_epsilon(0.5);
  return s;
}

TEST(SpecTest, ValidateSpecRefusesWhatTheProtoForbids) {
  EXPECT_THAT(ValidateSpec(Valid()), IsOk());
  EXPECT_EQ(WindowSeconds(Valid()), 86400);
  EXPECT_EQ(DailyEpsilon(Valid()), 4.0);
  const auto bad = [](auto mutate) {
    TelemetrySpec s = Valid();
    mutate(s);
    return ValidateSpec(s);
  };
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(bad([](TelemetrySpec& s) { s.clear_probes(); }),
              StatusIs(kInvalid));
  EXPECT_THAT(
      bad([](TelemetrySpec& s) { s.mutable_probes(0)->set_name("Bad Name"); }),
      StatusIs(kInvalid));
  EXPECT_THAT(
      bad([](TelemetrySpec& s) { s.mutable_probes(1)->set_name("class"); }),
      StatusIs(kInvalid));
  EXPECT_THAT(
      bad([](TelemetrySpec& s) { s.mutable_probes(0)->set_epsilon(0); }),
      StatusIs(kInvalid));
  EXPECT_THAT(
      bad([](TelemetrySpec& s) { s.mutable_probes(0)->set_reference(0, 0.6); }),
      StatusIs(kInvalid));
  EXPECT_THAT(bad([](TelemetrySpec& s) {
                s.mutable_probes(1)->mutable_binning()->set_edges(1, -1);
              }),
              StatusIs(kInvalid));
  EXPECT_THAT(bad([](TelemetrySpec& s) {
                s.mutable_probes(0)->mutable_binning()->set_categories(65);
              }),
              StatusIs(kInvalid));
  EXPECT_THAT(bad([](TelemetrySpec& s) {
                s.mutable_probes(0)->set_kind(
                    fedtiny::telemetry::PROBE_KIND_UNSPECIFIED);
              }),
              StatusIs(kInvalid));
  EXPECT_THAT(bad([](TelemetrySpec& s) {
                for (int i = 0; i < 31; ++i) *s.add_probes() = s.probes(1);
                for (int i = 0; i < s.probes_size(); ++i)
                  s.mutable_probes(i)->set_name("p" + std::to_string(i));
              }),
              StatusIs(kInvalid));  // 33 probes.
}

}  // namespace
}  // namespace fedtiny::client::telemetry
