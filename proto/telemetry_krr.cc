#include "proto/telemetry_krr.h"

#include <cmath>

namespace fedtiny::telemetry {

KrrProbabilities KrrFor(int k, double epsilon) {
  const double other = std::exp(-epsilon);
  const double total = 1.0 + (k - 1) * other;
  return {1.0 / total, other / total};
}

}  // namespace fedtiny::telemetry
