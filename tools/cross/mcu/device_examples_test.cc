#include "tools/cross/mcu/device_examples.h"

#include "gtest/gtest.h"

namespace fedtiny::mcu {
namespace {

TEST(DeviceExamplesTest, AreDeterministicBoundedAndLabelledInTurn) {
  const Examples a = MakeExamples(30, 50, 10, 1);
  const Examples b = MakeExamples(30, 50, 10, 1);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.inputs, MakeExamples(30, 50, 10, 2).inputs);
  ASSERT_EQ(a.inputs.rows(), 30);
  ASSERT_EQ(a.inputs.cols(), 50);
  EXPECT_GE(a.inputs.minCoeff(), 0.0f);
  EXPECT_LE(a.inputs.maxCoeff(), 1.0f);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(a.labels[i], i % 10);
}

TEST(DeviceExamplesTest, EachLabelPeaksWhereItsPatternIs) {
  // Learnable: an example's largest feature lies in its label's slice of the input.
  const Examples e = MakeExamples(40, 100, 10, 7);
  for (int i = 0; i < 40; ++i) {
    Eigen::Index j;
    e.inputs.row(i).maxCoeff(&j);
    EXPECT_NEAR(static_cast<double>(j), e.labels[i] * 10 + 5, 5.0) << "example " << i;
  }
}

}  // namespace
}  // namespace fedtiny::mcu
