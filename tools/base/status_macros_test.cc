#include "tools/base/status_macros.h"

#include <memory>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(h, Half(h));  // Assign to an existing variable.
  return h;
}

absl::Status CheckEven(int x, int* calls) {
  ++*calls;
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return absl::OkStatus();
}

absl::Status BothEven(int a, int b, int* calls) {
  RETURN_IF_ERROR(CheckEven(a, calls));
  RETURN_IF_ERROR(CheckEven(b, calls));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<int>> MakeBox(bool ok) {
  if (!ok) return absl::NotFoundError("no box");
  return std::make_unique<int>(7);
}

absl::StatusOr<int> Unbox(bool ok) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> box, MakeBox(ok));  // Move-only value.
  return *box;
}

TEST(StatusMacrosTest, AssignOrReturn) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Quarter(3), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("odd")));
  EXPECT_EQ(*Unbox(true), 7);
  EXPECT_THAT(Unbox(false), StatusIs(absl::StatusCode::kNotFound));
}

TEST(StatusMacrosTest, ReturnIfErrorEvaluatesOnceAndStops) {
  int calls = 0;
  EXPECT_THAT(BothEven(2, 4, &calls), IsOk());
  EXPECT_EQ(calls, 2);
  calls = 0;
  EXPECT_THAT(BothEven(1, 4, &calls),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(calls, 1);
}

TEST(StatusMatchersTest, MatchersCanFail) {
  EXPECT_FALSE(::testing::Matches(IsOk())(absl::InternalError("x")));
  EXPECT_FALSE(::testing::Matches(StatusIs(absl::StatusCode::kNotFound))(
      absl::InternalError("x")));
  EXPECT_TRUE(::testing::Matches(StatusIs(absl::StatusCode::kInternal))(
      absl::InternalError("x")));
}

}  // namespace
}  // namespace fedtiny
