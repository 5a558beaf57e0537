// Float rows against double vectors, for the methods that compute in double
// (distances, geometric median, centered clipping): the buffered updates stay
// float, the iterate and the sums are double, so that updates far apart or near
// the float limit neither overflow nor cancel. Eigen's mixed float/double
// expressions run at about half the speed of these explicit four-lane loops.
#ifndef FEDTINY_AGGREGATION_ROW_KERNELS_H_
#define FEDTINY_AGGREGATION_ROW_KERNELS_H_

#include "absl/types/span.h"

namespace fedtiny::aggregation {

// sum_j (x[j] - z[j])^2 in double. Requires z.size() == x.size().
double SquaredDistance(absl::Span<const float> x, absl::Span<const double> z);

// out[j] += c * x[j] in double. Requires out.size() == x.size().
void AddScaled(double c, absl::Span<const float> x, absl::Span<double> out);

// out[j] = x[j] - z[j] in double. Requires equal sizes.
void Difference(absl::Span<const float> x, absl::Span<const double> z,
                absl::Span<double> out);

// BlendIfFinite: out[j] = m[j] + c * (x[j] - m[j]) in double (a running
// weighted mean taking one more update), checking in the same single pass over
// x that no x[j] is a NaN or an Inf. Returns false when one is; `out` then holds
// garbage and must be discarded (m is never written, so a caller that blends
// into a second buffer and swaps on success changes nothing on error).
// Requires equal sizes; `out` may not alias `x` or `m`.
bool BlendIfFinite(double c, absl::Span<const float> x, absl::Span<const double> m,
                   absl::Span<double> out);

}  // namespace fedtiny::aggregation

#endif  // FEDTINY_AGGREGATION_ROW_KERNELS_H_
