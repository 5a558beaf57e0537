#include "sim/synthetic.h"

#include <cmath>
#include <set>

#include "gtest/gtest.h"
#include "sim/experiment.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::sim {
namespace {

using ::fedtiny::testing::IsOk;

TEST(SyntheticTest, LazyDeterministicAndShapedLikeLeaf) {
  SyntheticOptions o;
  o.clients = 1'000'000;  // Nothing is made until asked for.
  o.alpha = 0.5;
  o.beta = 0.5;
  const SyntheticSource s(o);
  const ClientData a = s.Get(123456), again = s.Get(123456), other = s.Get(7);
  EXPECT_EQ(a.features, again.features);
  EXPECT_EQ(a.labels, again.labels);
  EXPECT_EQ(static_cast<int64_t>(a.labels.size()), s.NumExamples(123456));
  EXPECT_NE(a.features.row(0), other.features.row(0));
  EXPECT_EQ(a.features.cols(), kSyntheticDim);
  std::set<int64_t> sizes;
  for (int k = 0; k < 200; ++k) {
    const int64_t n = s.NumExamples(k);
    EXPECT_GE(n, o.min_examples);
    EXPECT_LE(n, o.max_examples);
    sizes.insert(n);
  }
  EXPECT_GT(sizes.size(), 50u);  // Unequal sizes, as LEAF's power law.
  // Held-out examples come from the same device model: the same dominant class.
  const ClientData test = s.Test(123456, 300);
  std::vector<int> train_hist(10, 0), test_hist(10, 0);
  for (int32_t y : a.labels) ++train_hist[y];
  for (int32_t y : test.labels) ++test_hist[y];
  const auto argmax = [](const std::vector<int>& h) {
    return std::max_element(h.begin(), h.end()) - h.begin();
  };
  EXPECT_EQ(argmax(train_hist), argmax(test_hist));
  // Per-coordinate spread follows Sigma_jj = j^-1.2: the last coordinates vary least.
  const ClientData big = s.Test(5, 2000);
  const Eigen::VectorXf mean = big.features.colwise().mean();
  const double var0 = (big.features.col(0).array() - mean[0]).square().mean();
  const double var59 = (big.features.col(59).array() - mean[59]).square().mean();
  EXPECT_NEAR(var0, 1.0, 0.15);
  EXPECT_NEAR(var59, std::pow(60.0, -1.2), 0.15 * std::pow(60.0, -1.2));
}

TEST(SyntheticTest, FederatedLogisticRegressionLearnsRecurringDevices) {
  ExperimentConfig c;
  c.task.set_rounds(30);
  c.task.set_clients_per_round(20);
  c.task.mutable_plan()->set_epochs(5);
  c.eval_every = 10;
  c.heterogeneous = false;
  SyntheticOptions o;
  o.clients = 100;
  o.alpha = 0.5;
  o.beta = 0.5;
  absl::StatusOr<ExperimentResult> r = RunSyntheticExperiment(c, o);
  ASSERT_THAT(r, IsOk());
  EXPECT_GT(r->final_accuracy, 0.2);  // Chance is 0.1.
  EXPECT_GT(r->final_accuracy, r->rounds[9].accuracy);
  EXPECT_EQ(r->client_updates, 30 * 20);
}

// The FedProx paper's sizes: exp(N(4, 2^2)) + 50 examples, uncapped here.
TEST(SyntheticTest, FedProxSizes) {
  SyntheticOptions o;
  o.clients = 300;
  o.size_sigma = 2;
  o.size_offset = 50;
  o.max_examples = 1'000'000;
  const SyntheticSource s(o);
  int64_t big = 0;
  for (int k = 0; k < 300; ++k) {
    EXPECT_GE(s.NumExamples(k), 50);
    big += s.NumExamples(k) > 500;
  }
  // P(exp(N(4, 4)) > 450) = P(Z > (ln 450 - 4) / 2) = P(Z > 1.05), about 15%.
  EXPECT_GT(big, 20);
  EXPECT_LT(big, 70);
}

// FedProx's straggler model: 90% of each round's devices stop early; FedAvg as
// the paper runs it drops them (one upload a round), FedProx keeps their
// partial work (every device uploads, and the result differs from full work).
TEST(SyntheticTest, StragglersStopEarlyOrAreDropped) {
  ExperimentConfig c;
  c.task.set_rounds(3);
  c.task.set_clients_per_round(10);
  c.task.set_over_selection(1);
  c.task.set_min_reports(1);
  c.task.mutable_plan()->set_epochs(5);
  c.eval_every = 3;
  c.heterogeneous = false;
  SyntheticOptions o;
  o.clients = 30;
  absl::StatusOr<ExperimentResult> full = RunSyntheticExperiment(c, o);
  c.straggler_fraction = 0.9;
  absl::StatusOr<ExperimentResult> partial = RunSyntheticExperiment(c, o);
  c.drop_stragglers = true;
  absl::StatusOr<ExperimentResult> dropped = RunSyntheticExperiment(c, o);
  ASSERT_THAT(full, IsOk());
  ASSERT_THAT(partial, IsOk());
  ASSERT_THAT(dropped, IsOk());
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(partial->rounds[r].reported, 10);
    EXPECT_EQ(dropped->rounds[r].reported, 1);
    EXPECT_EQ(dropped->rounds[r].stragglers, 9);
    EXPECT_TRUE(dropped->rounds[r].committed);
  }
  EXPECT_EQ(dropped->client_updates, 3);
  EXPECT_NE(partial->rounds.back().loss, full->rounds.back().loss);
  // The final head's loss on the devices' training data (30 devices: computed).
  EXPECT_GT(full->final_train_loss, 0);
  EXPECT_TRUE(std::isfinite(full->final_train_loss));
  c.straggler_fraction = 1.5;
  EXPECT_THAT(RunSyntheticExperiment(c, o).status(),
              ::fedtiny::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::sim
