#include "tools/base/logging.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace fedtiny::logging {
namespace {

TEST(LoggingTest, WritesLineWithSeverityAndLocation) {
  SetMinSeverity(Severity::kInfo);
  ::testing::internal::CaptureStderr();
  FT_LOG(WARNING) << "round " << 7 << " abandoned";
  const std::string out = ::testing::internal::GetCapturedStderr();
  // RFC 3339, UTC with its zone: "2026-11-30T16:45:01.123Z W ...".
  ASSERT_GT(out.size(), 26u);
  EXPECT_EQ(out[4], '-');
  EXPECT_EQ(out[10], 'T');
  EXPECT_EQ(out[23], 'Z');
  EXPECT_EQ(out[25], 'W');
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
TEST(LoggingTest, JsonFormatIsOneParseableObjectPerLine) {
  ::testing::internal::CaptureStderr();
  SetFormat(Format::kJson);
  FT_LOG(ERROR) << "quote \" and\nnewline";
  SetFormat(Format::kText);
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1);  // One line.
  const nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("severity"), "ERROR");
  EXPECT_EQ(j.at("message"), "quote \" and\nnewline");
  EXPECT_EQ(j.at("file"), "logging_test.cc");
  EXPECT_TRUE(j.at("line").is_number_integer());
  EXPECT_EQ(j.at("time").get<std::string>().back(), 'Z');
}

}  // namespace fedtiny::logging
