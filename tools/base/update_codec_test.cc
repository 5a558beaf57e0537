#include "tools/base/update_codec.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedtiny {
namespace {

using update_codec_internal::Fwht;
using update_codec_internal::SplitMix64;

CompressionSpec Spec(const std::string& text) {
  CompressionSpec s;
  std::string error;
  EXPECT_TRUE(ParseCompressionSpec(text, &s, &error)) << error;
  return s;
}

std::vector<float> RandomDelta(size_t d, uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> n(0.f, 0.01f);
  std::vector<float> x(d);
  for (float& v : x) v = n(g);
  x[d / 2] = 0.2f;  // One large coordinate: what the rotation spreads.
  return x;
}

// The rotation from the header's definition, in double with the O(n^2)
// Hadamard matrix H[i][j] = (-1)^popcount(i & j) / sqrt(n) per block.
std::vector<double> NaiveRotation(const std::vector<float>& x, size_t padded, size_t block, uint64_t seed) {
  std::vector<double> s(padded, 0.0), y(padded, 0.0);
  SplitMix64 g{seed};
  uint64_t w = 0;
  for (size_t i = 0; i < padded; ++i) {
    if (i % 64 == 0) w = g.Next();
    const double v = i < x.size() ? x[i] : 0.0;
    s[i] = ((w >> (i % 64)) & 1) ? -v : v;
  }
  for (size_t b = 0; b < padded; b += block) {
    for (size_t i = 0; i < block; ++i) {
      for (size_t j = 0; j < block; ++j) {
        const double h = (__builtin_popcountll(i & j) % 2 ? -1.0 : 1.0) / std::sqrt(double(block));
        y[b + i] += h * s[b + j];
      }
    }
  }
  return y;
}

TEST(UpdateCodecTest, FwhtMatchesTheHadamardMatrix) {
  for (size_t n : {1, 2, 4, 16, 128, 1024}) {
    std::vector<float> v = RandomDelta(n, 7);
    const std::vector<float> x = v;
    Fwht(v.data(), n);
    for (size_t i = 0; i < n; ++i) {
      double want = 0;
      for (size_t j = 0; j < n; ++j) {
        want += (__builtin_popcountll(i & j) % 2 ? -1.0 : 1.0) * x[j];
      }
      ASSERT_NEAR(v[i], want / std::sqrt(double(n)), 1e-5) << "n " << n << " i " << i;
    }
  }
}

TEST(UpdateCodecTest, LevelsAreTheNaiveRotationRounded) {
  // 3000 values: blocks of 1024, padded to 3072; 8 bits.
  const std::vector<float> x = RandomDelta(3000, 1);
  const CompressionSpec spec = Spec("hadamard:bits=8");
  const uint64_t seed = CompressionSeed("t", 3, "token");
  std::string bytes, error;
  ASSERT_TRUE(EncodeCompressed(x.data(), x.size(), spec, seed, 99, &bytes, &error)) << error;
  ASSERT_EQ(CompressedPaddedDim(3000), 3072u);
  const std::vector<double> y = NaiveRotation(x, 3072, 1024, seed);
  double lo = y[0], hi = y[0];
  for (double v : y) lo = std::min(lo, v), hi = std::max(hi, v);
  std::vector<uint64_t> levels;
  ASSERT_TRUE(CompressedLevels(bytes, spec, 3000, seed, &levels, &error)) << error;
  ASSERT_EQ(levels.size(), 3072u);
  for (size_t i = 0; i < levels.size(); ++i) {
    const double t = (y[i] - lo) / ((hi - lo) / 255);
    ASSERT_GE(double(levels[i]), std::floor(t) - 1e-3) << i;
    ASSERT_LE(double(levels[i]), std::ceil(t) + 1e-3) << i;
  }
  // Random-k: level j is the rounded y[perm[j]], perm from the documented
  // selection stream (partial Fisher-Yates).
  const CompressionSpec half = Spec("hadamard:bits=8,k=0.5");
  ASSERT_TRUE(EncodeCompressed(x.data(), x.size(), half, seed, 99, &bytes, &error)) << error;
  ASSERT_TRUE(CompressedLevels(bytes, half, 3000, seed, &levels, &error)) << error;
  ASSERT_EQ(levels.size(), 1536u);
  std::vector<uint32_t> perm(3072);
  for (uint32_t i = 0; i < perm.size(); ++i) perm[i] = i;
  SplitMix64 g{seed ^ 0xd1b54a32d192ed03ULL};
  for (size_t i = 0; i < levels.size(); ++i) std::swap(perm[i], perm[i + g.Next() % (3072 - i)]);
  lo = hi = y[perm[0]];
  for (size_t j = 0; j < levels.size(); ++j) lo = std::min(lo, y[perm[j]]), hi = std::max(hi, y[perm[j]]);
  for (size_t j = 0; j < levels.size(); ++j) {
    const double t = (y[perm[j]] - lo) / ((hi - lo) / 255);
    ASSERT_GE(double(levels[j]), std::floor(t) - 1e-3) << j;
    ASSERT_LE(double(levels[j]), std::ceil(t) + 1e-3) << j;
  }
}

// Mean of decode(encode(x)) over `trials` draws; per coordinate |mean - x|
// must stay within 5 standard errors, and sum of squared z-scores near d.
void ExpectUnbiased(const std::string& text, bool vary_seed) {
  const size_t d = 100;
  const std::vector<float> x = RandomDelta(d, 2);
  const CompressionSpec spec = Spec(text);
  const int trials = 3000;
  std::vector<double> sum(d, 0), sum2(d, 0);
  std::string bytes, error;
  std::vector<float> out;
  for (int t = 0; t < trials; ++t) {
    const uint64_t seed = CompressionSeed("task", vary_seed ? t : 0, "device");
    ASSERT_TRUE(EncodeCompressed(x.data(), d, spec, seed, 1000 + t, &bytes, &error)) << error;
    ASSERT_TRUE(DecodeCompressed(bytes, spec, d, seed, &out, &error)) << error;
    for (size_t i = 0; i < d; ++i) sum[i] += out[i], sum2[i] += double(out[i]) * out[i];
  }
  double chi2 = 0;
  for (size_t i = 0; i < d; ++i) {
    const double mean = sum[i] / trials;
    const double se = std::sqrt((sum2[i] / trials - mean * mean) / trials);
    EXPECT_LT(std::abs(mean - x[i]), 5 * se + 1e-7) << text << " coordinate " << i;
    chi2 += (mean - x[i]) * (mean - x[i]) / (se * se);
  }
  EXPECT_LT(chi2, d + 6 * std::sqrt(2.0 * d)) << text;
}

TEST(UpdateCodecTest, UnbiasedAtEveryBitWidth) {
  for (const char* s : {"hadamard:bits=1", "hadamard:bits=2", "hadamard:bits=4", "hadamard:bits=8"}) {
    ExpectUnbiased(s, /*vary_seed=*/false);
  }
}

TEST(UpdateCodecTest, UnbiasedWithRandomK) {
  ExpectUnbiased("hadamard:bits=2,k=0.25", /*vary_seed=*/true);
  ExpectUnbiased("hadamard:bits=4,k=0.5", /*vary_seed=*/true);
}

TEST(UpdateCodecTest, ErrorMatchesTheClosedForm) {
  // Stochastic rounding of y between levels l <= y <= u has variance
  // (y - l)(u - y) <= step^2 / 4; the rotation is orthonormal, so the
  // expected squared error of the decoded delta is their sum.
  const size_t d = 200;
  const std::vector<float> x = RandomDelta(d, 3);
  const uint64_t seed = CompressionSeed("task", 1, "device");
  for (int bits : {1, 2, 4}) {
    const CompressionSpec spec = Spec("hadamard:bits=" + std::to_string(bits));
    const std::vector<double> y = NaiveRotation(x, 256, 256, seed);
    double lo = y[0], hi = y[0];
    for (double v : y) lo = std::min(lo, v), hi = std::max(hi, v);
    const double step = (hi - lo) / ((1 << bits) - 1);
    double want = 0;
    for (double v : y) {
      const double l = lo + step * std::floor((v - lo) / step);
      want += (v - l) * std::max(0.0, l + step - v);
    }
    ASSERT_LE(want, 256 * step * step / 4);
    const int trials = 2000;
    double got = 0;
    std::string bytes, error;
    std::vector<float> out;
    for (int t = 0; t < trials; ++t) {
      ASSERT_TRUE(EncodeCompressed(x.data(), d, spec, seed, t, &bytes, &error)) << error;
      ASSERT_TRUE(DecodeCompressed(bytes, spec, d, seed, &out, &error)) << error;
      for (size_t i = 0; i < d; ++i) got += (double(out[i]) - x[i]) * (double(out[i]) - x[i]);
    }
    got /= trials;
    // Truncation to d keeps a d/P share of the error in expectation.
    EXPECT_NEAR(got, want * d / 256, 0.1 * want * d / 256) << bits << " bits";
  }
}

TEST(UpdateCodecTest, RandomKErrorMatchesTheClosedForm) {
  // d = P = 256 (no truncation), k = 0.25: m = 64 kept values scaled by
  // s = 4. Given the seed (rotation and kept set, rebuilt here from the
  // header's definition), E|decode - x|^2 = sum over kept i of
  // (s - 1)^2 y_i^2 + s^2 (y_i - l_i)(u_i - y_i), plus y_i^2 over the others.
  const size_t d = 256, m = 64;
  const double scale = double(d) / m;
  const std::vector<float> x = RandomDelta(d, 5);
  const CompressionSpec spec = Spec("hadamard:bits=2,k=0.25");
  ASSERT_EQ(CompressedKept(spec, d), m);
  double want = 0, got = 0;
  const int trials = 4000;
  std::string bytes, error;
  std::vector<float> out;
  for (int t = 0; t < trials; ++t) {
    const uint64_t seed = CompressionSeed("task", t, "device");
    const std::vector<double> y = NaiveRotation(x, d, d, seed);
    std::vector<uint32_t> perm(d);
    for (uint32_t i = 0; i < d; ++i) perm[i] = i;
    SplitMix64 g{seed ^ 0xd1b54a32d192ed03ULL};
    for (size_t i = 0; i < m; ++i) std::swap(perm[i], perm[i + g.Next() % (d - i)]);
    double lo = y[perm[0]], hi = y[perm[0]];
    for (size_t j = 0; j < m; ++j) lo = std::min(lo, y[perm[j]]), hi = std::max(hi, y[perm[j]]);
    const double step = (hi - lo) / 3;
    std::vector<bool> kept(d, false);
    double rounding = 0;  // At most m step^2 / 4.
    for (size_t j = 0; j < m; ++j) {
      const double v = y[perm[j]];
      const double l = std::min(lo + step * std::floor((v - lo) / step), hi - step);
      rounding += (v - l) * (l + step - v);
      want += (scale - 1) * (scale - 1) * v * v;
      kept[perm[j]] = true;
    }
    ASSERT_LE(rounding, m * step * step / 4 * (1 + 1e-9));
    want += scale * scale * rounding;
    for (size_t i = 0; i < d; ++i) {
      if (!kept[i]) want += y[i] * y[i];
    }
    ASSERT_TRUE(EncodeCompressed(x.data(), d, spec, seed, 77 + t, &bytes, &error)) << error;
    ASSERT_TRUE(DecodeCompressed(bytes, spec, d, seed, &out, &error)) << error;
    for (size_t i = 0; i < d; ++i) got += (double(out[i]) - x[i]) * (double(out[i]) - x[i]);
  }
  EXPECT_NEAR(got / trials, want / trials, 0.05 * want / trials);
}

TEST(UpdateCodecTest, SizesShrink) {
  const size_t d = 8906;  // The simulator's 128-64-10 head.
  EXPECT_EQ(CompressedPaddedDim(d), 9216u);
  EXPECT_EQ(CompressedBytes(Spec("hadamard:bits=2"), d), 28u + 9216 / 4);
  EXPECT_EQ(CompressedBytes(Spec("hadamard:bits=4,k=0.25"), d), 28u + 2304 / 2);
  EXPECT_EQ(CompressedBytes(Spec("hadamard:bits=1,k=0.001"), d), 28u + 2);
  EXPECT_EQ(CompressedPaddedDim(0), 0u);
  EXPECT_EQ(CompressedPaddedDim(5), 8u);
}

TEST(UpdateCodecTest, FixedRangeLevelsSum) {
  const size_t d = 300;
  const CompressionSpec spec = Spec("hadamard:bits=4,k=0.5,range=0.1");
  const uint64_t seed = CompressionSeed("task", 4, "");
  std::vector<uint64_t> total(CompressedKept(spec, d), 0);
  std::vector<double> decoded_sum(d, 0);
  std::string bytes, error;
  for (uint32_t dev = 0; dev < 5; ++dev) {
    const std::vector<float> x = RandomDelta(d, 10 + dev);
    ASSERT_TRUE(EncodeCompressed(x.data(), d, spec, seed, dev, &bytes, &error)) << error;
    std::vector<uint64_t> levels;
    std::vector<float> out;
    ASSERT_TRUE(CompressedLevels(bytes, spec, d, seed, &levels, &error)) << error;
    ASSERT_TRUE(DecodeCompressed(bytes, spec, d, seed, &out, &error)) << error;
    for (size_t j = 0; j < levels.size(); ++j) total[j] += levels[j];
    for (size_t i = 0; i < d; ++i) decoded_sum[i] += out[i];
  }
  std::vector<float> sum;
  ASSERT_TRUE(DecodeLevelSum(total, 5, spec, d, seed, &sum, &error)) << error;
  for (size_t i = 0; i < d; ++i) EXPECT_NEAR(sum[i], decoded_sum[i], 1e-5) << i;
  EXPECT_FALSE(DecodeLevelSum(total, 5, Spec("hadamard:bits=4,k=0.5"), d, seed, &sum, &error));
}

TEST(UpdateCodecTest, SpecsParseOrNameTheirFault) {
  EXPECT_TRUE(Spec("").none());
  const CompressionSpec s = Spec("hadamard:bits=2,k=0.25,range=0.5");
  EXPECT_EQ(s.bits, 2);
  EXPECT_DOUBLE_EQ(s.keep, 0.25);
  EXPECT_DOUBLE_EQ(s.range, 0.5);
  for (const char* bad : {"hadamard", "hadamard:", "hadamard:bits=3", "hadamard:bits=4,k=0", "hadamard:bits=4,k=1.5",
                          "hadamard:bits=4,bits=4", "hadamard:bits=4,x=1", "hadamard:bits=nan", "qsgd:bits=4",
                          "hadamard:k=0.5", "hadamard:bits=4,range=-1", "hadamard:bits=4,", "hadamard:bits=4,k=inf"}) {
    CompressionSpec spec;
    std::string error;
    EXPECT_FALSE(ParseCompressionSpec(bad, &spec, &error)) << bad;
    EXPECT_NE(error.find("compression"), std::string::npos) << bad;
  }
}

TEST(UpdateCodecTest, EncodeRefusesWhatItCannotCarry) {
  std::vector<float> x = {1, 2, NAN};
  std::string bytes, error;
  EXPECT_FALSE(EncodeCompressed(x.data(), 3, Spec("hadamard:bits=4"), 1, 1, &bytes, &error));
  EXPECT_FALSE(EncodeCompressed(x.data(), 0, Spec("hadamard:bits=4"), 1, 1, &bytes, &error));
  EXPECT_FALSE(EncodeCompressed(x.data(), 2, Spec(""), 1, 1, &bytes, &error));
  const std::vector<float> huge = {3e38f, 3e38f};  // Finite, but the rotation overflows.
  EXPECT_FALSE(EncodeCompressed(huge.data(), 2, Spec("hadamard:bits=4"), 0, 1, &bytes, &error));
  EXPECT_NE(error.find("overflows"), std::string::npos) << error;
}

class DecodeRefusalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(EncodeCompressed(x_.data(), x_.size(), spec_, seed_, 5, &good_, &error_)) << error_;
  }
  // Decodes `bytes` with the fixture's expectations; true when refused with a message.
  bool Refused(const std::string& bytes, const CompressionSpec& spec, size_t dim = 70) {
    std::vector<float> out;
    std::string error;
    const bool ok = DecodeCompressed(bytes, spec, dim, seed_, &out, &error);
    if (ok) {
      EXPECT_EQ(out.size(), dim);
      for (float v : out) EXPECT_TRUE(std::isfinite(v));
    }
    return !ok && error.rfind("compressed_delta: ", 0) == 0;
  }
  std::string With(size_t at, const std::string& patch) {
    std::string b = good_;
    b.replace(at, patch.size(), patch);
    return b;
  }
  const std::vector<float> x_ = RandomDelta(70, 4);
  const CompressionSpec spec_ = Spec("hadamard:bits=2");
  const uint64_t seed_ = CompressionSeed("task", 2, "tok");
  std::string good_, error_;
};

TEST_F(DecodeRefusalTest, RefusesEachMalformation) {
  ASSERT_EQ(good_.size(), 28u + 128 / 4);
  EXPECT_FALSE(Refused(good_, spec_));
  EXPECT_TRUE(Refused(good_.substr(0, good_.size() - 1), spec_));  // truncated
  EXPECT_TRUE(Refused(good_.substr(0, 10), spec_));                // inside the header
  EXPECT_TRUE(Refused(good_ + '\0', spec_));                       // trailing byte
  EXPECT_TRUE(Refused(good_, Spec("hadamard:bits=4")));            // bits mismatch
  EXPECT_TRUE(Refused(good_, Spec("hadamard:bits=2,k=0.5")));      // kept mismatch
  EXPECT_TRUE(Refused(good_, Spec("hadamard:bits=2,range=1")));    // not the fixed range
  EXPECT_TRUE(Refused(good_, Spec("")));                           // task takes float32
  EXPECT_TRUE(Refused(good_, spec_, 71));                          // wrong dims
  EXPECT_TRUE(Refused(With(0, "\x02"), spec_));                    // version
  EXPECT_TRUE(Refused(With(2, "\x01"), spec_));                    // reserved
  EXPECT_TRUE(Refused(With(12, "\x01"), spec_));                   // seed
  EXPECT_TRUE(Refused(With(20, std::string("\x00\x00\xc0\x7f", 4)), spec_));  // NaN lo
  EXPECT_TRUE(Refused(With(24, std::string("\x00\x00\x80\x7f", 4)), spec_));  // +Inf hi
  EXPECT_TRUE(Refused(With(20, std::string("\x00\x00\x80\x3f", 4)), spec_));  // lo 1 > hi
  std::vector<float> out;
  std::string error;
  EXPECT_FALSE(DecodeCompressed(With(4, std::string("\x47\x00\x00\x00", 4)), spec_, 70, seed_, &out, &error));
  EXPECT_NE(error.find("71 values, the head has 70"), std::string::npos) << error;
}

TEST_F(DecodeRefusalTest, PaddingBitsMustBeZero) {
  const CompressionSpec odd = Spec("hadamard:bits=1,k=0.05");  // 6 of 128 kept: 6 bits used.
  std::string b;
  ASSERT_TRUE(EncodeCompressed(x_.data(), 70, odd, seed_, 1, &b, &error_));
  EXPECT_FALSE(Refused(b, odd));
  b.back() = static_cast<char>(b.back() | 0x80);
  EXPECT_TRUE(Refused(b, odd));
}

TEST_F(DecodeRefusalTest, RandomCorruptionsNeverCrash) {
  std::mt19937 g(11);
  int refused = 0;
  for (int t = 0; t < 3000; ++t) {
    std::string b = good_;
    switch (t % 4) {
      case 0:
        b[g() % b.size()] = static_cast<char>(g());
        break;
      case 1:
        b.resize(g() % (b.size() + 8), static_cast<char>(g()));
        break;
      case 2:
        for (int k = 0; k < 4; ++k) b[g() % 28] = static_cast<char>(g());
        break;
      default:
        b.insert(g() % b.size(), 1, static_cast<char>(g()));
    }
    refused += Refused(b, spec_) ? 1 : 0;
  }
  // Level bytes corrupt into other valid levels; headers and sizes are refused.
  EXPECT_GT(refused, 1500);
}

}  // namespace
}  // namespace fedtiny
