#include "tools/base/byte_io.h"

#include <string_view>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

TEST(ByteIoTest, RoundTripsAndStopsAtTheEnd) {
  std::string out;
  PutValue(out, int32_t{-7});
  PutValue(out, 2.5);
  PutFloats(out, {1.f, 2.f, 3.f});
  out += "tail";
  ByteReader r(out);
  int32_t i = 0;
  double d = 0;
  std::vector<float> f;
  std::string tail;
  ASSERT_TRUE(r.Get(i) && r.Get(d) && r.GetFloats(f) && r.GetBytes(4, tail));
  EXPECT_EQ(i, -7);
  EXPECT_EQ(d, 2.5);
  EXPECT_EQ(f, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(tail, "tail");
  EXPECT_TRUE(r.AtEnd());
  EXPECT_FALSE(r.Get(i));
  // A length prefix larger than what follows is refused, not trusted.
  std::string lying;
  PutValue(lying, uint64_t{1} << 40);
  ByteReader lr(lying);
  EXPECT_FALSE(lr.GetFloats(f));
}

TEST(ByteIoTest, TrailerDetectsTruncationAndCorruption) {
  const std::string sealed = WithSha256Trailer("payload");
  absl::StatusOr<std::string_view> body = VerifySha256Trailer(sealed, "x");
  ASSERT_THAT(body, IsOk());
  EXPECT_EQ(*body, "payload");
  EXPECT_THAT(VerifySha256Trailer(sealed.substr(0, sealed.size() - 1), "x"),
              StatusIs(absl::StatusCode::kDataLoss));
  std::string flipped = sealed;
  flipped[2] ^= 1;
  EXPECT_THAT(VerifySha256Trailer(flipped, "x"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(VerifySha256Trailer("short", "x"), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace fedtiny
