#include "tools/base/logging.h"

#include <string>

#include "gtest/gtest.h"

namespace fedtiny::logging {
namespace {

TEST(LoggingTest, WritesLineWithSeverityAndLocation) {
  SetMinSeverity(Severity::kInfo);
  ::testing::internal::CaptureStderr();
  FT_LOG(WARNING) << "round " << 7 << " abandoned";
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out[0], 'W');
  EXPECT_NE(out.find("logging_test.cc:"), std::string::npos);
  EXPECT_NE(out.find("] round 7 abandoned\n"), std::string::npos);
}

TEST(LoggingTest, FiltersBelowMinimumWithoutEvaluating) {
  SetMinSeverity(Severity::kError);
  int evaluated = 0;
  auto side_effect = [&] { return ++evaluated; };
  ::testing::internal::CaptureStderr();
  FT_LOG(INFO) << side_effect();
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out, "");
  EXPECT_EQ(evaluated, 0);
  SetMinSeverity(Severity::kInfo);
}

TEST(LoggingDeathTest, FatalAborts) {
  EXPECT_DEATH(FT_LOG(FATAL) << "boom", "boom");
}

}  // namespace
}  // namespace fedtiny::logging
