#include "tools/base/cpu_check.h"

#include "gtest/gtest.h"

namespace fedtiny {
namespace {

// The test runs, so the start-up check let it through: the query must agree.
TEST(CpuCheckTest, ARunningBinaryIsSupported) { EXPECT_TRUE(CpuSupportsBuild().ok()); }

TEST(CpuCheckTest, NamesTheBuildsInstructionSets) {
#if defined(__AVX2__) && defined(__FMA__)
  EXPECT_EQ(BuildInstructionSets(), "AVX2 FMA");
#elif !defined(__AVX2__) && !defined(__FMA__)
  EXPECT_EQ(BuildInstructionSets(), "portable");
#endif
}

TEST(CpuCheckTest, CpuModelNameIsOneLine) {
  const std::string name = CpuModelName();
  EXPECT_FALSE(name.empty());
  EXPECT_EQ(name.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace fedtiny
