// The head trainer's inner products, written for small dense layers and small
// batches (a 128 -> 64 -> 10 head, batches of 10): sizes where a general GEMM
// spends more time packing and dispatching than multiplying.
//
// Portable C++ (GCC/Clang vector extensions, no intrinsics): vectors of the
// target's SIMD width (8 floats with AVX, 4 with SSE2 or NEON, 1 without SIMD,
// e.g. a Cortex-M). Register-blocked over rows and output columns; a width that
// is not a multiple of the vector is covered by one last overlapping vector,
// widths under one vector by scalar loops. Nothing is allocated.
//
// Layout: `x` are row pointers (each row `k` floats); a k x n operand `t` is
// row-major with stride n (an Eigen column-major out x in weight matrix is its
// transpose's row-major, so W.data() is a k = in, n = out operand).
//
// Free functions without state: safe to call from many threads on distinct
// outputs; they neither own nor keep any pointer.
#ifndef FEDTINY_CLIENT_CORE_DENSE_KERNELS_H_
#define FEDTINY_CLIENT_CORE_DENSE_KERNELS_H_

#include <cstdint>

namespace fedtiny::client {

// DenseForward: z[r*n + o] = bias[o] + sum_i x[r][i] * t[i*n + o] for r < rows,
// o < n; then max(0, .) when `relu`. `bias` may be null (zero). `z` must not
// alias `t`, `bias` or any row of `x`.
void DenseForward(const float* const* x, int64_t rows, int64_t k, const float* t, int64_t n,
                  const float* bias, bool relu, float* z);

// AccumulateOuter: t[i*n + o] += scale * sum_r x[r][i] * d[r*n + o] (a
// rank-`rows` update, the weight gradient of a dense layer). `t` must not alias
// `x` or `d`.
void AccumulateOuter(const float* const* x, int64_t rows, int64_t k, const float* d, int64_t n,
                     float scale, float* t);

// AccumulateColumnSums: t[o] += scale * sum_r d[r*n + o] (the bias gradient).
void AccumulateColumnSums(const float* d, int64_t rows, int64_t n, float scale, float* t);

// Transpose: out[o*k + i] = in[i*n + o] (k x n row-major to n x k row-major).
void Transpose(const float* in, int64_t k, int64_t n, float* out);

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_DENSE_KERNELS_H_
