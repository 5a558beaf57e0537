#include "tools/base/crypto/secure_bytes.h"

#include <utility>

#include "gtest/gtest.h"

namespace fedtiny::crypto {
namespace {

TEST(SecureBytesTest, StartsZeroedAndCopies) {
  SecureBytes zero(4);
  EXPECT_EQ(zero.view(), absl::string_view("\0\0\0\0", 4));
  SecureBytes copy = SecureBytes::CopyOf("secret");
  EXPECT_EQ(copy.view(), "secret");
  EXPECT_TRUE(SecureBytes().empty());
  EXPECT_TRUE(SecureBytes::CopyOf("").empty());
}

TEST(SecureBytesTest, MoveLeavesTheSourceEmpty) {
  SecureBytes a = SecureBytes::CopyOf("key material");
  const uint8_t* where = a.data();
  SecureBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.data(), where);  // moved, not copied: no second copy to wipe
  SecureBytes c = SecureBytes::CopyOf("other");
  c = std::move(b);
  EXPECT_EQ(c.view(), "key material");
}

TEST(SecureBytesTest, ShrinkWipesTheTail) {
  SecureBytes s = SecureBytes::CopyOf("abcdef");
  const uint8_t* p = s.data();
  s.Shrink(2);
  EXPECT_EQ(s.view(), "ab");
  EXPECT_EQ(p[2], 0);  // still our allocation: reading it is defined
  EXPECT_EQ(p[5], 0);
  s.Shrink(10);  // never grows
  EXPECT_EQ(s.size(), 2u);
  s.Wipe();
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace fedtiny::crypto
