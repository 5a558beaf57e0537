#include "coordinator/federation_service.h"

#include <string>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ValidateCheckInTest, AcceptsWellFormed) {
  fedtiny::v1::CheckInRequest r;
  r.set_device_id("dev-1");
  r.mutable_state()->set_battery_percent(80);
  EXPECT_THAT(ValidateCheckIn(r), IsOk());
}

TEST(ValidateCheckInTest, RejectsBadFields) {
  fedtiny::v1::CheckInRequest r;
  EXPECT_THAT(ValidateCheckIn(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("device_id")));
  r.set_device_id(std::string(129, 'x'));
  EXPECT_THAT(ValidateCheckIn(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("128")));
  r.set_device_id("dev");
  r.mutable_state()->set_battery_percent(101);
  EXPECT_THAT(ValidateCheckIn(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("battery")));
  r.mutable_state()->set_battery_percent(-1);
  EXPECT_THAT(ValidateCheckIn(r), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::coordinator
