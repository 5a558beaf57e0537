// ValidateLedgerOptions: every refusal names its field (with the caller's
// prefix) and the value given; the defaults and edge values pass. The ledger's
// behaviour is tested end to end in tests/meter_test.cc.
#include "coordinator/meter/meter_ledger.h"

#include <string>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::meter {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ValidateLedgerOptionsTest, DefaultsAndEdgesPass) {
  EXPECT_THAT(ValidateLedgerOptions(LedgerOptions(), "--meter_"), IsOk());
  LedgerOptions o;
  o.grant_calls = 1;
  o.grant_validity = absl::Microseconds(1);
  o.grace = absl::ZeroDuration();
  o.grace_calls = 0;
  o.counter_every = 1;
  o.clock_skew = absl::ZeroDuration();
  o.checkpoints_kept = 1;
  o.cut_off_on_flag = true;
  EXPECT_THAT(ValidateLedgerOptions(o, "--meter_"), IsOk());
  o.grant_validity = absl::Hours(24 * 3650);
  EXPECT_THAT(ValidateLedgerOptions(o, "--meter_"), IsOk());
}

struct Bad {
  const char* field;
  void (*set)(LedgerOptions&);
  const char* value;
};

TEST(ValidateLedgerOptionsTest, EachRefusalNamesTheFieldAndTheValue) {
  const Bad bad[] = {
      {"grant_calls", [](LedgerOptions& o) { o.grant_calls = 0; }, "is 0"},
      {"grant_validity", [](LedgerOptions& o) { o.grant_validity = absl::ZeroDuration(); }, "is 0"},
      {"grant_validity", [](LedgerOptions& o) { o.grant_validity = absl::Seconds(-3); }, "is -3s"},
      {"grant_validity", [](LedgerOptions& o) { o.grant_validity = absl::InfiniteDuration(); },
       "is inf"},
      {"grace", [](LedgerOptions& o) { o.grace = absl::Minutes(-1); }, "is -1m"},
      {"grace", [](LedgerOptions& o) { o.grace = absl::Hours(24 * 3651); }, "87600h"},
      {"counter_every", [](LedgerOptions& o) { o.counter_every = 0; }, "is 0"},
      {"clock_skew", [](LedgerOptions& o) { o.clock_skew = absl::Seconds(-1); }, "is -1s"},
      {"checkpoints_kept", [](LedgerOptions& o) { o.checkpoints_kept = 0; }, "is 0"},
  };
  for (const Bad& b : bad) {
    LedgerOptions o;
    b.set(o);
    const absl::Status s = ValidateLedgerOptions(o, "--meter_");
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument)) << b.field;
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::string("--meter_") + b.field + " "))
        << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(b.value)) << s;
  }
  LedgerOptions o;
  o.grant_calls = 0;
  EXPECT_THAT(std::string(ValidateLedgerOptions(o, "meter_options.").message()),
              HasSubstr("meter_options.grant_calls is 0"));
}

}  // namespace
}  // namespace fedtiny::meter
