#include "client/core/model.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "client/platform/linux/status_bridge.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::client {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

TEST(ModelTest, BodyForwardMatchesNaiveLoops) {
  Head h = MakeHead({7, 5, 3}, 4);
  h.layers[1].relu = true;
  for (DenseLayer& l : h.layers) l.b.setConstant(0.05f);
  const Body body({h.layers[0], h.layers[1]});
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  RowMatrixXf x(4, 7);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = g(rng);
  StatusOr<RowMatrixXf> out = body.Features(x);
  ASSERT_THAT(out, IsOk());
  for (int r = 0; r < 4; ++r) {
    std::vector<double> a(x.row(r).data(), x.row(r).data() + 7);
    for (const DenseLayer& l : h.layers) {
      std::vector<double> z(l.out());
      for (int o = 0; o < l.out(); ++o) {
        z[o] = l.b[o];
        for (int i = 0; i < l.in(); ++i) z[o] += l.w(o, i) * a[i];
        z[o] = std::max(0.0, z[o]);
      }
      a = z;
    }
    for (int o = 0; o < 3; ++o) EXPECT_NEAR((*out)(r, o), a[o], 1e-5);
  }
  EXPECT_THAT(body.Features(RowMatrixXf(2, 6)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelTest, Int8BodyIsCloseToFloatAndFourTimesSmaller) {
  Head h = MakeHead({784, 128}, 5);
  h.layers[0].relu = true;
  const Body f32({h.layers[0]}), i8({Quantize(h.layers[0])});
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(0, 1);
  RowMatrixXf x(16, 784);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = u(rng);
  const RowMatrixXf a = *f32.Features(x), b = *i8.Features(x);
  // Per-tensor 8-bit quantization: error well below the activations' scale.
  EXPECT_LT((a - b).norm() / a.norm(), 0.02);
  EXPECT_LT(i8.weight_bytes() * 3, f32.weight_bytes());
  // Dequantized weights are within half a step of the originals.
  const QuantizedDenseLayer q = Quantize(h.layers[0]);
  const Eigen::MatrixXf deq =
      q.scale * (q.q.cast<float>().array() - static_cast<float>(q.zero_point)).matrix();
  EXPECT_LE((deq - h.layers[0].w).cwiseAbs().maxCoeff(), q.scale * 0.5f + 1e-7f);
}

TEST(ModelTest, QuantizeGivesAUsableScaleForExtremeRanges) {
  for (const auto& [lo, hi] : {std::pair(-3e38f, 3e38f), std::pair(0.f, 1e-43f), std::pair(-1e-44f, 0.f)}) {
    DenseLayer l;
    l.w = Eigen::MatrixXf::Zero(2, 2);
    l.w(0, 0) = lo;
    l.w(1, 1) = hi;
    l.b = Eigen::VectorXf::Zero(2);
    const QuantizedDenseLayer q = Quantize(l);
    EXPECT_TRUE(std::isfinite(q.scale) && q.scale > 0) << lo << " " << hi << ": " << q.scale;
    EXPECT_GE(q.zero_point, -128);
    EXPECT_LE(q.zero_point, 127);
    // The largest weight dequantizes to within a step of itself.
    const float top = q.scale * (static_cast<float>(q.q(1, 1)) - static_cast<float>(q.zero_point));
    EXPECT_LE(std::abs(static_cast<double>(top) - hi), 1.01 * q.scale) << lo << " " << hi;
  }
}

TEST(ModelTest, FlattenRoundTripsAndValidates) {
  Head h = MakeHead({128, 64, 10}, 6);
  EXPECT_EQ(h.num_params(), 128 * 64 + 64 + 64 * 10 + 10);
  std::vector<float> flat = h.Flatten();
  for (float& v : flat) v += 1;
  Head copy = h;
  ASSERT_THAT(copy.Unflatten(flat), IsOk());
  EXPECT_EQ(copy.Flatten(), flat);
  EXPECT_THAT(copy.Unflatten(std::vector<float>(5)), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(h.Validate(), IsOk());
  h.layers.back().relu = true;
  EXPECT_THAT(h.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ModelTest, EvaluateClosedForm) {
  // A head whose logits are all zero: loss is log(classes), accuracy picks class 0.
  Head h = MakeHead({3, 4}, 1);
  h.layers[0].w.setZero();
  RowMatrixXf x = RowMatrixXf::Ones(4, 3);
  std::vector<int32_t> y = {0, 1, 2, 0};
  StatusOr<Evaluation> e = Evaluate(h, x, y);
  ASSERT_THAT(e, IsOk());
  EXPECT_NEAR(e->loss, std::log(4.0), 1e-6);
  EXPECT_DOUBLE_EQ(e->accuracy, 0.5);
}

}  // namespace
}  // namespace fedtiny::client
