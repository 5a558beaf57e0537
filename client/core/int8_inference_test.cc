#include "client/core/int8_inference.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <random>
#include <vector>

#include "gtest/gtest.h"

// Counts heap allocations while g_counting is set (this test binary only): the
// replaceable operator new, and on glibc the C allocator itself, interposed.
static std::atomic<bool> g_counting{false};
static std::atomic<int64_t> g_allocations{0};
static void CountAllocation() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}
void* operator new(size_t n) {
  CountAllocation();
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
// Under AddressSanitizer the C allocator is ASan's own: only operator new is
// counted there (memory from __libc_malloc would reach ASan's free).
#if defined(__SANITIZE_ADDRESS__)
#define FEDTINY_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FEDTINY_UNDER_ASAN 1
#endif
#endif
#if defined(__GLIBC__) && !defined(FEDTINY_UNDER_ASAN)
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* malloc(size_t n) {
  CountAllocation();
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t s) {
  CountAllocation();
  return __libc_calloc(n, s);
}
void* realloc(void* p, size_t n) {
  CountAllocation();
  return __libc_realloc(p, n);
}
}
#endif

namespace fedtiny::client {
namespace {

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

// ---- Independent references: exact 128-bit products, rounding by magnitude.

int32_t Saturate(__int128 v) { return static_cast<int32_t>(std::clamp<__int128>(v, kMin, kMax)); }

// round(p / 2^e), ties away from zero, on the magnitude.
__int128 RoundShift(__int128 p, int e) {
  if (e == 0) return p;
  const __int128 mag = p < 0 ? -p : p;
  const __int128 q = (mag + (__int128{1} << (e - 1))) >> e;
  return p < 0 ? -q : q;
}

// gemmlowp's doubling high multiply rounds ties toward +infinity:
// floor((a * b + 2^30) / 2^31), the floor taken on the exact 128-bit value.
int32_t RefHighMul(int32_t a, int32_t b) {
  const __int128 num = static_cast<__int128>(a) * b + (__int128{1} << 30);
  const __int128 den = __int128{1} << 31;
  const __int128 q = num / den - (num % den < 0 ? 1 : 0);
  return Saturate(q);
}
int32_t RefDivPOT(int32_t x, int e) { return Saturate(RoundShift(x, e)); }
int32_t RefMultiply(int32_t x, int32_t m, int shift) {
  const int32_t shifted = Saturate(static_cast<__int128>(x) * (__int128{1} << std::max(shift, 0)));
  return RefDivPOT(RefHighMul(shifted, m), std::max(-shift, 0));
}

std::vector<int32_t> EdgeValues() {
  std::vector<int32_t> v = {kMin, kMin + 1, -(1 << 30), -65536, -3,      -2,       -1,  0,
                            1,    2,        3,          65535,  1 << 30, kMax - 1, kMax};
  for (int e = 0; e < 31; ++e) {  // Ties of RoundingDivideByPOT: k * 2^e + 2^(e-1).
    v.push_back(static_cast<int32_t>((int64_t{5} << e) + (int64_t{1} << e) / 2));
    v.push_back(-static_cast<int32_t>((int64_t{5} << e) + (int64_t{1} << e) / 2));
  }
  return v;
}

std::vector<int32_t> TestValues(uint32_t seed, int random_count) {
  std::vector<int32_t> v = EdgeValues();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> any(kMin, kMax);
  std::uniform_int_distribution<int> bits(0, 31);
  for (int i = 0; i < random_count; ++i) {
    const int32_t r = any(rng);
    v.push_back(r);
    v.push_back(r >> bits(rng));  // Small magnitudes too.
  }
  return v;
}

TEST(FixedPoint, HighMulMatchesExactReference) {
  const std::vector<int32_t> v = TestValues(1, 300);
  for (int32_t a : v)
    for (int32_t b : v)
      ASSERT_EQ(SaturatingRoundingDoublingHighMul(a, b), RefHighMul(a, b)) << a << " * " << b;
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(kMin, kMin), kMax);
  // Ties (products at an odd multiple of 2^30) round toward +infinity.
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1 << 30, 1), 1);    // 0.5
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1 << 30, -1), 0);   // -0.5
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1 << 30, 3), 2);    // 1.5
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1 << 30, -3), -1);  // -1.5
}

TEST(FixedPoint, DivideByPOTMatchesExactReference) {
  for (int32_t x : TestValues(2, 20000))
    for (int e = 0; e <= 31; ++e)
      ASSERT_EQ(RoundingDivideByPOT(x, e), RefDivPOT(x, e)) << x << " >> " << e;
  EXPECT_EQ(RoundingDivideByPOT(5, 1), 3);  // 2.5
  EXPECT_EQ(RoundingDivideByPOT(-5, 1), -3);
  EXPECT_EQ(RoundingDivideByPOT(kMin, 31), -1);
  EXPECT_EQ(RoundingDivideByPOT(kMax, 31), 1);
}

TEST(FixedPoint, MultiplyByQuantizedMultiplierMatchesReference) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int32_t> mult(1 << 30, kMax);
  std::uniform_int_distribution<int> shifts(-31, 30);
  const std::vector<int32_t> xs = TestValues(4, 2000);
  for (int trial = 0; trial < 200; ++trial) {
    const int32_t m = trial == 0 ? (1 << 30) : trial == 1 ? kMax : mult(rng);
    const int shift = trial < 64 ? trial - 31 : shifts(rng);  // Every shift, then random.
    for (int32_t x : xs) {
      const int32_t got = MultiplyByQuantizedMultiplier(x, m, shift);
      ASSERT_EQ(got, RefMultiply(x, m, shift)) << x << " " << m << " " << shift;
      // Two roundings: within 1 of the exact product, unless x << shift saturated.
      if (std::fabs(std::ldexp(static_cast<double>(x), std::max(shift, 0))) > kMax) continue;
      const __int128 exact_num = static_cast<__int128>(x) * m;  // / 2^(31 - shift)
      const long double exact = std::ldexp(static_cast<long double>(exact_num), shift - 31);
      ASSERT_LE(std::fabs(exact - got), 1.0L) << x << " " << shift;
    }
  }
}

TEST(FixedPoint, QuantizeMultiplierRoundTrips) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> log10(-9, 9);
  for (int i = 0; i < 100000; ++i) {
    const double real = std::pow(10.0, log10(rng));
    int32_t m = 0;
    int shift = 0;
    ASSERT_TRUE(QuantizeMultiplier(real, &m, &shift)) << real;
    ASSERT_GE(m, 1 << 30);
    ASSERT_GE(shift, -31);
    ASSERT_LE(shift, 30);
    const double back = std::ldexp(static_cast<double>(m), shift - 31);
    ASSERT_LE(std::fabs(back - real) / real, std::ldexp(1.0, -31)) << real;
  }
  int32_t m = 7;
  int shift = 7;
  ASSERT_TRUE(QuantizeMultiplier(1.0, &m, &shift));
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(shift, 1);
  ASSERT_TRUE(QuantizeMultiplier(1.0 - std::ldexp(1.0, -40), &m, &shift));  // Rounds up to 1.
  EXPECT_EQ(m, 1 << 30);
  EXPECT_EQ(shift, 1);
  ASSERT_TRUE(QuantizeMultiplier(0.0, &m, &shift));
  EXPECT_EQ(m, 0);
  ASSERT_TRUE(QuantizeMultiplier(1e-12, &m, &shift));  // Under 2^-32: zero.
  EXPECT_EQ(m, 0);
  EXPECT_EQ(MultiplyByQuantizedMultiplier(kMax, m, shift), 0);
  EXPECT_FALSE(QuantizeMultiplier(-0.5, &m, &shift));
  EXPECT_FALSE(QuantizeMultiplier(std::nan(""), &m, &shift));
  EXPECT_FALSE(QuantizeMultiplier(std::ldexp(1.0, 30), &m, &shift));
  EXPECT_TRUE(QuantizeMultiplier(std::ldexp(1.0, 30) * 0.99, &m, &shift));
  EXPECT_EQ(shift, 30);
}

// ---- A float body, its integer twin, and a float reference.

struct FloatLayer {
  int32_t inputs, outputs;
  std::vector<float> w;  // Column-major outputs x inputs, as DenseLayer.
  std::vector<float> b;
  bool relu;
  FloatDenseView View() const { return {inputs, outputs, w.data(), b.data(), relu}; }
};

std::vector<FloatLayer> RandomBody(const std::vector<int32_t>& widths, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<FloatLayer> layers;
  for (size_t l = 0; l + 1 < widths.size(); ++l) {
    FloatLayer f{widths[l], widths[l + 1], {}, {}, true};
    std::normal_distribution<float> he(0.f, std::sqrt(2.f / f.inputs)), bias(0.f, 0.1f);
    f.w.resize(static_cast<size_t>(f.inputs) * f.outputs);
    for (float& v : f.w) v = he(rng);
    f.b.resize(f.outputs);
    for (float& v : f.b) v = bias(rng);
    layers.push_back(std::move(f));
  }
  return layers;
}

// Fashion-MNIST-like images in [0, 1]: one of 10 class prototypes (half the
// pixels background 0) plus noise, clipped. `labels`, when given, receives the
// prototype of each image.
std::vector<float> Images(int64_t n, uint32_t seed, std::vector<int>* labels = nullptr) {
  std::mt19937 proto_rng(99), rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> protos(10 * 784);
  for (float& p : protos) p = u(proto_rng) < 0.5f ? 0.f : u(proto_rng);
  std::normal_distribution<float> noise(0.f, 0.15f);
  std::vector<float> x(n * 784);
  for (int64_t r = 0; r < n; ++r) {
    const int label = static_cast<int>(rng() % 10);
    if (labels != nullptr) labels->push_back(label);
    const float* p = &protos[label * 784];
    for (int i = 0; i < 784; ++i) {
      const float v = p[i] == 0.f && u(rng) < 0.8f ? 0.f : p[i] + noise(rng);
      x[r * 784 + i] = std::clamp(v, 0.f, 1.f);
    }
  }
  return x;
}

template <typename T>
int Argmax(const std::vector<T>& logits) {
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// The naive float reference: one example through the float layers, in double.
// `*in_range`, when given, says whether every activation stayed inside the
// range `body`'s int8 params can represent (calibrated on other examples).
std::vector<double> FloatForward(const std::vector<FloatLayer>& layers, const float* x0,
                                 const Int8Body* body = nullptr, bool* in_range = nullptr) {
  std::vector<double> x(x0, x0 + layers[0].inputs);
  auto inside = [&](const std::vector<double>& v, const Int8Params& p) {
    for (double e : v)
      if (e < p.scale * (-128.5 - p.zero_point) || e > p.scale * (127.5 - p.zero_point))
        *in_range = false;
  };
  if (in_range != nullptr) *in_range = true, inside(x, body->input());
  for (size_t k = 0; k < layers.size(); ++k) {
    const FloatLayer& l = layers[k];
    std::vector<double> y(l.outputs);
    for (int32_t o = 0; o < l.outputs; ++o) {
      double acc = l.b[o];
      for (int32_t i = 0; i < l.inputs; ++i)
        acc += x[i] * l.w[static_cast<size_t>(i) * l.outputs + o];
      y[o] = l.relu ? std::max(acc, 0.0) : acc;
    }
    if (in_range != nullptr) inside(y, body->layers[k].output);
    x = std::move(y);
  }
  return x;
}

Int8Body Convert(const std::vector<FloatLayer>& layers, const std::vector<float>& calibration) {
  std::vector<FloatDenseView> views;
  for (const FloatLayer& l : layers) views.push_back(l.View());
  Int8Body body;
  const Int8Status s = QuantizeBody(views.data(), static_cast<int32_t>(views.size()),
                                    calibration.data(), calibration.size() / 784, &body);
  EXPECT_TRUE(s.ok()) << Int8CodeName(s.code) << " layer " << s.layer;
  return body;
}

// Runs `n` images of `x` through the integer body; dequantized features.
std::vector<float> IntegerFeatures(const Int8Body& body, const float* x, int64_t n) {
  std::vector<int8_t> q(n * 784), y(n * body.output_width());
  std::vector<int8_t> scratch(Int8ScratchBytes(body, n));
  QuantizeInput(x, n * 784, body.input(), q.data());
  const Int8Status s = Int8BodyForward(body, q.data(), q.size(), n, y.data(), y.size(),
                                       scratch.data(), scratch.size());
  EXPECT_TRUE(s.ok()) << Int8CodeName(s.code);
  std::vector<float> f(y.size());
  DequantizeOutput(y.data(), y.size(), body.output(), f.data());
  return f;
}

// The documented error bound (docs/client.md), derived from the scales: each
// rounding is an independent error, uniform over one step (RMS step/sqrt(12)),
// and propagates through the layers above it. Into layer l's outputs come
//   its input's error through the weights:  max_o |W_o|^2 * e_l^2,
//   its weights' rounding (per channel):    max |x_l|^2 * max_o wstep_o^2 / 12,
//   its own output rounding:                ostep_l^2 / 12,
// with e_0 = input_step / sqrt(12) and max |x_l|^2 the largest squared norm of
// layer l's float input over `cal` (calibration examples); ReLU is
// 1-Lipschitz. The bound is 6 RMS errors at the output: statistical, not a
// worst case, and only for inputs inside the calibrated ranges (past them the
// int8 values saturate).
double DerivedBound(const std::vector<FloatLayer>& layers, const Int8Body& body,
                    const std::vector<float>& cal) {
  std::vector<double> max_x2(layers.size(), 0.0);
  for (size_t r = 0; r * 784 < cal.size(); ++r) {
    std::vector<double> x(&cal[r * 784], &cal[r * 784] + 784);
    for (size_t l = 0; l < layers.size(); ++l) {
      double n2 = 0;
      for (double v : x) n2 += v * v;
      max_x2[l] = std::max(max_x2[l], n2);
      const std::vector<FloatLayer> one(layers.begin() + l, layers.begin() + l + 1);
      const std::vector<float> xf(x.begin(), x.end());
      x = FloatForward(one, xf.data());
    }
  }
  double e2 = std::pow(body.input().scale, 2) / 12;
  for (size_t l = 0; l < layers.size(); ++l) {
    double norm2 = 0, wstep = 0;
    for (int32_t o = 0; o < layers[l].outputs; ++o) {
      double n2 = 0;
      for (int32_t i = 0; i < layers[l].inputs; ++i)
        n2 += std::pow(layers[l].w[static_cast<size_t>(i) * layers[l].outputs + o], 2);
      norm2 = std::max(norm2, n2);
      wstep = std::max<double>(wstep, body.layers[l].weight_scales[o]);
    }
    e2 =
        norm2 * e2 + max_x2[l] * wstep * wstep / 12 + std::pow(body.layers[l].output.scale, 2) / 12;
  }
  return 6 * std::sqrt(e2);
}

// A float linear head after the body, as a trained one would be: the nearest
// class mean of the float features (w_c = mean_c, b_c = -|mean_c|^2 / 2).
struct Head {
  std::vector<double> w, b;
  int width;
  int Classify(const float* f) const {
    std::vector<double> logits(b);
    for (int c = 0; c < 10; ++c)
      for (int o = 0; o < width; ++o) logits[c] += w[c * width + o] * f[o];
    return Argmax(logits);
  }
};

Head CentroidHead(const std::vector<FloatLayer>& layers, const std::vector<float>& x,
                  const std::vector<int>& labels) {
  const int width = layers.back().outputs;
  Head h{std::vector<double>(10 * width), std::vector<double>(10), width};
  std::vector<int> count(10);
  for (size_t r = 0; r < labels.size(); ++r) {
    const std::vector<double> f = FloatForward(layers, &x[r * 784]);
    ++count[labels[r]];
    for (int o = 0; o < width; ++o) h.w[labels[r] * width + o] += f[o];
  }
  for (int c = 0; c < 10; ++c)
    for (int o = 0; o < width; ++o) {
      h.w[c * width + o] /= std::max(count[c], 1);
      h.b[c] -= h.w[c * width + o] * h.w[c * width + o] / 2;
    }
  return h;
}

class BodyTest : public ::testing::TestWithParam<std::vector<int32_t>> {};

TEST_P(BodyTest, IntegerMatchesFloatReference) {
  const std::vector<FloatLayer> layers = RandomBody(GetParam(), 7);
  std::vector<int> cal_labels, labels;
  const std::vector<float> cal = Images(1000, 11, &cal_labels);
  const Int8Body body = Convert(layers, cal);
  const Head head = CentroidHead(layers, cal, cal_labels);
  const int64_t n = 1000;
  const std::vector<float> x = Images(n, 12, &labels);
  const std::vector<float> features = IntegerFeatures(body, x.data(), n);
  const int32_t width = body.output_width();
  double max_error = 0, max_error_outside = 0, sum_sq = 0;
  int agree = 0, correct = 0, outside = 0;
  for (int64_t r = 0; r < n; ++r) {
    bool in_range = true;
    const std::vector<double> ref = FloatForward(layers, &x[r * 784], &body, &in_range);
    const std::vector<float> ref_f(ref.begin(), ref.end());
    outside += !in_range;
    double& m = in_range ? max_error : max_error_outside;
    for (int32_t o = 0; o < width; ++o) {
      const double err = ref[o] - features[r * width + o];
      m = std::max(m, std::fabs(err));
      if (in_range) sum_sq += err * err;
    }
    const int predicted = head.Classify(&features[r * width]);
    agree += head.Classify(ref_f.data()) == predicted;
    correct += predicted == labels[r];
  }
  const double bound = DerivedBound(layers, body, cal), step = body.output().scale;
  const double rms = std::sqrt(sum_sq / ((n - outside) * width));
  std::printf(
      "layers %zu: RMS error %.2f steps, modelled %.2f; "
      "max |error| %.5f = %.2f output steps, bound %.5f = %.2f steps; "
      "%d inputs past the calibrated ranges, max |error| %.2f steps; "
      "argmax agrees %d/%lld, accuracy %d\n",
      body.layers.size(), rms / step, bound / 6 / step, max_error, max_error / step, bound,
      bound / step, outside, max_error_outside / step, agree, static_cast<long long>(n), correct);
  EXPECT_LE(max_error, bound);
  EXPECT_LE(rms, bound / 6);  // The error model's RMS holds too.
  EXPECT_GE(agree, 990);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BodyTest,
                         ::testing::Values(std::vector<int32_t>{784, 128, 64},
                                           std::vector<int32_t>{784, 256, 128, 64}));

TEST(Int8Body, AllZeroInputGivesTheBiasPath) {
  const std::vector<FloatLayer> layers = RandomBody({784, 128, 64}, 21);
  const std::vector<float> cal = Images(256, 22);
  const Int8Body body = Convert(layers, cal);
  const std::vector<float> zeros(784, 0.f);
  const std::vector<float> features = IntegerFeatures(body, zeros.data(), 1);
  const std::vector<double> ref = FloatForward(layers, zeros.data());
  for (int32_t o = 0; o < body.output_width(); ++o)
    EXPECT_NEAR(features[o], ref[o], DerivedBound(layers, body, cal)) << o;
  std::vector<int8_t> q(784);
  QuantizeInput(zeros.data(), 784, body.input(), q.data());
  for (int8_t v : q) ASSERT_EQ(v, body.input().zero_point);  // 0 is exact.
}

// One layer, weights all +w (or -w): a saturating input drives the int32
// accumulator far past the calibrated range; the output clamps, never wraps.
Int8Body OneLayer(float w, bool relu) {
  FloatLayer f{784, 4, std::vector<float>(784 * 4, w), std::vector<float>(4, 0.f), relu};
  return Convert({f}, Images(64, 31));
}

TEST(Int8Body, SaturatesInsteadOfWrapping) {
  std::vector<int8_t> x(784, 127), y(4), s(2 * 784 + 1);
  const Int8Body up = OneLayer(0.01f, false);
  ASSERT_TRUE(Int8BodyForward(up, x.data(), 784, 1, y.data(), 4, s.data(), s.size()).ok());
  for (int8_t v : y) EXPECT_EQ(v, 127);
  const Int8Body down = OneLayer(-0.01f, false);
  ASSERT_TRUE(Int8BodyForward(down, x.data(), 784, 1, y.data(), 4, s.data(), s.size()).ok());
  for (int8_t v : y) EXPECT_EQ(v, -128);
  const Int8Body relu = OneLayer(-0.01f, true);
  ASSERT_TRUE(Int8BodyForward(relu, x.data(), 784, 1, y.data(), 4, s.data(), s.size()).ok());
  for (int8_t v : y) EXPECT_EQ(v, relu.output().zero_point);  // ReLU's 0.
  const float big[] = {1e9f, -1e9f, 0.f};
  int8_t q[3];
  QuantizeInput(big, 3, Int8Params{0.01f, -5}, q);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -128);
  EXPECT_EQ(q[2], -5);
}

TEST(Int8Body, SizeMismatchesAreStatuses) {
  const std::vector<FloatLayer> layers = RandomBody({784, 128, 128, 64}, 41);
  Int8Body body = Convert(layers, Images(32, 42));
  // Ping and pong of 3 x 128, an int16 row of 784, one byte of alignment slack.
  const int64_t kScratch = 2 * 3 * 128 + 2 * 784 + 1;
  ASSERT_EQ(Int8ScratchBytes(body, 3), kScratch);
  std::vector<int8_t> x(3 * 784, 9), y(3 * 64, 55), scratch(kScratch + 1);
  auto run = [&](int64_t x_size, int64_t rows, int64_t y_size, int64_t scratch_size) {
    return Int8BodyForward(body, x.data(), x_size, rows, y.data(), y_size, scratch.data(),
                           scratch_size)
        .code;
  };
  EXPECT_EQ(run(3 * 784 - 1, 3, 3 * 64, kScratch), Int8Code::kShapeMismatch);
  EXPECT_EQ(run(3 * 784, 3, 2 * 64, kScratch), Int8Code::kShapeMismatch);
  EXPECT_EQ(run(3 * 784, 3, 3 * 64, kScratch - 1), Int8Code::kScratchTooSmall);
  EXPECT_EQ(run(3 * 784, 0, 0, 0), Int8Code::kInvalidArgument);
  EXPECT_EQ(Int8BodyForward(body, x.data(), 3 * 784, 3, y.data(), 3 * 64, nullptr, kScratch).code,
            Int8Code::kScratchTooSmall);
  for (int8_t v : y) ASSERT_EQ(v, 55);  // Untouched on error.
  // Any alignment of the scratch gives the same answer.
  ASSERT_EQ(run(3 * 784, 3, 3 * 64, kScratch), Int8Code::kOk);
  const std::vector<int8_t> aligned = y;
  ASSERT_TRUE(
      Int8BodyForward(body, x.data(), 3 * 784, 3, y.data(), 3 * 64, scratch.data() + 1, kScratch)
          .ok());
  EXPECT_EQ(y, aligned);
  body.layers[1].inputs = 100;
  const Int8Status s =
      Int8BodyForward(body, x.data(), 3 * 784, 3, y.data(), 3 * 64, scratch.data(), kScratch);
  EXPECT_EQ(s.code, Int8Code::kShapeMismatch);
  EXPECT_EQ(s.layer, 1);
  EXPECT_EQ(Int8BodyForward(Int8Body{}, x.data(), 0, 1, y.data(), 0, nullptr, 0).code,
            Int8Code::kInvalidArgument);
  EXPECT_STREQ(Int8CodeName(Int8Code::kScratchTooSmall), "kScratchTooSmall");
}

TEST(QuantizeBody, RejectsBadLayers) {
  std::vector<FloatLayer> layers = RandomBody({784, 128, 64}, 51);
  const std::vector<float> cal = Images(8, 52);
  std::vector<FloatDenseView> views = {layers[0].View(), layers[1].View()};
  Int8Body body;
  body.layers.resize(1);
  views[1].inputs = 127;
  Int8Status s = QuantizeBody(views.data(), 2, cal.data(), 8, &body);
  EXPECT_EQ(s.code, Int8Code::kShapeMismatch);
  EXPECT_EQ(s.layer, 1);
  views[1] = layers[1].View();
  layers[1].w[5] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(QuantizeBody(views.data(), 2, cal.data(), 8, &body).code, Int8Code::kInvalidArgument);
  layers[1].w[5] = 0;
  EXPECT_EQ(QuantizeBody(views.data(), 0, cal.data(), 8, &body).code, Int8Code::kInvalidArgument);
  EXPECT_EQ(QuantizeBody(views.data(), 2, cal.data(), 0, &body).code, Int8Code::kInvalidArgument);
  layers[0].b[0] = 1e30f;  // Bias / (input scale * weight scale) past int32.
  s = QuantizeBody(views.data(), 2, cal.data(), 8, &body);
  EXPECT_EQ(s.code, Int8Code::kOutOfRange);
  EXPECT_EQ(s.layer, 0);
  EXPECT_EQ(body.layers.size(), 1u);  // Unchanged on error.
}

TEST(QuantizeBody, ParamsFollowTheCalibration) {
  const std::vector<FloatLayer> layers = RandomBody({784, 128, 64}, 61);
  const Int8Body body = Convert(layers, Images(64, 62));
  // Inputs in [0, 1]: zero point -128, scale about 1/255.
  EXPECT_EQ(body.input().zero_point, -128);
  EXPECT_NEAR(body.input().scale, 1.0 / 255, 1e-3);
  for (const Int8DenseLayer& l : body.layers) {
    EXPECT_EQ(l.activation_min, l.output.zero_point);  // ReLU layers.
    for (int32_t o = 0; o < l.outputs; ++o) {
      int max_abs = 0;
      for (int32_t i = 0; i < l.inputs; ++i)
        max_abs =
            std::max(max_abs, std::abs(int{l.weights[static_cast<size_t>(o) * l.inputs + i]}));
      EXPECT_EQ(max_abs, 127);  // Symmetric per channel: the largest weight maps to 127.
    }
  }
  EXPECT_EQ(body.layers[1].input.scale, body.layers[0].output.scale);
  EXPECT_EQ(body.layers[1].input.zero_point, body.layers[0].output.zero_point);
}

TEST(Int8Body, InferenceAllocatesNothing) {
  const std::vector<FloatLayer> layers = RandomBody({784, 128, 128, 64}, 71);
  const Int8Body body = Convert(layers, Images(32, 72));
  const std::vector<float> x = Images(10, 73);
  std::vector<int8_t> q(x.size()), y(10 * 64), scratch(Int8ScratchBytes(body, 10));
  std::vector<float> out(y.size());
  g_allocations = 0;
  g_counting = true;
  { std::vector<int> probe(3); }  // The counter works.
  g_counting = false;
  ASSERT_GT(g_allocations.load(), 0);
  g_allocations = 0;
  g_counting = true;
  QuantizeInput(x.data(), x.size(), body.input(), q.data());
  const Int8Status s = Int8BodyForward(body, q.data(), q.size(), 10, y.data(), y.size(),
                                       scratch.data(), scratch.size());
  DequantizeOutput(y.data(), y.size(), body.output(), out.data());
  g_counting = false;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace fedtiny::client
