#include "tools/base/crypto/hkdf.h"

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::crypto {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::string Range(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s.push_back(static_cast<char>(i));
  return s;
}

std::string Okm(absl::string_view ikm, absl::string_view salt,
                absl::string_view info, size_t length) {
  absl::StatusOr<SecureBytes> okm = HkdfSha256(ikm, salt, info, length);
  EXPECT_THAT(okm, IsOk());
  return okm.ok() ? absl::BytesToHexString(okm->view()) : "";
}

// RFC 5869 appendix A.1 to A.3 (SHA-256).
TEST(HkdfTest, Rfc5869Vectors) {
  EXPECT_EQ(Okm(std::string(22, '\x0b'), Range(0, 13), Range(0xf0, 0xfa), 42),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
            "34007208d5b887185865");
  EXPECT_EQ(Okm(Range(0, 0x50), Range(0x60, 0xb0), Range(0xb0, 0x100), 82),
            "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
            "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
            "cc30c58179ec3e87c14c01d5c1f3434f1d87");
  EXPECT_EQ(Okm(std::string(22, '\x0b'), "", "", 42),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
            "9d201395faa4b61a96c8");
}

TEST(HkdfTest, LengthOutOfRange) {
  EXPECT_THAT(HkdfSha256("ikm", "", "", 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HkdfSha256("ikm", "", "", 255 * 32 + 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HkdfSha256("ikm", "", "", 255 * 32), IsOk());
}

}  // namespace
}  // namespace fedtiny::crypto
