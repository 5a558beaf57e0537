#include "client/core/dense_kernels.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace fedtiny::client {
namespace {

// Floats per vector: the target's own SIMD width. A vector type wider than the
// hardware's is lowered through memory, piece by piece (ten times slower on
// SSE2), so the width follows the compiler's target macros; no SIMD: 1 (scalar).
#if defined(__AVX__)
constexpr int kV = 8;
#elif defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__)
constexpr int kV = 4;
#else
constexpr int kV = 1;
#endif
using Vec = float __attribute__((vector_size(kV * sizeof(float))));

// Unaligned load and store; memcpy compiles to one vector move. By reference:
// a vector passed by value changes the ABI with the target (-Wpsabi).
inline void Load(Vec& v, const float* p) { std::memcpy(&v, p, sizeof v); }
inline void Store(float* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }

// Row block x column block of the output, each column block one vector:
// R x C accumulators stay in registers across the whole k loop.
// R * C <= 10 keeps accumulators, weights and a broadcast within 16 registers.
constexpr int kRows = 5;
constexpr int kCols = 2;

template <int R, int C>
void ForwardBlock(const float* const* x, int64_t k, const float* t, int64_t n, const int64_t* o,
                  const float* bias, bool relu, float* z) {
  Vec acc[R][C];
  for (int c = 0; c < C; ++c) {
    Vec b = {};
    if (bias != nullptr) Load(b, bias + o[c]);
    for (int r = 0; r < R; ++r) acc[r][c] = b;
  }
  const float* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = x[r];
  for (int64_t i = 0; i < k; ++i) {
    Vec w[C];
    for (int c = 0; c < C; ++c) Load(w[c], t + i * n + o[c]);
    for (int r = 0; r < R; ++r) {
      const float s = xr[r][i];
      for (int c = 0; c < C; ++c) acc[r][c] += s * w[c];
    }
  }
  const Vec zero = {};
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const Vec v = relu ? (acc[r][c] > zero ? acc[r][c] : zero) : acc[r][c];
      Store(z + r * n + o[c], v);
    }
  }
}

// d is pre-scaled per column block (`s[c]`, whose lanes below the block's first
// new column are 0, so overlapping lanes receive exactly +0). The blocks are
// loaded together and stored last to first: the first block's (updated)
// overlapping lanes overwrite the last block's (stale, unchanged) ones.
template <int R, int C>
void OuterBlock(const float* const* x, int64_t k, const float* d, int64_t n, const int64_t* o,
                const Vec* s, float* t) {
  Vec dv[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      Load(dv[r][c], d + r * n + o[c]);
      dv[r][c] *= s[c];
    }
  const float* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = x[r];
  for (int64_t i = 0; i < k; ++i) {
    float* ti = t + i * n;
    Vec acc[C];
    for (int c = 0; c < C; ++c) Load(acc[c], ti + o[c]);
    for (int r = 0; r < R; ++r) {
      const float xi = xr[r][i];
      for (int c = 0; c < C; ++c) acc[c] += xi * dv[r][c];
    }
    for (int c = C - 1; c >= 0; --c) Store(ti + o[c], acc[c]);
  }
}

// Calls Block<R, C> over every block of kRows rows, then the remainder.
template <typename F>
void OverRows(int64_t rows, F&& block) {
  int64_t r = 0;
  for (; r + kRows <= rows; r += kRows) block(std::integral_constant<int, kRows>(), r);
  switch (rows - r) {
    case 4:
      block(std::integral_constant<int, 4>(), r);
      break;
    case 3:
      block(std::integral_constant<int, 3>(), r);
      break;
    case 2:
      block(std::integral_constant<int, 2>(), r);
      break;
    case 1:
      block(std::integral_constant<int, 1>(), r);
      break;
    default:
      break;
  }
}

// Column blocks of up to kCols vectors; a last vector past n is moved back to
// end at n. `lo[c]`: lanes of block c that an earlier vector already covers.
template <typename F>
void OverCols(int64_t n, F&& block) {
  for (int64_t c0 = 0; c0 < n; c0 += kCols * kV) {
    int64_t o[kCols];
    int lo[kCols];
    int count = 0;
    for (int c = 0; c < kCols && c0 + c * kV < n; ++c, ++count) {
      const int64_t nominal = c0 + c * kV;
      o[c] = std::min(nominal, n - kV);
      lo[c] = static_cast<int>(nominal - o[c]);
    }
    if (count == kCols) {
      block(std::integral_constant<int, kCols>(), o, lo);
    } else {
      block(std::integral_constant<int, 1>(), o, lo);
    }
  }
}

}  // namespace

void DenseForward(const float* const* x, int64_t rows, int64_t k, const float* t, int64_t n,
                  const float* bias, bool relu, float* z) {
  if (n < kV) {  // Reference loops.
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < n; ++o) {
        float acc = bias != nullptr ? bias[o] : 0.f;
        for (int64_t i = 0; i < k; ++i) acc += x[r][i] * t[i * n + o];
        z[r * n + o] = relu ? std::max(acc, 0.f) : acc;
      }
    }
    return;
  }
  OverCols(n, [&](auto cols, const int64_t* o, const int*) {
    constexpr int C = decltype(cols)::value;
    OverRows(rows, [&](auto rb, int64_t r) {
      ForwardBlock<decltype(rb)::value, C>(x + r, k, t, n, o, bias, relu, z + r * n);
    });
  });
}

void AccumulateOuter(const float* const* x, int64_t rows, int64_t k, const float* d, int64_t n,
                     float scale, float* t) {
  if (n < kV) {
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t o = 0; o < n; ++o) {
        float acc = 0;
        for (int64_t r = 0; r < rows; ++r) acc += x[r][i] * d[r * n + o];
        t[i * n + o] += scale * acc;
      }
    }
    return;
  }
  OverCols(n, [&](auto cols, const int64_t* o, const int* lo) {
    constexpr int C = decltype(cols)::value;
    Vec s[C] = {};
    for (int c = 0; c < C; ++c)
      for (int j = 0; j < kV; ++j) s[c][j] = j < lo[c] ? 0.f : scale;
    OverRows(rows, [&](auto rb, int64_t r) {
      OuterBlock<decltype(rb)::value, C>(x + r, k, d + r * n, n, o, s, t);
    });
  });
}

void AccumulateColumnSums(const float* d, int64_t rows, int64_t n, float scale, float* t) {
  for (int64_t r = 0; r < rows; ++r)  // Row by row: contiguous, vectorized over o.
    for (int64_t o = 0; o < n; ++o) t[o] += scale * d[r * n + o];
}

void Transpose(const float* in, int64_t k, int64_t n, float* out) {
  for (int64_t i = 0; i < k; ++i)
    for (int64_t o = 0; o < n; ++o) out[o * k + i] = in[i * n + o];
}

}  // namespace fedtiny::client
