#include "coordinator/admin_service.h"

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

TEST(ParseOperatorTokensTest, OneBareTokenIsTheOperator) {
  absl::StatusOr<std::vector<NamedToken>> t = ParseOperatorTokens("0123456789abcdef0123\n");
  ASSERT_THAT(t, IsOk());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].name, "operator");
  EXPECT_EQ((*t)[0].token, "0123456789abcdef0123");
}

TEST(ParseOperatorTokensTest, NamedLinesCommentsAndBlanks) {
  absl::StatusOr<std::vector<NamedToken>> t = ParseOperatorTokens(
      "# operators\nalice:aaaaaaaaaaaaaaaaaaaa\n\n  ci-bot@example:bbbbbbbbbbbbbbbb:cc  \n");
  ASSERT_THAT(t, IsOk());
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].name, "alice");
  EXPECT_EQ((*t)[1].name, "ci-bot@example");
  EXPECT_EQ((*t)[1].token, "bbbbbbbbbbbbbbbb:cc");  // Only the first colon separates.
}

TEST(ParseOperatorTokensTest, RefusesShortTokensBadNamesAndTwins) {
  EXPECT_THAT(ParseOperatorTokens("alice:short"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseOperatorTokens("al ice:aaaaaaaaaaaaaaaaaaaa"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseOperatorTokens(":aaaaaaaaaaaaaaaaaaaa"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseOperatorTokens("a:aaaaaaaaaaaaaaaaaaaa\na:bbbbbbbbbbbbbbbbbbbb"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // The error names the line, never the token.
  absl::Status s = ParseOperatorTokens("x:tooshortsecret").status();
  EXPECT_EQ(s.message().find("tooshortsecret"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace fedtiny::coordinator
