#include "client/core/dense_kernels.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace fedtiny::client {
namespace {

std::vector<float> Random(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n);
  for (float& x : v) x = g(rng);
  return v;
}

std::vector<const float*> RowPointers(const std::vector<float>& m, int64_t rows, int64_t k) {
  std::vector<const float*> p;
  // Rows in reverse order: the kernels must follow the pointers, not assume a
  // stride.
  for (int64_t r = rows - 1; r >= 0; --r) p.push_back(m.data() + r * k);
  return p;
}

// Widths around the vector widths (4, 8) and their multiples, and the workload's.
const int64_t kWidths[] = {1, 3, 7, 8, 9, 10, 12, 16, 17, 20, 24, 64};
const int64_t kRowCounts[] = {1, 2, 4, 5, 6, 10, 11};

TEST(DenseKernelsTest, ForwardMatchesDoubleReference) {
  for (int64_t n : kWidths) {
    for (int64_t rows : kRowCounts) {
      for (int64_t k : {1, 6, 33}) {
        for (bool relu : {false, true}) {
          const std::vector<float> x = Random(rows * k, 1), t = Random(k * n, 2),
                                   bias = Random(n, 3);
          const std::vector<const float*> xp = RowPointers(x, rows, k);
          std::vector<float> z(rows * n, -99.f);
          DenseForward(xp.data(), rows, k, t.data(), n, bias.data(), relu, z.data());
          for (int64_t r = 0; r < rows; ++r) {
            for (int64_t o = 0; o < n; ++o) {
              double want = bias[o];
              for (int64_t i = 0; i < k; ++i) want += double{xp[r][i]} * t[i * n + o];
              if (relu) want = std::max(want, 0.0);
              ASSERT_NEAR(z[r * n + o], want, 1e-4 * (1 + std::fabs(want)))
                  << "n=" << n << " rows=" << rows << " k=" << k << " r=" << r << " o=" << o;
            }
          }
        }
      }
    }
  }
}

TEST(DenseKernelsTest, ForwardWithoutBiasStartsFromZero) {
  const std::vector<float> x = {1, 2}, t(2 * 9, 1.f);
  const float* rows[] = {x.data()};
  std::vector<float> z(9, 5.f);
  DenseForward(rows, 1, 2, t.data(), 9, nullptr, false, z.data());
  for (float v : z) EXPECT_EQ(v, 3.f);
}

// Every coefficient updated exactly once, also where the last vector overlaps.
TEST(DenseKernelsTest, AccumulateOuterMatchesDoubleReference) {
  for (int64_t n : kWidths) {
    for (int64_t rows : kRowCounts) {
      for (int64_t k : {1, 6, 33}) {
        const std::vector<float> x = Random(rows * k, 4), d = Random(rows * n, 5),
                                 t0 = Random(k * n, 6);
        const std::vector<const float*> xp = RowPointers(x, rows, k);
        std::vector<float> t = t0;
        const float scale = -0.37f;
        AccumulateOuter(xp.data(), rows, k, d.data(), n, scale, t.data());
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t o = 0; o < n; ++o) {
            double g = 0;
            for (int64_t r = 0; r < rows; ++r) g += double{xp[r][i]} * d[r * n + o];
            const double want = t0[i * n + o] + scale * g;
            ASSERT_NEAR(t[i * n + o], want, 1e-4 * (1 + std::fabs(want)))
                << "n=" << n << " rows=" << rows << " k=" << k << " i=" << i << " o=" << o;
          }
        }
      }
    }
  }
}

TEST(DenseKernelsTest, ColumnSumsAndTranspose) {
  const std::vector<float> d = {1, 2, 3, 4, 5, 6};  // 2 x 3
  std::vector<float> t = {10, 20, 30};
  AccumulateColumnSums(d.data(), 2, 3, 0.5f, t.data());
  EXPECT_EQ(t, (std::vector<float>{12.5f, 23.5f, 34.5f}));
  std::vector<float> out(6);
  Transpose(d.data(), 2, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

}  // namespace
}  // namespace fedtiny::client
