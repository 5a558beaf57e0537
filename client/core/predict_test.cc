// Predictor against an independent computation: a naive double-precision
// forward pass of the same weights (float body), or Body::Features (the int8
// body's own reference path, itself checked in int8_bundle_test) then the naive
// head. Allocation-freedom is checked in arena_test (it interposes malloc).
#include "client/core/predict.h"

#include <cmath>
#include <random>
#include <vector>

#include "client/platform/linux/status_bridge.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

std::vector<float> RandomInputs(int64_t n, int64_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> x(n * d);
  for (float& v : x) v = u(rng);
  return x;
}

// y = act(W x + b) in double, W out x in.
std::vector<double> NaiveDense(const DenseLayer& l, const std::vector<double>& x) {
  std::vector<double> y(l.out());
  for (int64_t o = 0; o < l.out(); ++o) {
    double s = l.b[o];
    for (int64_t i = 0; i < l.in(); ++i) s += static_cast<double>(l.w(o, i)) * x[i];
    y[o] = l.relu ? std::max(0.0, s) : s;
  }
  return y;
}

std::vector<double> NaiveSoftmax(const std::vector<double>& z) {
  double m = z[0];
  for (double v : z) m = std::max(m, v);
  std::vector<double> p(z.size());
  double sum = 0;
  for (size_t c = 0; c < z.size(); ++c) sum += p[c] = std::exp(z[c] - m);
  for (double& v : p) v /= sum;
  return p;
}

struct Model {
  Body body;
  Head head;
};

Model FloatModel() {
  Head all = MakeHead({784, 128, 64, 10}, 21);
  for (DenseLayer& l : all.layers) l.b.setConstant(0.02f);
  Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  return {Body({all.layers[0]}), head};
}

TEST(PredictTest, FloatBodyAndHeadMatchANaiveForwardPass) {
  const Model m = FloatModel();
  const int64_t n = 13;
  const std::vector<float> x = RandomInputs(n, 784, 3);
  std::vector<unsigned char> block(Predictor::ArenaBytes(m.body, m.head, 16));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(m.body, m.head, 16, arena);
  EXPECT_LE(p->arena_bytes(), static_cast<int64_t>(block.size()));
  std::vector<float> probs(n * 10);
  std::vector<int32_t> classes(n);
  ASSERT_THAT(p->Predict(x.data(), n, probs, classes), IsOk());
  int distinct = 0;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> a(x.begin() + r * 784, x.begin() + (r + 1) * 784);
    a = NaiveDense(std::get<DenseLayer>(m.body.layers()[0]), a);
    for (const DenseLayer& l : m.head.layers) a = NaiveDense(l, a);
    const std::vector<double> want = NaiveSoftmax(a);
    double sum = 0;
    for (int c = 0; c < 10; ++c) {
      EXPECT_NEAR(probs[r * 10 + c], want[c], 2e-5) << r << "," << c;
      sum += probs[r * 10 + c];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);
    const int32_t arg = static_cast<int32_t>(std::max_element(want.begin(), want.end()) - want.begin());
    EXPECT_EQ(classes[r], arg) << r;
    distinct += classes[r] != classes[0];
  }
  EXPECT_GT(distinct, 0);  // The inputs are not all one class: the check has teeth.
  // Classes alone, and probabilities alone.
  std::vector<int32_t> only(n);
  ASSERT_THAT(p->Predict(x.data(), n, {}, only), IsOk());
  EXPECT_EQ(only, classes);
  ASSERT_THAT(p->Predict(x.data(), n, probs, {}), IsOk());
}

TEST(PredictTest, Int8BodyRunsTheIntegerPath) {
  Model m = FloatModel();
  const DenseLayer& dense = std::get<DenseLayer>(m.body.layers()[0]);
  Body int8({Quantize(dense)});
  const int64_t n = 20;
  const std::vector<float> x = RandomInputs(n, 784, 4);
  RowMatrixXf calib = Eigen::Map<const RowMatrixXf>(x.data(), n, 784);
  Arena none(nullptr, 0);
  EXPECT_THAT(Predictor::Create(int8, m.head, 4, none).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));  // Not calibrated.
  ASSERT_THAT(int8.Calibrate(calib), IsOk());
  std::vector<unsigned char> block(Predictor::ArenaBytes(int8, m.head, n));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(int8, m.head, n, arena);
  std::vector<float> probs(n * 10);
  std::vector<int32_t> classes(n);
  ASSERT_THAT(p->Predict(x.data(), n, probs, classes), IsOk());
  // The reference: the body's own features (integer kernels), then a naive head.
  RowMatrixXf features = *int8.Features(calib);
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> a(features.row(r).data(), features.row(r).data() + 128);
    for (const DenseLayer& l : m.head.layers) a = NaiveDense(l, a);
    const std::vector<double> want = NaiveSoftmax(a);
    for (int c = 0; c < 10; ++c) EXPECT_NEAR(probs[r * 10 + c], want[c], 2e-5) << r << "," << c;
  }
}

// features() is the body's output of the last call, checked against the naive
// body; it survives the head layers (which reuse the other buffers), and a
// failed call empties it.
TEST(PredictTest, FeaturesAreTheBodyOutputsOfTheLastCall) {
  const Model m = FloatModel();
  const int64_t n = 5;
  const std::vector<float> x = RandomInputs(n, 784, 8);
  std::vector<unsigned char> block(Predictor::ArenaBytes(m.body, m.head, 8));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(m.body, m.head, 8, arena);
  EXPECT_TRUE(p->features().empty());
  EXPECT_EQ(p->feature_dim(), 128);
  std::vector<int32_t> classes(n);
  ASSERT_THAT(p->Predict(x.data(), n, {}, classes), IsOk());
  ASSERT_EQ(p->features().size(), static_cast<size_t>(n * 128));
  int positive = 0;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> a(x.begin() + r * 784, x.begin() + (r + 1) * 784);
    a = NaiveDense(std::get<DenseLayer>(m.body.layers()[0]), a);
    for (int64_t u = 0; u < 128; ++u) {
      EXPECT_NEAR(p->features()[r * 128 + u], a[u], 1e-4) << r << "," << u;
      positive += a[u] > 0;
    }
  }
  EXPECT_GT(positive, 0);  // Not all zero after the ReLU: the check has teeth.
  ASSERT_THAT(p->Predict(x.data(), 1, {}, Span<int32_t>(classes.data(), 1)), IsOk());
  EXPECT_EQ(p->features().size(), 128u);
  EXPECT_FALSE(p->Predict(x.data(), 9, {}, {}).ok());
  EXPECT_TRUE(p->features().empty());
}

TEST(PredictTest, RefusalsAreStatusesNotCrashes) {
  const Model m = FloatModel();
  std::vector<unsigned char> block(Predictor::ArenaBytes(m.body, m.head, 4));
  Arena small(block.data(), 100);
  auto refused = Predictor::Create(m.body, m.head, 4, small);
  EXPECT_THAT(refused.status(), StatusIs(absl::StatusCode::kResourceExhausted));
  Arena arena(block.data(), block.size());
  Predictor* p = *Predictor::Create(m.body, m.head, 4, arena);
  const std::vector<float> x = RandomInputs(5, 784, 5);
  std::vector<float> probs(50);
  std::vector<int32_t> classes(5);
  EXPECT_THAT(p->Predict(x.data(), 5, probs, classes), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(p->Predict(x.data(), 4, probs, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(p->Predict(nullptr, 1, {}, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  // A head that does not fit the body, and a mixed body.
  Head narrow = MakeHead({64, 10}, 1);
  EXPECT_EQ(Predictor::ArenaBytes(m.body, narrow, 4), -1);
  Body mixed({std::get<DenseLayer>(m.body.layers()[0]),
              Quantize(MakeHead({128, 128}, 2).layers[0])});
  EXPECT_THAT(Predictor::Create(mixed, m.head, 4, arena).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace fedtiny::client
