#include "aggregation/server_optimizer.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::aggregation {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

Eigen::VectorXf RandomVec(int d, std::mt19937& rng) {
  std::normal_distribution<float> g;
  Eigen::VectorXf v(d);
  for (int i = 0; i < d; ++i) v[i] = g(rng);
  return v;
}

// A scalar, per-coordinate reference written straight from the formulas.
struct NaiveOpt {
  ServerOptimizerConfig c;
  std::vector<double> m, v;
  void Step(const Eigen::VectorXf& d, std::vector<double>& x) {
    if (m.empty()) m.assign(x.size(), 0), v.assign(x.size(), 0);
    for (size_t i = 0; i < x.size(); ++i) {
      const double g = d[i];
      switch (c.kind) {
        case ServerOptimizerConfig::Kind::kSgd:
          x[i] += c.lr * g;
          break;
        case ServerOptimizerConfig::Kind::kFedAvgM:
          m[i] = c.beta1 * m[i] + g;
          x[i] += c.lr * m[i];
          break;
        case ServerOptimizerConfig::Kind::kFedAdam:
        case ServerOptimizerConfig::Kind::kFedYogi:
          m[i] = c.beta1 * m[i] + (1 - c.beta1) * g;
          if (c.kind == ServerOptimizerConfig::Kind::kFedAdam) {
            v[i] = c.beta2 * v[i] + (1 - c.beta2) * g * g;
          } else {
            const double s = (v[i] - g * g) > 0 ? 1 : ((v[i] - g * g) < 0 ? -1 : 0);
            v[i] = v[i] - (1 - c.beta2) * g * g * s;
          }
          x[i] += c.lr * m[i] / (std::sqrt(v[i]) + c.tau);
          break;
      }
    }
  }
};

TEST(ServerOptimizerTest, MatchesNaiveFormulasOverSteps) {
  for (const char* spec : {"sgd:lr=0.5", "fedavgm:lr=1,beta1=0.9",
                           "fedadam:lr=0.05,beta1=0.9,beta2=0.99,tau=0.001",
                           "fedyogi:lr=0.05,tau=0.01"}) {
    absl::StatusOr<ServerOptimizerConfig> c = ParseServerOptimizer(spec);
    ASSERT_THAT(c, IsOk()) << spec;
    std::mt19937 rng(1);
    ServerOptimizer opt(*c, 64);
    NaiveOpt naive{*c};
    Eigen::VectorXf x = RandomVec(64, rng);
    std::vector<double> nx(x.data(), x.data() + 64);
    for (int t = 0; t < 10; ++t) {
      Eigen::VectorXf d = RandomVec(64, rng);
      ASSERT_THAT(opt.Apply(d, x), IsOk());
      naive.Step(d, nx);
    }
    for (int i = 0; i < 64; ++i) EXPECT_NEAR(x[i], nx[i], 1e-4) << spec;
    EXPECT_EQ(opt.steps(), 10);
  }
}

TEST(ServerOptimizerTest, FirstAdamStepClosedForm) {
  ServerOptimizerConfig c{ServerOptimizerConfig::Kind::kFedAdam, 0.1, 0.9, 0.99, 1e-3};
  ServerOptimizer opt(c, 1);
  Eigen::VectorXf x = Eigen::VectorXf::Zero(1), d = Eigen::VectorXf::Constant(1, 2.0f);
  ASSERT_THAT(opt.Apply(d, x), IsOk());
  // m = 0.1 * 2, v = 0.01 * 4: x = 0.1 * 0.2 / (0.2 + 1e-3).
  EXPECT_NEAR(x[0], 0.1 * 0.2 / (0.2 + 1e-3), 1e-6);
}

TEST(ServerOptimizerTest, RestoreIsBitExact) {
  ServerOptimizerConfig c = *ParseServerOptimizer("fedyogi:lr=0.03");
  std::mt19937 rng(5);
  ServerOptimizer a(c, 33);
  Eigen::VectorXf xa = RandomVec(33, rng);
  for (int t = 0; t < 4; ++t) ASSERT_THAT(a.Apply(RandomVec(33, rng), xa), IsOk());
  absl::StatusOr<ServerOptimizer> b = ServerOptimizer::Restore(a.Serialize());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->Serialize(), a.Serialize());
  Eigen::VectorXf xb = xa;
  const Eigen::VectorXf d = RandomVec(33, rng);
  ASSERT_THAT(a.Apply(d, xa), IsOk());
  ASSERT_THAT(b->Apply(d, xb), IsOk());
  EXPECT_EQ(std::memcmp(xa.data(), xb.data(), 33 * sizeof(float)), 0);
}

TEST(ServerOptimizerTest, RejectsCorruptState) {
  ServerOptimizer a(*ParseServerOptimizer("fedadam"), 8);
  const std::string s = a.Serialize();
  EXPECT_THAT(ServerOptimizer::Restore(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ServerOptimizer::Restore("XXXX" + s.substr(4)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (size_t cut : {size_t{10}, s.size() - 1}) {
    EXPECT_THAT(ServerOptimizer::Restore(s.substr(0, cut)),
                StatusIs(absl::StatusCode::kInvalidArgument)) << cut;
  }
  EXPECT_THAT(ServerOptimizer::Restore(s + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Well-formed bytes with values no spec could produce: a NaN learning rate
  // (after magic, version and kind), a NaN second moment (the last float).
  std::string nan_lr = s;
  const double nan = std::nan("");
  std::memcpy(&nan_lr[4 + 4 + 1], &nan, sizeof(nan));
  EXPECT_THAT(ServerOptimizer::Restore(nan_lr), StatusIs(absl::StatusCode::kInvalidArgument));
  std::string nan_v = s;
  const float nanf = std::nanf("");
  std::memcpy(&nan_v[nan_v.size() - 4], &nanf, sizeof(nanf));
  EXPECT_THAT(ServerOptimizer::Restore(nan_v), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ServerOptimizer::Restore(s), IsOk());
}

TEST(ServerOptimizerTest, AnOverflowingStepIsRefusedAndChangesNothing) {
  for (const char* spec : {"sgd:lr=1e30", "fedavgm:lr=1e30", "fedadam:lr=1e283", "fedyogi:lr=1e38"}) {
    ServerOptimizer opt(*ParseServerOptimizer(spec), 3);
    const std::string before = opt.Serialize();
    Eigen::VectorXf w = Eigen::VectorXf::Constant(3, 0.5f);
    const Eigen::VectorXf delta = Eigen::VectorXf::Constant(3, 1e10f);
    EXPECT_THAT(opt.Apply(delta, w), StatusIs(absl::StatusCode::kOutOfRange)) << spec;
    EXPECT_EQ(w, Eigen::VectorXf::Constant(3, 0.5f)) << spec;
    EXPECT_EQ(opt.Serialize(), before) << spec;  // Moments and step count too.
  }
}

TEST(ServerOptimizerTest, BadInputChangesNothing) {
  ServerOptimizer opt(*ParseServerOptimizer("fedavgm"), 3);
  Eigen::VectorXf x = Eigen::VectorXf::Ones(3);
  Eigen::VectorXf bad(3);
  bad << 1, NAN, 1;
  EXPECT_THAT(opt.Apply(bad, x), StatusIs(absl::StatusCode::kInvalidArgument));
  Eigen::VectorXf wrong = Eigen::VectorXf::Ones(4);
  EXPECT_THAT(opt.Apply(wrong, x), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(x, Eigen::VectorXf::Ones(3));
  EXPECT_EQ(opt.steps(), 0);
}

TEST(ServerOptimizerTest, ParseErrors) {
  EXPECT_THAT(ParseServerOptimizer("adamw"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseServerOptimizer("fedadam:beta1=1.5"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseServerOptimizer("sgd:lr=-1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseServerOptimizer("sgd:momentum=1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::aggregation
