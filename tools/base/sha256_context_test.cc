#include "tools/base/sha256_context.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tools/base/sha256.h"

namespace fedtiny {
namespace {

TEST(Sha256ContextTest, MatchesSha256AcrossReuseAndMove) {
  absl::StatusOr<Sha256Context> c = Sha256Context::Create();
  ASSERT_TRUE(c.ok());
  Sha256Context ctx = *std::move(c);
  for (const std::string& m : {std::string(), std::string("abc"),
                               std::string(64, 'x'), std::string(1000, 'y')}) {
    uint8_t out[32];
    ASSERT_TRUE(ctx.Digest(m.data(), m.size(), out));
    absl::StatusOr<Sha256Digest> want = Sha256(m);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(std::memcmp(out, want->data(), 32), 0) << m.size();
  }
  uint8_t abc[32];
  ASSERT_TRUE(ctx.Digest("abc", 3, abc));
  EXPECT_EQ(DigestToHex(*Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace fedtiny
