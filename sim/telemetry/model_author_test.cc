#include "sim/telemetry/model_author.h"

#include <vector>

#include "client/telemetry/spec.h"
#include "gtest/gtest.h"

namespace fedtiny::sim::telemetry {
namespace {

TEST(QuantileBinning, DecilesOfDistinctValues) {
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<float>(i));
  const auto b = QuantileBinning(v, 10);
  ASSERT_EQ(client::telemetry::NumBins(b), 10);
  std::vector<int> count(10, 0);
  for (float x : v) ++count[client::telemetry::BinOf(b, x)];
  for (int c : count) EXPECT_EQ(c, 100);
}

TEST(QuantileBinning, ReluZerosFillBinZeroAlone) {
  std::vector<float> v(600, 0.0f);
  for (int i = 1; i <= 400; ++i) v.push_back(static_cast<float>(i));
  const auto b = QuantileBinning(v, 10);
  EXPECT_EQ(client::telemetry::NumBins(b), 5);  // Zeros, then 4 bins of 100.
  std::vector<int> count(client::telemetry::NumBins(b), 0);
  for (float x : v) ++count[client::telemetry::BinOf(b, x)];
  EXPECT_EQ(count[0], 600);
  for (size_t i = 1; i < count.size(); ++i) EXPECT_EQ(count[i], 100) << i;
  for (int i = 1; i < b.edges_size(); ++i)
    EXPECT_GT(b.edges(i), b.edges(i - 1));
}

TEST(QuantileBinning, ConstantValuesStillMakeTwoBins) {
  const auto b = QuantileBinning(std::vector<float>(50, 3.0f), 8);
  EXPECT_EQ(client::telemetry::NumBins(b), 2);
  EXPECT_EQ(client::telemetry::BinOf(b, 3.0), 0u);
}

}  // namespace
}  // namespace fedtiny::sim::telemetry
