// Every transition, deadline and rejection of the round engine, on a fake clock.
#include "coordinator/round_engine.h"

#include <cmath>

#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

EngineConfig Config() {
  EngineConfig c;
  c.task = "t";
  c.rounds = 3;
  c.goal = 4;
  c.over_selection = 1.5;  // 6 admitted per round.
  c.min_reports = 2;
  c.deadline = absl::Minutes(10);
  c.dim = 3;
  return c;
}

DeviceCheckIn Device(int i) {
  return DeviceCheckIn{"dev-" + std::to_string(i), "phone", true, true, true, 90};
}

class EngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<RoundEngine> Make(EngineConfig c = Config()) {
    std::map<int, ClusterModel> models;
    for (int k = 0; k < c.clusters; ++k) models[k] = ClusterModel{std::vector<float>(c.dim, 1.f), 0, ""};
    absl::StatusOr<std::unique_ptr<RoundEngine>> e =
        RoundEngine::Create(c, std::move(models), 1, 0, &random_);
    EXPECT_THAT(e, IsOk());
    return std::move(*e);
  }
  Admitted Admit(RoundEngine& e, int i, absl::Time t = kT0) {
    auto r = e.CheckIn(Device(i), t);
    EXPECT_TRUE(std::holds_alternative<Admitted>(r)) << "device " << i;
    return std::get<Admitted>(r);
  }
  Upload Up(const Admitted& a, std::vector<float> delta, int64_t examples = 10) {
    Upload u;
    u.round = a.round;
    u.token = a.token;
    u.example_count = examples;
    u.delta = std::move(delta);
    u.metrics["loss"] = 1.0;
    return u;
  }
  aggregation::SeededRandomSource random_{7};
};

TEST_F(EngineTest, AdmitsUpToOverSelectionThenPaces) {
  auto e = Make();
  for (int i = 0; i < 6; ++i) {
    Admitted a = Admit(*e, i);
    EXPECT_EQ(a.round, 1);
    EXPECT_EQ(a.token.size(), 32u);
    EXPECT_EQ(a.deadline, kT0 + absl::Minutes(10));
  }
  auto full = e->CheckIn(Device(6), kT0 + absl::Minutes(1));
  ASSERT_TRUE(std::holds_alternative<RetryLater>(full));
  const RetryLater& r = std::get<RetryLater>(full);
  EXPECT_EQ(r.reason, "round_full");
  EXPECT_EQ(r.earliest, absl::Minutes(9));  // When the round's deadline passes.
  EXPECT_GT(r.latest, r.earliest);
  // A device that checks in again gets its admission back, not a second one.
  Admitted again = Admit(*e, 2, kT0 + absl::Minutes(2));
  EXPECT_EQ(e->current()->selected, 6);
  EXPECT_EQ(again.round, 1);
}

TEST_F(EngineTest, PaceWindowWidensWithTheCheckInRate) {
  auto slow = Make(), fast = Make();
  for (int i = 0; i < 6; ++i) Admit(*slow, i), Admit(*fast, i);
  RetryLater slow_r, fast_r;
  for (int i = 0; i < 50; ++i) {  // One check-in a minute vs ten a second.
    slow_r = std::get<RetryLater>(slow->CheckIn(Device(100 + i), kT0 + absl::Minutes(i)));
    fast_r = std::get<RetryLater>(fast->CheckIn(Device(100 + i), kT0 + absl::Milliseconds(100 * i)));
  }
  EXPECT_GT(fast_r.latest - fast_r.earliest, absl::ZeroDuration());
  EXPECT_LT(fast_r.latest - fast_r.earliest, slow_r.latest - slow_r.earliest);
}

TEST_F(EngineTest, IneligibleFloodsDoNotShrinkThePaceWindow) {
  auto calm = Make(), flooded = Make();
  for (int i = 0; i < 6; ++i) Admit(*calm, i), Admit(*flooded, i);
  DeviceCheckIn unplugged = Device(500);
  unplugged.charging = false;
  for (int i = 0; i < 5000; ++i) {  // 500 ineligible check-ins a second.
    ASSERT_EQ(std::get<RetryLater>(flooded->CheckIn(unplugged, kT0 + absl::Milliseconds(2 * i))).reason,
              "ineligible");
  }
  const absl::Time t = kT0 + absl::Seconds(10);
  RetryLater calm_r = std::get<RetryLater>(calm->CheckIn(Device(100), t));
  RetryLater flooded_r = std::get<RetryLater>(flooded->CheckIn(Device(100), t));
  EXPECT_EQ(flooded_r.latest - flooded_r.earliest, calm_r.latest - calm_r.earliest);
}

TEST_F(EngineTest, ReadmissionRevokesTheOldTokenAndNeedsTheSameSecret) {
  auto e = Make();
  DeviceCheckIn d = Device(1);
  d.secret_key = "key-1";
  auto first = std::get<Admitted>(e->CheckIn(d, kT0));
  auto second = std::get<Admitted>(e->CheckIn(d, kT0 + absl::Seconds(1)));
  EXPECT_NE(first.token, second.token);
  EXPECT_EQ(e->current()->selected, 1);
  EXPECT_THAT(e->CheckToken(1, first.token), StatusIs(absl::StatusCode::kPermissionDenied));
  DeviceCheckIn impostor = d;
  impostor.secret_key = "key-2";
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(impostor, kT0)).reason, "device_id_taken");
  Upload u = Up(second, {0.1f, 0.1f, 0.1f});
  u.secret_key = "key-2";
  EXPECT_THAT(e->Accept(u, kT0), StatusIs(absl::StatusCode::kPermissionDenied));
  u.secret_key = "key-1";
  EXPECT_THAT(e->Accept(u, kT0), IsOk());
  // Once reported, a check-in gets no second token for the round.
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(d, kT0)).reason, "reported");
}

TEST_F(EngineTest, NonFiniteResultAbandonsWithAReason) {
  EngineConfig c = Config();
  c.server_optimizer = "sgd:lr=10";
  c.max_update_norm = 1e39;  // Let 3.4e38 in: the step must still be caught.
  auto e = Make(c);
  for (int i = 0; i < 4; ++i) {
    ASSERT_THAT(e->Accept(Up(Admit(*e, i), {3.4e38f, 3.4e38f, 3.4e38f}, 1000), kT0), IsOk());
  }
  auto closed = e->TakeClosedRound(kT0);
  ASSERT_TRUE(closed.has_value());
  EXPECT_FALSE(closed->commit);
  EXPECT_TRUE(closed->heads.empty());
  EXPECT_THAT(closed->reason, ::testing::HasSubstr("non-finite"));
  e->FinishRound(*closed, false);
  EXPECT_EQ(e->models().at(0).version, 0);
  EXPECT_EQ(e->models().at(0).head, std::vector<float>(3, 1.f));
}

TEST_F(EngineTest, EligibilityCooldownAndQuota) {
  EngineConfig c = Config();
  c.cooldown = absl::Hours(1);
  c.class_quota["mcu"] = 1;
  auto e = Make(c);
  DeviceCheckIn unplugged = Device(1);
  unplugged.charging = false;
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(unplugged, kT0)).reason, "ineligible");
  DeviceCheckIn low = Device(1);
  low.battery_percent = 20;
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(low, kT0)).reason, "ineligible");
  DeviceCheckIn mcu1 = Device(2), mcu2 = Device(3);
  mcu1.device_class = mcu2.device_class = "mcu";
  EXPECT_TRUE(std::holds_alternative<Admitted>(e->CheckIn(mcu1, kT0)));
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(mcu2, kT0)).reason, "round_full");
  // After the round, the participant cools down.
  auto closed = e->TakeClosedRound(kT0 + absl::Minutes(11));
  ASSERT_TRUE(closed.has_value());
  e->FinishRound(*closed, false);
  auto cool = e->CheckIn(mcu1, kT0 + absl::Minutes(20));
  ASSERT_TRUE(std::holds_alternative<RetryLater>(cool));
  EXPECT_EQ(std::get<RetryLater>(cool).reason, "cooling_down");
  EXPECT_TRUE(std::holds_alternative<Admitted>(e->CheckIn(mcu1, kT0 + absl::Minutes(72))));
}

TEST_F(EngineTest, GoalClosesTheRoundAndCommitsTheAggregate) {
  auto e = Make();
  std::vector<Admitted> a;
  for (int i = 0; i < 6; ++i) a.push_back(Admit(*e, i));
  // FedAvg with example weights 10, 10, 20, 40 and a plain SGD server (lr 1).
  const std::vector<std::vector<float>> deltas = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 1}};
  const int64_t counts[] = {10, 10, 20, 40};
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(e->Accept(Up(a[i], deltas[i], counts[i]), kT0 + absl::Minutes(1)), IsOk());
    EXPECT_FALSE(e->TakeClosedRound(kT0 + absl::Minutes(1)).has_value());
  }
  ASSERT_THAT(e->Accept(Up(a[3], deltas[3], counts[3]), kT0 + absl::Minutes(2)), IsOk());
  std::optional<ClosedRound> closed = e->TakeClosedRound(kT0 + absl::Minutes(2));
  ASSERT_TRUE(closed.has_value());
  ASSERT_TRUE(closed->commit);
  EXPECT_EQ(closed->stats.reported, 4);
  EXPECT_EQ(closed->versions.at(0), 1);
  EXPECT_EQ(closed->participants.at(0), 4);
  const float want[] = {1 + 50.f / 80, 1 + 50.f / 80, 1 + 60.f / 80};
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(closed->heads.at(0)[j], want[j], 1e-6);
  // Uploads after the goal closed the round are late, even with a valid token.
  EXPECT_THAT(e->Accept(Up(a[4], {0, 0, 0}), kT0 + absl::Minutes(3)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // The model changes only once the caller says the round was persisted.
  EXPECT_EQ(e->models().at(0).version, 0);
  e->FinishRound(*closed, true);
  EXPECT_EQ(e->models().at(0).version, 1);
  EXPECT_NEAR(e->models().at(0).head[2], want[2], 1e-6);
  EXPECT_EQ(e->committed_rounds(), 1);
  // The next check-in opens round 2.
  EXPECT_EQ(Admit(*e, 9, kT0 + absl::Minutes(4)).round, 2);
}

TEST_F(EngineTest, EveryBadUploadHasItsOwnCode) {
  auto e = Make();
  Admitted a = Admit(*e, 0), b = Admit(*e, 1);
  const absl::Time t = kT0 + absl::Minutes(1);
  Upload u = Up(a, {1, 1, 1});
  u.round = 5;
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kNotFound));
  u = Up(a, {1, 1, 1});
  u.token = std::string(32, '0');
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kPermissionDenied));
  u = Up(a, {1, 1});
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kInvalidArgument));
  u = Up(a, {1, NAN, 1});
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kInvalidArgument));
  u = Up(a, {1, 1, 1}, 0);
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kInvalidArgument));
  u = Up(a, {1, 1, 1});
  u.cluster = 1;
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kInvalidArgument));
  u = Up(a, {1, 1, 1});
  u.model_version = 3;
  EXPECT_THAT(e->Accept(u, t), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(e->Accept(Up(a, {1, 1, 1}), t), IsOk());
  EXPECT_THAT(e->Accept(Up(a, {1, 1, 1}), t), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(e->Accept(Up(b, {1, 1, 1}), kT0 + absl::Minutes(11)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  const RoundStats s = *e->current();
  EXPECT_EQ(s.reported, 1);
  EXPECT_EQ(s.rejected.at("wrong_round"), 1);
  EXPECT_EQ(s.rejected.at("bad_token"), 1);
  EXPECT_EQ(s.rejected.at("malformed"), 4);
  EXPECT_EQ(s.rejected.at("stale"), 1);
  EXPECT_EQ(s.rejected.at("duplicate"), 1);
  EXPECT_EQ(s.rejected.at("late"), 1);
  EXPECT_NEAR(s.metrics.at("loss"), 1.0, 1e-12);
}

TEST_F(EngineTest, TooFewReportsAtTheDeadlineAbandons) {
  auto e = Make();
  Admitted a = Admit(*e, 0);
  Admit(*e, 1);
  ASSERT_THAT(e->Accept(Up(a, {5, 5, 5}), kT0 + absl::Minutes(1)), IsOk());
  EXPECT_FALSE(e->TakeClosedRound(kT0 + absl::Minutes(9)).has_value());
  std::optional<ClosedRound> closed = e->TakeClosedRound(kT0 + absl::Minutes(10));
  ASSERT_TRUE(closed.has_value());
  EXPECT_FALSE(closed->commit);  // 1 report < min_reports 2.
  EXPECT_TRUE(closed->heads.empty());
  e->FinishRound(*closed, false);
  EXPECT_EQ(e->models().at(0).head, std::vector<float>(3, 1.f));
  EXPECT_EQ(e->committed_rounds(), 0);
  // An upload for the abandoned round is late; round 2 opens on the next check-in.
  EXPECT_THAT(e->Accept(Up(a, {1, 1, 1}), kT0 + absl::Minutes(12)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(Admit(*e, 3, kT0 + absl::Minutes(12)).round, 2);
}

TEST_F(EngineTest, PersistFailureLeavesTheModelAndFailuresAreCounted) {
  auto e = Make();
  std::vector<Admitted> a;
  for (int i = 0; i < 4; ++i) a.push_back(Admit(*e, i));
  EXPECT_THAT(e->Fail(1, a[3].token, kT0), IsOk());
  EXPECT_THAT(e->Fail(1, "nope", kT0), StatusIs(absl::StatusCode::kPermissionDenied));
  for (int i = 0; i < 3; ++i) ASSERT_THAT(e->Accept(Up(a[i], {1, 1, 1}), kT0), IsOk());
  std::optional<ClosedRound> closed = e->TakeClosedRound(kT0 + absl::Minutes(10));
  ASSERT_TRUE(closed && closed->commit);
  EXPECT_EQ(closed->stats.failed, 1);
  e->FinishRound(*closed, /*committed=*/false);  // The store refused the commit.
  EXPECT_EQ(e->models().at(0).version, 0);
  EXPECT_EQ(e->models().at(0).head, std::vector<float>(3, 1.f));
}

TEST_F(EngineTest, ClustersAggregateIndependentlyAndTheTaskEnds) {
  EngineConfig c = Config();
  c.clusters = 2;
  c.rounds = 1;
  c.goal = 2;
  c.min_reports = 1;
  auto e = Make(c);
  Admitted a = Admit(*e, 0), b = Admit(*e, 1);
  Upload ua = Up(a, {2, 2, 2}), ub = Up(b, {-1, -1, -1});
  ub.cluster = 1;
  ASSERT_THAT(e->Accept(ua, kT0), IsOk());
  ASSERT_THAT(e->Accept(ub, kT0), IsOk());
  std::optional<ClosedRound> closed = e->TakeClosedRound(kT0);
  ASSERT_TRUE(closed && closed->commit);
  EXPECT_EQ(closed->heads.at(0), std::vector<float>(3, 3.f));
  EXPECT_EQ(closed->heads.at(1), std::vector<float>(3, 0.f));
  e->FinishRound(*closed, true);
  EXPECT_TRUE(e->done());
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(Device(5), kT0)).reason, "done");
}

// Cluster warm-up: in the first round every device trains the shared head
// (cluster 0); the engine groups the updates by direction (k-means++) and each
// head starts from the shared head plus its group's FedAvg aggregate. Plain
// IFCA would move cluster 0 by the mean of all four and leave the others.
TEST_F(EngineTest, WarmUpStartsEachHeadFromItsGroupsAggregate) {
  EngineConfig c = Config();
  c.clusters = 2;
  c.cluster_warmup = true;
  c.goal = 6;
  c.over_selection = 1;
  c.rounds = 2;
  auto e = Make(c);
  EXPECT_EQ(e->offered_clusters(), 1);
  std::vector<Admitted> a;
  for (int i = 0; i < 6; ++i) a.push_back(Admit(*e, i));
  // Two groups: near +x (weights 10, 30, 20) and near +y (weights 10, 10, 20).
  const std::vector<std::vector<float>> deltas = {{1, 0.1f, 0}, {0.1f, 2, 0}, {2, 0, 0.1f},
                                                  {0, 1, 0.1f}, {3, 0.2f, 0}, {0, 4, 0}};
  const int64_t counts[] = {10, 10, 30, 10, 20, 20};
  Upload other = Up(a[0], deltas[0], counts[0]);
  other.cluster = 1;  // Only the shared head is offered in the warm-up round.
  EXPECT_THAT(e->Accept(other, kT0), StatusIs(absl::StatusCode::kInvalidArgument));
  for (int i = 0; i < 6; ++i) ASSERT_THAT(e->Accept(Up(a[i], deltas[i], counts[i]), kT0), IsOk());
  std::optional<ClosedRound> closed = e->TakeClosedRound(kT0);
  ASSERT_TRUE(closed && closed->commit) << (closed ? closed->reason : "");
  ASSERT_EQ(closed->heads.size(), 2u);
  // Naive: the example-weighted mean of each group, added to the shared head (all ones).
  auto mean = [&](std::vector<int> rows) {
    std::vector<double> m(3, 0);
    double w = 0;
    for (int i : rows) {
      for (int j = 0; j < 3; ++j) m[j] += counts[i] * double{deltas[i][j]};
      w += counts[i];
    }
    for (double& x : m) x = 1 + x / w;
    return m;
  };
  const std::vector<double> gx = mean({0, 2, 4}), gy = mean({1, 3, 5});
  const int cx = closed->heads.at(0)[0] > closed->heads.at(1)[0] ? 0 : 1;
  for (int j = 0; j < 3; ++j) {
    EXPECT_NEAR(closed->heads.at(cx)[j], gx[j], 1e-5);
    EXPECT_NEAR(closed->heads.at(1 - cx)[j], gy[j], 1e-5);
  }
  EXPECT_EQ(closed->versions.at(0), 1);
  EXPECT_EQ(closed->versions.at(1), 1);
  EXPECT_EQ(closed->participants.at(cx), 3);
  e->FinishRound(*closed, true);
  // From the next round on, devices pick among all heads.
  EXPECT_EQ(e->offered_clusters(), 2);
  Admitted next = Admit(*e, 7, kT0 + absl::Minutes(1));
  Upload u = Up(next, {1, 1, 1});
  u.cluster = 1;
  u.model_version = 1;
  EXPECT_THAT(e->Accept(u, kT0 + absl::Minutes(1)), IsOk());
}

// Fewer updates than clusters: no grouping exists, so the warm-up round
// commits the shared head alone, and the next round warms up again.
TEST_F(EngineTest, WarmUpWithTooFewUpdatesMovesOnlyTheSharedHead) {
  EngineConfig c = Config();
  c.clusters = 3;
  c.cluster_warmup = true;
  c.goal = 2;
  c.min_reports = 1;
  auto e = Make(c);
  Admitted a = Admit(*e, 0), b = Admit(*e, 1);
  ASSERT_THAT(e->Accept(Up(a, {1, 0, 0}), kT0), IsOk());
  ASSERT_THAT(e->Accept(Up(b, {0, 1, 0}), kT0), IsOk());
  std::optional<ClosedRound> closed = e->TakeClosedRound(kT0);
  ASSERT_TRUE(closed && closed->commit);
  EXPECT_EQ(closed->heads.size(), 1u);
  EXPECT_NEAR(closed->heads.at(0)[0], 1.5, 1e-6);
  e->FinishRound(*closed, true);
  EXPECT_EQ(e->offered_clusters(), 1);
}

TEST_F(EngineTest, PausedTasksAdmitNobody) {
  auto e = Make();
  e->set_paused(true);
  EXPECT_EQ(std::get<RetryLater>(e->CheckIn(Device(0), kT0)).reason, "paused");
  e->set_paused(false);
  Admit(*e, 0);
}

TEST_F(EngineTest, RejectsBadConfigs) {
  EngineConfig c = Config();
  c.min_reports = 9;
  std::map<int, ClusterModel> m{{0, ClusterModel{std::vector<float>(3), 0, ""}}};
  EXPECT_THAT(RoundEngine::Create(c, m, 1, 0, &random_), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Config();
  c.aggregator = "mean";
  EXPECT_THAT(RoundEngine::Create(c, m, 1, 0, &random_), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Config();
  m[0].head.resize(4);
  EXPECT_THAT(RoundEngine::Create(c, m, 1, 0, &random_), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::coordinator

namespace fedtiny::coordinator {
namespace {

// Each metric is averaged over the uploads that sent it, weighted by their
// example counts: an upload without "accuracy" does not pull its mean to 0.
TEST_F(EngineTest, MetricsAreWeightedPerMetric) {
  auto e = Make();
  const Admitted a = Admit(*e, 0), b = Admit(*e, 1), c = Admit(*e, 2);
  Upload ua = Up(a, {1, 1, 1}, 10);
  ua.metrics = {{"loss", 2.0}, {"accuracy", 0.5}};
  Upload ub = Up(b, {1, 1, 1}, 30);
  ub.metrics = {{"loss", 1.0}};
  Upload uc = Up(c, {1, 1, 1}, 20);
  uc.metrics = {{"loss", 4.0}, {"accuracy", 0.8}};
  for (const Upload* u : {&ua, &ub, &uc}) ASSERT_THAT(e->Accept(*u, kT0), IsOk());
  const RoundStats s = *e->current();
  EXPECT_NEAR(s.metrics.at("loss"), (2.0 * 10 + 1.0 * 30 + 4.0 * 20) / 60, 1e-12);
  EXPECT_NEAR(s.metrics.at("accuracy"), (0.5 * 10 + 0.8 * 20) / 30, 1e-12);
}

// Per cluster, the same weighted means over that cluster's uploads only.
TEST_F(EngineTest, MetricsArePerClusterToo) {
  EngineConfig config = Config();
  config.clusters = 2;
  auto e = Make(config);
  const Admitted a = Admit(*e, 0), b = Admit(*e, 1), c = Admit(*e, 2);
  Upload ua = Up(a, {1, 1, 1}, 10);
  ua.metrics = {{"loss", 2.0}};
  Upload ub = Up(b, {1, 1, 1}, 30);
  ub.metrics = {{"loss", 1.0}, {"accuracy", 0.9}};
  ub.cluster = 1;
  Upload uc = Up(c, {1, 1, 1}, 20);
  uc.metrics = {{"loss", 4.0}};
  for (const Upload* u : {&ua, &ub, &uc}) ASSERT_THAT(e->Accept(*u, kT0), IsOk());
  const RoundStats s = *e->current();
  EXPECT_EQ(s.cluster_reported.at(0), 2);
  EXPECT_EQ(s.cluster_reported.at(1), 1);
  EXPECT_NEAR(s.cluster_metrics.at(0).at("loss"), (2.0 * 10 + 4.0 * 20) / 30, 1e-12);
  EXPECT_FALSE(s.cluster_metrics.at(0).count("accuracy"));
  EXPECT_NEAR(s.cluster_metrics.at(1).at("loss"), 1.0, 1e-12);
  EXPECT_NEAR(s.cluster_metrics.at(1).at("accuracy"), 0.9, 1e-12);
  EXPECT_NEAR(s.metrics.at("loss"), (2.0 * 10 + 1.0 * 30 + 4.0 * 20) / 60, 1e-12);
}

}  // namespace
}  // namespace fedtiny::coordinator
