#include "tools/base/constant_time.h"

#include "gtest/gtest.h"

namespace fedtiny {
namespace {

TEST(ConstantTimeEqualsTest, EqualAndUnequal) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("token-123", "token-123"));
  EXPECT_FALSE(ConstantTimeEquals("token-123", "token-124"));
  EXPECT_FALSE(ConstantTimeEquals("Token-123", "token-123"));
  EXPECT_FALSE(ConstantTimeEquals("token-123", "token-12"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  const char with_nul_a[] = {'a', '\0', 'b'};
  const char with_nul_b[] = {'a', '\0', 'c'};
  EXPECT_FALSE(ConstantTimeEquals(absl::string_view(with_nul_a, 3),
                                  absl::string_view(with_nul_b, 3)));
}

}  // namespace
}  // namespace fedtiny
