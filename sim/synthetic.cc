#include "sim/synthetic.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

namespace fedtiny::sim {

namespace {

// Independent streams per (seed, device, purpose).
std::mt19937_64 Stream(uint64_t seed, int64_t k, uint64_t purpose) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32),
                    static_cast<uint32_t>(purpose)};
  return std::mt19937_64(seq);
}

}  // namespace

int64_t SyntheticSource::NumExamples(int64_t k) const {
  std::mt19937_64 rng = Stream(o_.seed, k, 7);
  std::lognormal_distribution<double> size(4.0, o_.size_sigma);
  return std::clamp(static_cast<int64_t>(size(rng)) + o_.size_offset, o_.min_examples,
                    o_.max_examples);
}

ClientData SyntheticSource::Make(int64_t k, int64_t n, uint64_t stream) const {
  // The device's model and input mean come from its own stream (purpose 0),
  // the examples from the requested stream.
  std::mt19937_64 dev = Stream(o_.seed, k, 0);
  std::normal_distribution<double> n01(0.0, 1.0);
  const double u = std::sqrt(o_.alpha) * n01(dev);
  const double big_b = std::sqrt(o_.beta) * n01(dev);
  Eigen::Matrix<double, kSyntheticClasses, kSyntheticDim> w;
  Eigen::Matrix<double, kSyntheticClasses, 1> b;
  Eigen::Matrix<double, kSyntheticDim, 1> v;
  for (int i = 0; i < w.size(); ++i) w.data()[i] = u + n01(dev);
  for (int i = 0; i < b.size(); ++i) b[i] = u + n01(dev);
  for (int j = 0; j < kSyntheticDim; ++j) v[j] = big_b + n01(dev);
  std::mt19937_64 ex = Stream(o_.seed, k, 100 + stream);
  ClientData d;
  d.features.resize(n, kSyntheticDim);
  d.labels.resize(n);
  // Standard deviations sqrt(Sigma_jj) = j^-0.6, j = 1..60.
  static const std::array<double, kSyntheticDim> kSd = [] {
    std::array<double, kSyntheticDim> sd;
    for (int j = 0; j < kSyntheticDim; ++j) sd[j] = std::pow(j + 1.0, -0.6);
    return sd;
  }();
  Eigen::Matrix<double, kSyntheticDim, 1> x;
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < kSyntheticDim; ++j) x[j] = v[j] + kSd[j] * n01(ex);
    Eigen::Index y;
    (w * x + b).maxCoeff(&y);
    d.labels[i] = static_cast<int32_t>(y);
    d.features.row(i) = x.cast<float>().transpose();
  }
  return d;
}

}  // namespace fedtiny::sim
