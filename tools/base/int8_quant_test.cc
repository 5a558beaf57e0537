#include "tools/base/int8_quant.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace fedtiny {
namespace {

std::vector<int8_t> Quantized(const std::vector<float>& v, Int8Affine a) {
  std::vector<int8_t> q(v.size());
  QuantizeInt8(v, a, q);
  return q;
}

TEST(Int8QuantTest, MapsTheRangeOntoAllCodes) {
  const std::vector<float> v = {-1.0f, 0.0f, 0.5f, 1.55f};
  const Int8Affine a = ChooseInt8Affine(v);
  EXPECT_FLOAT_EQ(a.scale, 2.55f / 255);
  EXPECT_EQ(a.zero_point, -28);  // round(-128 + 1 / 0.01)
  const std::vector<int8_t> q = Quantized(v, a);
  EXPECT_EQ(q, (std::vector<int8_t>{-128, -28, 22, 127}));
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_NEAR(a.scale * (q[i] - a.zero_point), v[i], a.scale / 2 + 1e-6);
  }
}

TEST(Int8QuantTest, TheRangeIncludesZero) {
  const Int8Affine a = ChooseInt8Affine(std::vector<float>{2.0f, 4.0f});
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255);
  EXPECT_EQ(a.zero_point, -128);
  EXPECT_EQ(Quantized({0.0f, 4.0f}, a), (std::vector<int8_t>{-128, 127}));
}

TEST(Int8QuantTest, DegenerateRangesStayDecodable) {
  EXPECT_EQ(ChooseInt8Affine(std::vector<float>{}).scale, 1.0f);
  EXPECT_EQ(ChooseInt8Affine(std::vector<float>{0, 0}).scale, 1.0f);
  const Int8Affine wide = ChooseInt8Affine(std::vector<float>{-3e38f, 3e38f});
  // In float, hi - lo would overflow to Inf.
  EXPECT_FLOAT_EQ(wide.scale, static_cast<float>(6e38 / 255));
  const Int8Affine tiny = ChooseInt8Affine(std::vector<float>{1e-43f});
  EXPECT_EQ(tiny.scale, std::numeric_limits<float>::min());
  EXPECT_GE(tiny.zero_point, -128);
  EXPECT_LE(tiny.zero_point, 127);
}

TEST(Int8QuantTest, Saturates) {
  const Int8Affine a{0.01f, 0};
  EXPECT_EQ(Quantized({100.0f, -100.0f}, a), (std::vector<int8_t>{127, -128}));
}

}  // namespace
}  // namespace fedtiny
