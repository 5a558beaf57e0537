#include "aggregation/row_kernels.h"

#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace fedtiny::aggregation {
namespace {

// Every length around the 4- and 8-lane steps, against plain loops in double.
TEST(RowKernels, MatchPlainLoops) {
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0, 1e3);
  for (int n : {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 1001}) {
    std::vector<float> x(n);
    std::vector<double> z(n), out(n), want(n), diff(n);
    for (int j = 0; j < n; ++j) {
      x[j] = static_cast<float>(g(rng));
      z[j] = g(rng);
      out[j] = want[j] = g(rng);
    }
    double d2 = 0;
    for (int j = 0; j < n; ++j) {
      d2 += (x[j] - z[j]) * (x[j] - z[j]);
      want[j] += 0.37 * x[j];
    }
    EXPECT_NEAR(SquaredDistance(x, z), d2, 1e-12 * d2) << n;
    AddScaled(0.37, x, absl::MakeSpan(out));
    for (int j = 0; j < n; ++j) EXPECT_NEAR(out[j], want[j], 1e-12 * 1e3) << n;
    Difference(x, z, absl::MakeSpan(diff));
    for (int j = 0; j < n; ++j) EXPECT_EQ(diff[j], double{x[j]} - z[j]) << n;
  }
}

// BlendIfFinite against the plain formula, and its NaN/Inf verdict for a bad
// value at every position (vector body and scalar tail alike).
TEST(RowKernels, BlendIfFiniteMatchesLoopAndFindsEveryBadValue) {
  std::mt19937 rng(6);
  std::normal_distribution<double> g(0, 1e3);
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(),
                       std::numeric_limits<float>::infinity(),
                       -std::numeric_limits<float>::infinity()};
  for (int n : {0, 1, 3, 7, 8, 9, 16, 17, 31}) {
    std::vector<float> x(n);
    std::vector<double> m(n), out(n);
    for (int j = 0; j < n; ++j) {
      x[j] = static_cast<float>(g(rng));
      m[j] = g(rng);
    }
    ASSERT_TRUE(BlendIfFinite(0.3, x, m, absl::MakeSpan(out))) << n;
    for (int j = 0; j < n; ++j) {
      EXPECT_DOUBLE_EQ(out[j], m[j] + 0.3 * (double{x[j]} - m[j])) << n;
    }
    for (int k = 0; k < n; ++k) {
      for (float b : bad) {
        std::vector<float> y = x;
        y[k] = b;
        EXPECT_FALSE(BlendIfFinite(0.3, y, m, absl::MakeSpan(out))) << n << " " << k;
      }
    }
    // The largest finite float is not Inf.
    if (n > 0) {
      x[n - 1] = std::numeric_limits<float>::max();
      EXPECT_TRUE(BlendIfFinite(0.3, x, m, absl::MakeSpan(out))) << n;
    }
  }
}

}  // namespace
}  // namespace fedtiny::aggregation
