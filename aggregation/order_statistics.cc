#include "aggregation/order_statistics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace fedtiny::aggregation {

namespace {

constexpr int64_t kBlock = 64;  // Coordinates per block (keys: n * 256 bytes).

// Order-preserving float -> int32 (negative floats: flip the magnitude bits).
inline int32_t Key(float f) {
  int32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b ^ ((b >> 31) & 0x7fffffff);
}

inline float FromKey(int32_t k) {
  const int32_t b = k ^ ((k >> 31) & 0x7fffffff);
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}

// counts[j] = #{i : keys[i * B + j] < cand[j]} for j < B. The hot loop.
// Eight int32 lanes; unaligned loads. In the "default" clone GCC lowers these to
// SSE2 pairs, in the "avx2" clone to single AVX2 instructions.
typedef int32_t V8 __attribute__((vector_size(32), aligned(4)));

// counts[j] = #{i : keys[i * kBlock + j] < cand[j]}. The hot loop: for each group
// of 32 columns, four vector counters stay in registers across all n rows.
__attribute__((target_clones("avx2", "default"))) void CountBelow(
    const int32_t* __restrict keys, int64_t n, const int32_t* __restrict cand,
    int32_t* __restrict counts) {
  static_assert(kBlock % 32 == 0, "kBlock must be a multiple of 32");
  for (int64_t j = 0; j < kBlock; j += 32) {
    V8 c0 = {}, c1 = {}, c2 = {}, c3 = {}, p0, p1, p2, p3;
    __builtin_memcpy(&p0, cand + j, 32);
    __builtin_memcpy(&p1, cand + j + 8, 32);
    __builtin_memcpy(&p2, cand + j + 16, 32);
    __builtin_memcpy(&p3, cand + j + 24, 32);
    for (int64_t i = 0; i < n; ++i) {
      const int32_t* row = keys + i * kBlock + j;
      V8 r0, r1, r2, r3;
      __builtin_memcpy(&r0, row, 32);
      __builtin_memcpy(&r1, row + 8, 32);
      __builtin_memcpy(&r2, row + 16, 32);
      __builtin_memcpy(&r3, row + 24, 32);
      c0 -= r0 < p0;  // A true comparison is -1.
      c1 -= r1 < p1;
      c2 -= r2 < p2;
      c3 -= r3 < p3;
    }
    __builtin_memcpy(counts + j, &c0, 32);
    __builtin_memcpy(counts + j + 8, &c1, 32);
    __builtin_memcpy(counts + j + 16, &c2, 32);
    __builtin_memcpy(counts + j + 24, &c3, 32);
  }
}

// out[j] = Key(bits[j]) for one row of kBlock floats (given as their bits).
__attribute__((target_clones("avx2", "default"))) void LoadKeys(
    const int32_t* __restrict bits, int32_t* __restrict out) {
  for (int64_t j = 0; j < kBlock; j += 8) {
    V8 b;
    __builtin_memcpy(&b, bits + j, 32);
    b ^= (b >> 31) & 0x7fffffff;
    __builtin_memcpy(out + j, &b, 32);
  }
}

// out[j] = the largest keys[i * kBlock + j] below bound[j] (INT32_MIN if none).
__attribute__((target_clones("avx2", "default"))) void MaxBelow(
    const int32_t* __restrict keys, int64_t n, const int32_t* __restrict bound,
    int32_t* __restrict out) {
  for (int64_t j = 0; j < kBlock; j += 8) {
    V8 b, best;
    __builtin_memcpy(&b, bound + j, 32);
    for (int k = 0; k < 8; ++k) best[k] = std::numeric_limits<int32_t>::min();
    for (int64_t i = 0; i < n; ++i) {
      V8 r;
      __builtin_memcpy(&r, keys + i * kBlock + j, 32);
      const V8 take = (r < b) & (r > best);
      best = take ? r : best;
    }
    __builtin_memcpy(out + j, &best, 32);
  }
}

typedef float V8F __attribute__((vector_size(32), aligned(4)));

// Per column j: the sum of the values strictly between keys lo[j] and hi[j], and
// how many keys are below lo, above hi, equal to lo, equal to hi. Float lanes
// are flushed into double sums every 64 rows to bound rounding.
__attribute__((target_clones("avx2", "default"))) void RangeStats(
    const int32_t* __restrict keys, int64_t n, const int32_t* __restrict lo_in,
    const int32_t* __restrict hi_in, double* __restrict sums,
    int32_t* __restrict below_lo, int32_t* __restrict above_hi,
    int32_t* __restrict eq_lo, int32_t* __restrict eq_hi) {
  constexpr int64_t kFlush = 64;
  for (int64_t j = 0; j < kBlock; j += 8) {
    V8 lo, hi, blo = {}, ahi = {}, elo = {}, ehi = {};
    __builtin_memcpy(&lo, lo_in + j, 32);
    __builtin_memcpy(&hi, hi_in + j, 32);
    double total[8] = {};
    for (int64_t i0 = 0; i0 < n; i0 += kFlush) {
      V8F part = {};
      const int64_t i1 = std::min(n, i0 + kFlush);
      for (int64_t i = i0; i < i1; ++i) {
        V8 k;
        __builtin_memcpy(&k, keys + i * kBlock + j, 32);
        blo -= k < lo;
        ahi -= k > hi;
        elo -= k == lo;
        ehi -= k == hi;
        V8 bits = k ^ ((k >> 31) & 0x7fffffff);
        V8F v;
        __builtin_memcpy(&v, &bits, 32);
        const V8 inside = (k > lo) & (k < hi);
        part += inside ? v : V8F{};
      }
      for (int t = 0; t < 8; ++t) total[t] += part[t];
    }
    for (int t = 0; t < 8; ++t) {
      sums[j + t] = total[t];
      below_lo[j + t] = blo[t];
      above_hi[j + t] = ahi[t];
      eq_lo[j + t] = elo[t];
      eq_hi[j + t] = ehi[t];
    }
  }
}

// Block of keys, padded to kBlock columns, with the order statistics it needs.
class KeyBlock {
 public:
  explicit KeyBlock(int64_t n) : n_(n), keys_(n * kBlock) {}

  void Load(const ConstRowMatrixMap& x, int64_t j0, int64_t width) {
    for (int64_t i = 0; i < n_; ++i) {
      const float* row = x.data() + i * x.cols() + j0;
      int32_t* out = keys_.data() + i * kBlock;
      if (width == kBlock) {
        LoadKeys(reinterpret_cast<const int32_t*>(row), out);
        continue;
      }
      for (int64_t j = 0; j < width; ++j) out[j] = Key(row[j]);
      for (int64_t j = width; j < kBlock; ++j) out[j] = 0;
    }
  }

  // out[j] = the k-th smallest key (0-based) of column j.
  void Select(int64_t k, int32_t* out) {
    // Build the answer in the unsigned image u = key ^ 0x80000000, top bit first.
    uint32_t prefix[kBlock] = {};
    int32_t cand[kBlock], counts[kBlock];
    for (int bit = 31; bit >= 0; --bit) {
      for (int64_t j = 0; j < kBlock; ++j) {
        cand[j] = static_cast<int32_t>((prefix[j] | (1u << bit)) ^ 0x80000000u);
      }
      CountBelow(keys_.data(), n_, cand, counts);
      for (int64_t j = 0; j < kBlock; ++j) {
        if (counts[j] <= k) prefix[j] |= 1u << bit;
      }
    }
    for (int64_t j = 0; j < kBlock; ++j) {
      out[j] = static_cast<int32_t>(prefix[j] ^ 0x80000000u);
    }
  }

  // out[j] = the key of rank `rank` in column j, given that bound[j] is the key
  // of rank `rank + 1`: the largest key below the bound, or the bound on a tie.
  void PreviousRank(int64_t rank, const int32_t* bound, int32_t* out) {
    int32_t below[kBlock];
    CountBelow(keys_.data(), n_, bound, below);
    MaxBelow(keys_.data(), n_, bound, out);
    // If more than `rank` keys are below the bound, rank `rank` is below it;
    // otherwise it ties with the bound.
    for (int64_t j = 0; j < kBlock; ++j) {
      if (below[j] <= rank) out[j] = bound[j];
    }
  }

  // Per column: the sum of the values ranked k .. n-k-1 (ties split exactly),
  // given lo = rank k key and hi = rank n-k-1 key.
  void TrimmedSums(int64_t k, const int32_t* lo, const int32_t* hi, double* sums) {
    int32_t below_lo[kBlock], above_hi[kBlock], eq_lo[kBlock], eq_hi[kBlock];
    RangeStats(keys_.data(), n_, lo, hi, sums, below_lo, above_hi, eq_lo, eq_hi);
    for (int64_t j = 0; j < kBlock; ++j) {
      // RangeStats' float partial sums overflow near the float limit: redo
      // such a column in double (rare, so the vector kernel stays the rule).
      if (!std::isfinite(sums[j])) sums[j] = SumBetween(j, lo[j], hi[j]);
      if (lo[j] == hi[j]) {  // Every kept value equals lo.
        sums[j] = static_cast<double>(n_ - 2 * k) * FromKey(lo[j]);
        continue;
      }
      // Kept copies of lo are ranks k .. below_lo + eq_lo - 1; likewise for hi.
      const int64_t keep_lo = below_lo[j] + eq_lo[j] - k;
      const int64_t keep_hi = above_hi[j] + eq_hi[j] - k;
      sums[j] += keep_lo * static_cast<double>(FromKey(lo[j])) +
                 keep_hi * static_cast<double>(FromKey(hi[j]));
    }
  }

 private:
  // In double: the sum of column j's values with keys in (lo, hi).
  double SumBetween(int64_t j, int32_t lo, int32_t hi) const {
    double s = 0;
    for (int64_t i = 0; i < n_; ++i) {
      const int32_t k = keys_[i * kBlock + j];
      if (k > lo && k < hi) s += FromKey(k);
    }
    return s;
  }

  const int64_t n_;
  std::vector<int32_t> keys_;
};

template <typename PerBlock>
Eigen::VectorXf ForEachBlock(const ConstRowMatrixMap& x, PerBlock per_block) {
  const int64_t n = x.rows(), d = x.cols();
  Eigen::VectorXf out(d);
  KeyBlock block(n);
  float values[kBlock];
  for (int64_t j0 = 0; j0 < d; j0 += kBlock) {
    const int64_t width = std::min(kBlock, d - j0);
    block.Load(x, j0, width);
    per_block(block, values);
    for (int64_t j = 0; j < width; ++j) out[j0 + j] = values[j];
  }
  return out;
}

}  // namespace

Eigen::VectorXf CoordinateMedian(const ConstRowMatrixMap& x) {
  const int64_t n = x.rows();
  return ForEachBlock(x, [n](KeyBlock& block, float* values) {
    int32_t upper[kBlock], lower[kBlock];
    block.Select(n / 2, upper);
    if (n % 2 == 0) block.PreviousRank(n / 2 - 1, upper, lower);
    for (int64_t j = 0; j < kBlock; ++j) {
      // The midpoint in double: lower + upper overflows float near its limit.
      values[j] = n % 2 ? FromKey(upper[j])
                        : static_cast<float>(0.5 * (double{FromKey(lower[j])} +
                                                    FromKey(upper[j])));
    }
  });
}

Eigen::VectorXf CoordinateTrimmedMean(const ConstRowMatrixMap& x, int64_t k) {
  const int64_t n = x.rows();
  return ForEachBlock(x, [n, k](KeyBlock& block, float* values) {
    int32_t lo[kBlock], hi[kBlock];
    double sums[kBlock];
    block.Select(k, lo);
    block.Select(n - k - 1, hi);
    block.TrimmedSums(k, lo, hi, sums);
    for (int64_t j = 0; j < kBlock; ++j) {
      values[j] = static_cast<float>(sums[j] / static_cast<double>(n - 2 * k));
    }
  });
}

}  // namespace fedtiny::aggregation
