// The C API's body + head prediction (fedtiny_body_*, fedtiny_model_predictor_*)
// against independent computations: a naive double-precision forward pass of
// the same weights for a float body, and client/core's Predictor on the same
// int8 layers calibrated on the same examples (bit for bit) for an int8 body.
// Also: no allocation per fedtiny_predict, and refusals as status codes.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "client/c_api/fedtiny_c.h"
#include "client/core/arena.h"
#include "client/core/model.h"
#include "client/core/predict.h"
#include "client/core/testing/counting_malloc.h"
#include "gtest/gtest.h"

namespace {

using fedtiny::client::Body;
using fedtiny::client::DenseLayer;
using fedtiny::client::Head;
using fedtiny::client::QuantizedDenseLayer;

constexpr int64_t kIn = 784, kHidden = 128, kClasses = 10, kRows = 24;

std::vector<float> Random(int64_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

// The body layer as the wire carries it: column-major out x in.
struct FloatLayer {
  std::vector<float> w = Random(kIn * kHidden, 11, -0.08f, 0.08f);
  std::vector<float> b = Random(kHidden, 12, -0.05f, 0.05f);
  fedtiny_body_layer c() const { return {kIn, kHidden, 1, w.data(), nullptr, 0, 0, b.data()}; }
};

// act(W x + b) in double, W column-major out x in.
std::vector<double> Naive(const float* w, const float* b, int64_t in, int64_t out, bool relu,
                          const std::vector<double>& x) {
  std::vector<double> y(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    double s = b[o];
    for (int64_t i = 0; i < in; ++i) s += static_cast<double>(w[i * out + o]) * x[i];
    y[o] = relu ? std::max(0.0, s) : s;
  }
  return y;
}

struct CHead {
  fedtiny_head* h = nullptr;
  CHead() {
    const int64_t widths[] = {kHidden, 64, kClasses};
    EXPECT_EQ(fedtiny_head_create(widths, 3, 5, &h), FEDTINY_OK);
  }
  ~CHead() { fedtiny_head_destroy(h); }
  std::vector<float> params() const {
    std::vector<float> p(fedtiny_head_num_params(h));
    EXPECT_EQ(fedtiny_head_get_params(h, p.data(), p.size()), FEDTINY_OK);
    return p;
  }
};

// The naive model's probabilities for row r: body, then the head's flat
// layers (each layer's weights column-major, then its bias).
std::vector<double> NaiveProbs(const FloatLayer& body, const std::vector<float>& head,
                               const std::vector<float>& x, int64_t r) {
  std::vector<double> a(x.begin() + r * kIn, x.begin() + (r + 1) * kIn);
  a = Naive(body.w.data(), body.b.data(), kIn, kHidden, true, a);
  const int64_t widths[] = {kHidden, 64, kClasses};
  size_t at = 0;
  for (int l = 0; l < 2; ++l) {
    const float* w = head.data() + at;
    const float* b = w + widths[l] * widths[l + 1];
    a = Naive(w, b, widths[l], widths[l + 1], l == 0, a);
    at += static_cast<size_t>(widths[l] * widths[l + 1] + widths[l + 1]);
  }
  const double m = *std::max_element(a.begin(), a.end());
  double sum = 0;
  for (double& v : a) sum += v = std::exp(v - m);
  for (double& v : a) v /= sum;
  return a;
}

TEST(CApiPredictTest, FloatBodyAndHeadMatchANaiveForwardPass) {
  const FloatLayer layer;
  const fedtiny_body_layer c = layer.c();
  fedtiny_body* body = nullptr;
  ASSERT_EQ(fedtiny_body_create(&c, 1, &body), FEDTINY_OK);
  EXPECT_EQ(fedtiny_body_input_dim(body), kIn);
  EXPECT_EQ(fedtiny_body_output_dim(body), kHidden);
  CHead head;
  const int64_t need = fedtiny_model_predictor_bytes(body, head.h, kRows);
  ASSERT_GT(need, 0);
  std::vector<unsigned char> block(static_cast<size_t>(need));
  fedtiny_predictor* p = nullptr;
  EXPECT_EQ(fedtiny_model_predictor_create(body, head.h, kRows, block.data(), block.size() / 2, &p),
            FEDTINY_RESOURCE_EXHAUSTED);
  ASSERT_EQ(fedtiny_model_predictor_create(body, head.h, kRows, block.data(), block.size(), &p),
            FEDTINY_OK);
  const std::vector<float> x = Random(kRows * kIn, 3, 0.f, 1.f);
  std::vector<float> probs(kRows * kClasses);
  std::vector<int32_t> classes(kRows);
  int64_t allocations = -1;
  {
    fedtiny::testing::AllocationCounter counter;
    ASSERT_EQ(fedtiny_predict(p, x.data(), kRows, kIn, probs.data(), classes.data()), FEDTINY_OK);
    ASSERT_EQ(fedtiny_predict(p, x.data(), kRows, kIn, probs.data(), classes.data()), FEDTINY_OK);
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0);
  // The personal head: new parameters in the same head, no new predictor.
  for (int round = 0; round < 2; ++round) {
    const std::vector<float> params = head.params();
    int distinct = 0;
    for (int64_t r = 0; r < kRows; ++r) {
      const std::vector<double> want = NaiveProbs(layer, params, x, r);
      for (int64_t k = 0; k < kClasses; ++k) {
        EXPECT_NEAR(probs[r * kClasses + k], want[k], 2e-5) << r << "," << k;
      }
      EXPECT_EQ(classes[r], std::max_element(want.begin(), want.end()) - want.begin()) << r;
      distinct += classes[r] != classes[0];
    }
    EXPECT_GT(distinct, 0);  // Not all one class: the class check has teeth.
    std::vector<float> personal = Random(static_cast<int64_t>(params.size()), 99 + round, -0.3f, 0.3f);
    ASSERT_EQ(fedtiny_head_set_params(head.h, personal.data(), personal.size()), FEDTINY_OK);
    const std::vector<float> before = probs;
    ASSERT_EQ(fedtiny_predict(p, x.data(), kRows, kIn, probs.data(), classes.data()), FEDTINY_OK);
    EXPECT_NE(before, probs);
  }
  // The head's width alone is the wrong width now.
  EXPECT_EQ(fedtiny_predict(p, x.data(), kRows, kHidden, probs.data(), nullptr),
            FEDTINY_INVALID_ARGUMENT);
  fedtiny_predictor_release(p);
  fedtiny_body_destroy(body);
}

TEST(CApiPredictTest, Int8BodyEqualsTheCorePredictorBitForBit) {
  const FloatLayer layer;
  DenseLayer dense;
  dense.w = Eigen::Map<const Eigen::MatrixXf>(layer.w.data(), kHidden, kIn);
  dense.b = Eigen::Map<const Eigen::VectorXf>(layer.b.data(), kHidden);
  dense.relu = true;
  const QuantizedDenseLayer q = fedtiny::client::Quantize(dense);
  const fedtiny_body_layer c = {kIn, kHidden, 1, nullptr, q.q.data(), q.scale, q.zero_point,
                                layer.b.data()};
  fedtiny_body* body = nullptr;
  ASSERT_EQ(fedtiny_body_create(&c, 1, &body), FEDTINY_OK);
  CHead head;
  fedtiny_predictor* p = nullptr;
  std::vector<unsigned char> block(1 << 20);
  // Not calibrated yet: refused, with -1 bytes.
  EXPECT_EQ(fedtiny_model_predictor_bytes(body, head.h, kRows), -1);
  EXPECT_EQ(fedtiny_model_predictor_create(body, head.h, kRows, block.data(), block.size(), &p),
            FEDTINY_FAILED_PRECONDITION);
  const std::vector<float> x = Random(kRows * kIn, 4, 0.f, 1.f);
  EXPECT_EQ(fedtiny_body_calibrate(body, x.data(), kRows, kIn + 1), FEDTINY_INVALID_ARGUMENT);
  EXPECT_NE(std::string(fedtiny_body_error(body)), "");
  ASSERT_EQ(fedtiny_body_calibrate(body, x.data(), kRows, kIn), FEDTINY_OK);
  ASSERT_EQ(fedtiny_model_predictor_create(body, head.h, kRows, block.data(), block.size(), &p),
            FEDTINY_OK);
  std::vector<float> probs(kRows * kClasses);
  std::vector<int32_t> classes(kRows);
  int64_t allocations = -1;
  {
    fedtiny::testing::AllocationCounter counter;
    ASSERT_EQ(fedtiny_predict(p, x.data(), kRows, kIn, probs.data(), classes.data()), FEDTINY_OK);
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0);

  // The C++ side, built independently from the same layer and examples.
  Body core({q});
  ASSERT_TRUE(core.Calibrate(Eigen::Map<const fedtiny::client::RowMatrixXf>(x.data(), kRows, kIn)).ok());
  Head h = fedtiny::client::MakeHead({kHidden, 64, kClasses}, 5);
  std::vector<unsigned char> core_block(
      static_cast<size_t>(fedtiny::client::Predictor::ArenaBytes(core, h, kRows)));
  fedtiny::client::Arena arena(core_block.data(), core_block.size());
  auto* cp = *fedtiny::client::Predictor::Create(core, h, kRows, arena);
  std::vector<float> want(kRows * kClasses);
  std::vector<int32_t> want_classes(kRows);
  ASSERT_TRUE(cp->Predict(x.data(), kRows, want, want_classes).ok());
  EXPECT_EQ(probs, want);
  EXPECT_EQ(classes, want_classes);
  // And close to the float model: the quantization error is small.
  const std::vector<float> params = head.params();
  int agree = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    const std::vector<double> f = NaiveProbs(layer, params, x, r);
    for (int64_t k = 0; k < kClasses; ++k) EXPECT_NEAR(probs[r * kClasses + k], f[k], 0.05);
    agree += classes[r] == std::max_element(f.begin(), f.end()) - f.begin();
  }
  EXPECT_GE(agree, kRows * 9 / 10);
  fedtiny_predictor_release(p);
  fedtiny_body_destroy(body);
}

TEST(CApiPredictTest, RefusalsAreStatusCodes) {
  const FloatLayer layer;
  fedtiny_body_layer c = layer.c();
  fedtiny_body* body = nullptr;
  const std::vector<int8_t> q(kIn * kHidden, 1);
  fedtiny_body_layer both = c;
  both.int8_weights = q.data();
  EXPECT_EQ(fedtiny_body_create(&both, 1, &body), FEDTINY_INVALID_ARGUMENT);
  fedtiny_body_layer neither = c;
  neither.weights = nullptr;
  EXPECT_EQ(fedtiny_body_create(&neither, 1, &body), FEDTINY_INVALID_ARGUMENT);
  fedtiny_body_layer bad_zp = {kIn, kHidden, 1, nullptr, q.data(), 0.1f, 200, nullptr};
  EXPECT_EQ(fedtiny_body_create(&bad_zp, 1, &body), FEDTINY_INVALID_ARGUMENT);
  bad_zp.zero_point = 0;
  bad_zp.scale = 0;
  EXPECT_EQ(fedtiny_body_create(&bad_zp, 1, &body), FEDTINY_INVALID_ARGUMENT);
  std::vector<float> nan_bias = layer.b;
  nan_bias[3] = NAN;
  fedtiny_body_layer nan = c;
  nan.bias = nan_bias.data();
  EXPECT_EQ(fedtiny_body_create(&nan, 1, &body), FEDTINY_INVALID_ARGUMENT);
  const fedtiny_body_layer two[] = {c, c};  // 784->128 then 784->128: widths disagree.
  EXPECT_EQ(fedtiny_body_create(two, 2, &body), FEDTINY_INVALID_ARGUMENT);
  EXPECT_EQ(body, nullptr);

  // A mixed body and a head of the wrong width.
  const std::vector<float> w2 = Random(kIn * 64, 5, -0.1f, 0.1f);
  const fedtiny_body_layer mixed[] = {
      c, {kHidden, kHidden, 1, nullptr, q.data(), 0.01f, 0, nullptr}};
  ASSERT_EQ(fedtiny_body_create(mixed, 2, &body), FEDTINY_OK);
  ASSERT_EQ(fedtiny_body_calibrate(body, Random(4 * kIn, 6, 0.f, 1.f).data(), 4, kIn), FEDTINY_OK);
  CHead head;
  std::vector<unsigned char> block(1 << 20);
  fedtiny_predictor* p = nullptr;
  EXPECT_EQ(fedtiny_model_predictor_create(body, head.h, 4, block.data(), block.size(), &p),
            FEDTINY_FAILED_PRECONDITION);
  fedtiny_body_destroy(body);
  const std::vector<float> b64(64, 0.f);
  const fedtiny_body_layer narrow = {kIn, 64, 1, w2.data(), nullptr, 0, 0, b64.data()};
  ASSERT_EQ(fedtiny_body_create(&narrow, 1, &body), FEDTINY_OK);
  EXPECT_EQ(fedtiny_model_predictor_bytes(body, head.h, 4), -1);
  EXPECT_EQ(fedtiny_model_predictor_create(body, head.h, 4, block.data(), block.size(), &p),
            FEDTINY_INVALID_ARGUMENT);
  EXPECT_EQ(fedtiny_model_predictor_create(nullptr, head.h, 4, block.data(), block.size(), &p),
            FEDTINY_INVALID_ARGUMENT);
  EXPECT_EQ(p, nullptr);
  fedtiny_body_destroy(body);
}

}  // namespace
