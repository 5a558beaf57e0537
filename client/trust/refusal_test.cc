#include "client/trust/refusal.h"

#include "gtest/gtest.h"

namespace fedtiny::client::trust {
namespace {

TEST(RefusalTest, RoundTripsEveryReason) {
  for (int i = static_cast<int>(RefusalReason::kMalformed);
       i <= static_cast<int>(RefusalReason::kStorage); ++i) {
    const auto reason = static_cast<RefusalReason>(i);
    absl::Status s = Refusal(reason, "detail");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(RefusalReasonOf(s), reason) << s;
    EXPECT_EQ(s.message(),
              "trust:" + std::string(RefusalReasonName(reason)) + ": detail");
  }
}

TEST(RefusalTest, StableNamesAndCodes) {
  absl::Status s = Refusal(RefusalReason::kRollback,
                           "timestamp version 3 < trusted 5");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "trust:rollback: timestamp version 3 < trusted 5");
  EXPECT_EQ(RefusalReasonName(RefusalReason::kSignatureThreshold),
            "signature_threshold");
  EXPECT_EQ(Refusal(RefusalReason::kEndlessData, "").code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(RefusalTest, OtherStatuses) {
  EXPECT_EQ(RefusalReasonOf(absl::OkStatus()), RefusalReason::kNone);
  EXPECT_EQ(RefusalReasonOf(absl::InternalError("disk")), RefusalReason::kUnknown);
  // The prefix alone is not enough: the code must match too.
  EXPECT_EQ(RefusalReasonOf(absl::InternalError("trust:rollback: x")),
            RefusalReason::kUnknown);
}

}  // namespace
}  // namespace fedtiny::client::trust
