// The daily privacy budget cannot be exceeded, across restarts (a new
// PrivacyBudget over the same storage), a clock set back, a failed write or a
// corrupt file.
#include "client/telemetry/budget.h"

#include "client/telemetry/memory_storage.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client::telemetry {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

constexpr int64_t kDay = 86400;
const absl::Time kNoon = absl::FromUnixSeconds(20000 * kDay + kDay / 2);

TEST(PrivacyBudgetTest, CannotBeExceededAcrossRestarts) {
  MemoryStorage storage;
  FakeClock clock(kNoon);
  double sent = 0;
  // Ten "restarts" in one day, each trying to send two reports of 1.5.
  for (int restart = 0; restart < 10; ++restart) {
    auto budget = *PrivacyBudget::Open(storage, "budget", clock);
    for (int i = 0; i < 2; ++i) {
      absl::Status s = budget->Spend(1.5, 4.0);
      if (s.ok()) {
        sent += 1.5;
      } else {
        EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted));
      }
    }
    EXPECT_LE(budget->SpentToday(), 4.0);
    clock.Advance(absl::Minutes(30));
  }
  EXPECT_DOUBLE_EQ(sent, 3.0);  // 1.5 + 1.5; a third would make 4.5 > 4.
  auto budget = *PrivacyBudget::Open(storage, "budget", clock);
  EXPECT_THAT(budget->Spend(1.0, 4.0), IsOk());  // Exactly 4 is allowed.
  EXPECT_THAT(budget->Spend(1e-6, 4.0),
              StatusIs(absl::StatusCode::kResourceExhausted));
  // The next UTC day starts afresh.
  clock.Set(absl::FromUnixSeconds(20001 * kDay + 1));
  EXPECT_DOUBLE_EQ(budget->SpentToday(), 0);
  EXPECT_THAT(budget->Spend(4.0, 4.0), IsOk());
  EXPECT_DOUBLE_EQ(
      (*PrivacyBudget::Open(storage, "budget", clock))->SpentToday(), 4.0);
}

TEST(PrivacyBudgetTest, AClockSetBackKeepsTheStoredDay) {
  MemoryStorage storage;
  FakeClock clock(kNoon);
  ASSERT_THAT((*PrivacyBudget::Open(storage, "b", clock))->Spend(4.0, 4.0),
              IsOk());
  clock.Set(kNoon - absl::Hours(24 * 3));
  auto budget = *PrivacyBudget::Open(storage, "b", clock);
  EXPECT_DOUBLE_EQ(budget->SpentToday(), 4.0);
  EXPECT_THAT(budget->Spend(0.5, 4.0),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(PrivacyBudgetTest, AFailedWriteChargesNothingAndSendsNothing) {
  MemoryStorage storage;
  FakeClock clock(kNoon);
  auto budget = *PrivacyBudget::Open(storage, "b", clock);
  storage.fail_writes = true;
  EXPECT_THAT(budget->Spend(1.0, 4.0), StatusIs(absl::StatusCode::kInternal));
  EXPECT_DOUBLE_EQ(budget->SpentToday(), 0);
  EXPECT_THAT(budget->Spend(-1, 4.0),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PrivacyBudgetTest, ACorruptFileMeansTodayIsUsedUp) {
  MemoryStorage storage;
  storage.files["b"] = "garbage";
  FakeClock clock(kNoon);
  auto budget = *PrivacyBudget::Open(storage, "b", clock);
  EXPECT_THAT(budget->Spend(0.1, 4.0),
              StatusIs(absl::StatusCode::kResourceExhausted));
  clock.Advance(absl::Hours(24));
  EXPECT_THAT(budget->Spend(0.1, 4.0), IsOk());
  EXPECT_EQ(storage.files["b"],
            "fedtiny-privacy-budget 1 20001 0.10000000000000001\n");
}

}  // namespace
}  // namespace fedtiny::client::telemetry
