#include "coordinator/telemetry/report_check.h"

#include <string>

#include "coordinator/telemetry/spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator::telemetry {
namespace {

using fedtiny::telemetry::TelemetryReport;
using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kDay = 86400;
constexpr int64_t kNow = 100 * kDay + 5000;

fedtiny::telemetry::TelemetrySpec Spec() {
  fedtiny::telemetry::TelemetrySpec s;
  s.set_version(3);
  auto* p = s.add_probes();
  p->set_name("cls");
  p->set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  p->mutable_binning()->set_categories(4);
  for (double r : {0.25, 0.25, 0.25, 0.25}) p->add_reference(r);
  p->set_epsilon(1.5);
  auto* l = s.add_probes();
  l->set_name("lat");
  l->set_kind(fedtiny::telemetry::INFERENCE_LATENCY_US);
  for (double e : {0.0, 10.0, 20.0}) l->mutable_binning()->add_edges(e);
  l->set_epsilon(1);
  return *ValidateSpec(s);
}

TelemetryReport Report() {
  TelemetryReport r;
  r.set_task("t");
  r.set_model_version(2);
  r.set_variant("int8");
  r.set_device_class("cortex-m4");
  r.set_spec_version(3);
  r.set_window_start_unix_s(100 * kDay);
  r.set_consent_version("v1");
  auto* v = r.add_values();
  v->set_probe("cls");
  v->set_bin(3);
  v->set_epsilon(1.5);
  v = r.add_values();
  v->set_probe("lat");
  v->set_bin(1);
  v->set_epsilon(1);
  return r;
}

void ExpectRefused(const TelemetryReport& r, const std::string& words) {
  EXPECT_THAT(CheckReport(r, Spec(), 2, kNow).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(words)));
}

TEST(ReportCheckTest, AcceptsAWellFormedReport) {
  absl::StatusOr<std::vector<BinValue>> v =
      CheckReport(Report(), Spec(), 2, kNow);
  ASSERT_THAT(v.status(), IsOk());
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].bin, 3);
  EXPECT_EQ((*v)[0].bins, 4);
  EXPECT_EQ((*v)[1].bins, 2);
}

TEST(ReportCheckTest, RefusesEachMalformedField) {
  TelemetryReport r = Report();
  r.set_model_version(3);
  ExpectRefused(r, "model_version 3");
  r.set_model_version(-1);
  ExpectRefused(r, "model_version -1");
  r = Report();
  r.set_variant("FP16");  // Body variants have names (admin.proto), but not this one.
  ExpectRefused(r, "variant");
  r.set_variant("a-name-of-16-chr");
  ExpectRefused(r, "variant");
  r = Report();
  r.set_device_class(std::string("a\0b", 3));
  ExpectRefused(r, "device_class 'a?b'");
  r.set_device_class("");
  ExpectRefused(r, "device_class");
  r = Report();
  r.set_spec_version(2);
  ExpectRefused(r, "spec_version 2 is not the task's current 3");
  r = Report();
  r.set_window_start_unix_s(100 * kDay + 1);
  ExpectRefused(r, "not a multiple");
  r.set_window_start_unix_s(101 * kDay);
  ExpectRefused(r, "in the future");
  r.set_window_start_unix_s(92 * kDay);
  ExpectRefused(r, "older than 7 windows");
  r.set_window_start_unix_s(93 * kDay);
  EXPECT_THAT(CheckReport(r, Spec(), 2, kNow).status(), IsOk());
  r = Report();
  r.set_consent_version(std::string(65, 'v'));
  ExpectRefused(r, "consent_version");
  r = Report();
  r.clear_values();
  ExpectRefused(r, "no values");
  r = Report();
  r.mutable_values(1)->set_probe("nope");
  ExpectRefused(r, "unknown probe 'nope'");
  r = Report();
  r.mutable_values(1)->set_probe("cls");
  r.mutable_values(1)->set_epsilon(1.5);
  ExpectRefused(r, "more than one value");
  r = Report();
  r.mutable_values(0)->set_bin(4);
  ExpectRefused(r, "bin 4 is not below k = 4");
  r = Report();
  r.mutable_values(0)->set_epsilon(1.6);
  ExpectRefused(r, "epsilon 1.6 is not the spec's 1.5");
  r = Report();
  *r.add_values() = r.values(0);
  ExpectRefused(r, "3 values for 2 probes");
}

// Garbage never crashes: random bytes parsed as a report are refused or
// accepted, never anything else.
TEST(ReportCheckTest, GarbageIsRefusedNotACrash) {
  uint64_t x = 88172645463325252ull;
  int parsed = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bytes;
    for (int j = 0; j < 40; ++j) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      bytes.push_back(static_cast<char>(x));
    }
    TelemetryReport r;
    if (!r.ParseFromString(bytes)) continue;
    ++parsed;
    const absl::Status s = CheckReport(r, Spec(), 2, kNow).status();
    EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kInvalidArgument) << s;
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace fedtiny::coordinator::telemetry
