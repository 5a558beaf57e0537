// Deliberately plain reference implementations (sorting, explicit distance loops)
// that the tests compare the real aggregators against. Test-only.
#ifndef FEDTINY_AGGREGATION_NAIVE_REFERENCE_H_
#define FEDTINY_AGGREGATION_NAIVE_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace fedtiny::aggregation::naive {

using Vec = std::vector<double>;
using Mat = std::vector<Vec>;  // One update per row.

inline double Dist2(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t j = 0; j < a.size(); ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

inline Vec Mean(const Mat& x, const std::vector<int>& rows) {
  Vec m(x[0].size(), 0.0);
  for (int i : rows)
    for (size_t j = 0; j < m.size(); ++j) m[j] += x[i][j] / rows.size();
  return m;
}

inline Vec Column(const Mat& x, size_t j) {
  Vec c;
  for (const Vec& r : x) c.push_back(r[j]);
  std::sort(c.begin(), c.end());
  return c;
}

inline Vec Median(const Mat& x) {
  Vec out;
  for (size_t j = 0; j < x[0].size(); ++j) {
    Vec c = Column(x, j);
    const size_t n = c.size();
    out.push_back(n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]));
  }
  return out;
}

inline Vec TrimmedMean(const Mat& x, int k) {
  Vec out;
  for (size_t j = 0; j < x[0].size(); ++j) {
    Vec c = Column(x, j);
    double s = 0;
    for (size_t i = k; i < c.size() - k; ++i) s += c[i];
    out.push_back(s / (c.size() - 2 * k));
  }
  return out;
}

// Krum scores with explicit n^2 distance loops.
inline Vec KrumScores(const Mat& x, const std::vector<int>& active, int k) {
  Vec scores;
  for (int i : active) {
    Vec d;
    for (int j : active)
      if (j != i) d.push_back(Dist2(x[i], x[j]));
    std::sort(d.begin(), d.end());
    scores.push_back(std::accumulate(d.begin(), d.begin() + k, 0.0));
  }
  return scores;
}

inline Vec MultiKrum(const Mat& x, int f, int m) {
  const int n = x.size();
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  Vec s = KrumScores(x, all, n - f - 2);
  std::stable_sort(all.begin(), all.end(), [&](int a, int b) { return s[a] < s[b]; });
  all.resize(m);
  return Mean(x, all);
}

inline double GeoObjective(const Mat& x, const Vec& z) {
  double s = 0;
  for (const Vec& r : x) s += std::sqrt(Dist2(r, z));
  return s;
}

// Plain Weiszfeld iterations in double, 20000 of them, from the coordinate-wise
// median nudged off any update (Weiszfeld stalls on an update it starts at).
inline Vec GeometricMedian(const Mat& x) {
  Vec z = Median(x);
  for (size_t j = 0; j < z.size(); ++j)
    z[j] += 1e-7 * (1 + std::fabs(z[j])) * (j + 1);
  for (int it = 0; it < 20000; ++it) {
    Vec num(z.size(), 0.0);
    double den = 0;
    for (const Vec& r : x) {
      const double w = 1.0 / std::max(std::sqrt(Dist2(r, z)), 1e-300);
      den += w;
      for (size_t j = 0; j < z.size(); ++j) num[j] += w * r[j];
    }
    for (double& v : num) v /= den;
    if (num == z) break;
    z = num;
  }
  return z;
}

inline Vec CenteredClipping(const Mat& x, double tau, int iters) {
  Vec v(x[0].size(), 0.0);
  for (int l = 0; l < iters; ++l) {
    Vec step(v.size(), 0.0);
    for (const Vec& r : x) {
      const double norm = std::sqrt(Dist2(r, v));
      const double scale = std::min(1.0, tau / norm);
      for (size_t j = 0; j < v.size(); ++j) step[j] += scale * (r[j] - v[j]) / x.size();
    }
    for (size_t j = 0; j < v.size(); ++j) v[j] += step[j];
  }
  return v;
}

inline Mat NearestNeighborMix(const Mat& x, int f) {
  const int n = x.size();
  Mat out;
  for (int i = 0; i < n; ++i) {
    std::vector<int> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
      return Dist2(x[i], x[a]) < Dist2(x[i], x[b]);
    });
    idx.resize(n - f);
    out.push_back(Mean(x, idx));
  }
  return out;
}

inline Vec Bulyan(const Mat& x, int f) {
  const int n = x.size(), theta = n - 2 * f, beta = theta - 2 * f;
  std::vector<int> remaining(n);
  std::iota(remaining.begin(), remaining.end(), 0);
  Mat chosen;
  for (int t = 0; t < theta; ++t) {
    const int r = remaining.size();
    const int k = std::max(1, std::min(r - 1, r - f - 2));
    Vec s = r > 1 ? KrumScores(x, remaining, k) : Vec{0.0};
    const int best = std::min_element(s.begin(), s.end()) - s.begin();
    chosen.push_back(x[remaining[best]]);
    remaining.erase(remaining.begin() + best);
  }
  Vec med = Median(chosen), out;
  for (size_t j = 0; j < x[0].size(); ++j) {
    Vec c;
    for (const Vec& r : chosen) c.push_back(r[j]);
    std::sort(c.begin(), c.end(), [&](double a, double b) {
      return std::fabs(a - med[j]) < std::fabs(b - med[j]);
    });
    out.push_back(std::accumulate(c.begin(), c.begin() + beta, 0.0) / beta);
  }
  return out;
}

}  // namespace fedtiny::aggregation::naive

#endif  // FEDTINY_AGGREGATION_NAIVE_REFERENCE_H_
