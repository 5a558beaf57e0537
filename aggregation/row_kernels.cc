#include "aggregation/row_kernels.h"

#include <cmath>
#include <cstdint>

namespace fedtiny::aggregation {

namespace {

// Four lanes; unaligned loads. The "avx2" clone uses single 256-bit
// instructions, the "default" one SSE2 pairs (as in order_statistics.cc).
typedef double V4D __attribute__((vector_size(32), aligned(8)));
typedef float V4F __attribute__((vector_size(16), aligned(4)));

__attribute__((target_clones("avx2", "default"))) double SquaredDistanceImpl(
    const float* __restrict x, const double* __restrict z, int64_t n) {
  V4D a = {},
      b = {};  // Two sums: a double reduction does not vectorize itself.
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    V4F x0, x1;
    V4D z0, z1;
    __builtin_memcpy(&x0, x + j, 16);
    __builtin_memcpy(&x1, x + j + 4, 16);
    __builtin_memcpy(&z0, z + j, 32);
    __builtin_memcpy(&z1, z + j + 4, 32);
    const V4D t0 = __builtin_convertvector(x0, V4D) - z0;
    const V4D t1 = __builtin_convertvector(x1, V4D) - z1;
    a += t0 * t0;
    b += t1 * t1;
  }
  a += b;
  double s = (a[0] + a[1]) + (a[2] + a[3]);
  for (; j < n; ++j) {
    const double t = static_cast<double>(x[j]) - z[j];
    s += t * t;
  }
  return s;
}

__attribute__((target_clones("avx2", "default"))) void AddScaledImpl(
    double c, const float* __restrict x, double* __restrict out, int64_t n) {
  const V4D cv = {c, c, c, c};
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    V4F x0;
    V4D o;
    __builtin_memcpy(&x0, x + j, 16);
    __builtin_memcpy(&o, out + j, 32);
    o += cv * __builtin_convertvector(x0, V4D);
    __builtin_memcpy(out + j, &o, 32);
  }
  for (; j < n; ++j) out[j] += c * static_cast<double>(x[j]);
}

__attribute__((target_clones("avx2", "default"))) void DifferenceImpl(
    const float* __restrict x, const double* __restrict z,
    double* __restrict out, int64_t n) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    V4F x0;
    V4D z0;
    __builtin_memcpy(&x0, x + j, 16);
    __builtin_memcpy(&z0, z + j, 32);
    const V4D o = __builtin_convertvector(x0, V4D) - z0;
    __builtin_memcpy(out + j, &o, 32);
  }
  for (; j < n; ++j) out[j] = static_cast<double>(x[j]) - z[j];
}

typedef int32_t V4I __attribute__((vector_size(16), aligned(4)));

// NaN and +-Inf are the floats whose exponent bits are all ones; the test is
// on the integer bits (a float compare would need -ffast-math to vectorize).
inline V4I NonFinite(V4F x) {
  const V4I kExp = {0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000};
  V4I bits;
  __builtin_memcpy(&bits, &x, 16);
  return (bits & kExp) == kExp;
}

__attribute__((target_clones("avx2", "default"))) bool BlendIfFiniteImpl(
    double c, const float* __restrict x, const double* __restrict m,
    double* __restrict out, int64_t n) {
  const V4D cv = {c, c, c, c};
  V4I bad = {};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    V4F x0, x1;
    V4D m0, m1;
    __builtin_memcpy(&x0, x + j, 16);
    __builtin_memcpy(&x1, x + j + 4, 16);
    __builtin_memcpy(&m0, m + j, 32);
    __builtin_memcpy(&m1, m + j + 4, 32);
    bad |= NonFinite(x0) | NonFinite(x1);
    const V4D o0 = m0 + cv * (__builtin_convertvector(x0, V4D) - m0);
    const V4D o1 = m1 + cv * (__builtin_convertvector(x1, V4D) - m1);
    __builtin_memcpy(out + j, &o0, 32);
    __builtin_memcpy(out + j + 4, &o1, 32);
  }
  bool ok = (bad[0] | bad[1] | bad[2] | bad[3]) == 0;
  for (; j < n; ++j) {
    ok &= std::isfinite(x[j]);
    out[j] = m[j] + c * (static_cast<double>(x[j]) - m[j]);
  }
  return ok;
}

}  // namespace

bool BlendIfFinite(double c, absl::Span<const float> x, absl::Span<const double> m,
                   absl::Span<double> out) {
  return BlendIfFiniteImpl(c, x.data(), m.data(), out.data(),
                           static_cast<int64_t>(x.size()));
}

double SquaredDistance(absl::Span<const float> x, absl::Span<const double> z) {
  return SquaredDistanceImpl(x.data(), z.data(),
                             static_cast<int64_t>(x.size()));
}

void AddScaled(double c, absl::Span<const float> x, absl::Span<double> out) {
  AddScaledImpl(c, x.data(), out.data(), static_cast<int64_t>(x.size()));
}

void Difference(absl::Span<const float> x, absl::Span<const double> z,
                absl::Span<double> out) {
  DifferenceImpl(x.data(), z.data(), out.data(),
                 static_cast<int64_t>(x.size()));
}

}  // namespace fedtiny::aggregation
