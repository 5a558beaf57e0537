// Asynchronous (FedBuff) rounds of the round engine, on a fake clock: the
// concurrency limit, flushes at `buffer` per cluster, staleness weights checked
// against a hand computation, max_staleness, and replays.
#include <cmath>

#include "coordinator/round_engine.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

EngineConfig AsyncConfig(int concurrency, int buffer, int clusters = 1) {
  EngineConfig c;
  c.task = "t";
  c.rounds = 100;
  c.deadline = absl::Minutes(10);
  c.dim = 2;
  c.clusters = clusters;
  c.async = AsyncEngineConfig{concurrency, buffer, 0.5, 3};
  return c;
}

DeviceCheckIn Device(int i) {
  return DeviceCheckIn{"dev-" + std::to_string(i), "phone", true, true, true, 90, "key"};
}

class AsyncEngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<RoundEngine> Make(const EngineConfig& c) {
    std::map<int, ClusterModel> models;
    for (int k = 0; k < c.clusters; ++k) models[k] = ClusterModel{{1.f, 1.f}, 0, ""};
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
  Upload Up(const Admitted& a, std::vector<float> delta, int64_t version, int64_t examples = 10,
            int cluster = 0) {
    Upload u;
    u.round = a.round;
    u.token = a.token;
    u.cluster = cluster;
    u.model_version = version;
    u.example_count = examples;
    u.delta = std::move(delta);
    u.secret_key = "key";
    return u;
  }
  // Closes and commits the round if it can close; true when it did.
  bool Flush(RoundEngine& e, absl::Time t = kT0) {
    std::optional<ClosedRound> c = e.TakeClosedRound(t);
    if (!c) return false;
    EXPECT_TRUE(c->commit) << c->reason;
    e.FinishRound(*c, true);
    return true;
  }
  aggregation::SeededRandomSource random_{7};
};

TEST_F(AsyncEngineTest, AdmitsWhileFewerThanConcurrencyTrain) {
  auto e = Make(AsyncConfig(2, 5));
  Admitted a0 = Admit(*e, 0);
  Admit(*e, 1);
  auto full = e->CheckIn(Device(2), kT0);
  ASSERT_TRUE(std::holds_alternative<RetryLater>(full));
  EXPECT_EQ(std::get<RetryLater>(full).reason, "round_full");
  // An upload frees its slot; a failure would too.
  ASSERT_THAT(e->Accept(Up(a0, {0.f, 0.f}, 0), kT0), IsOk());
  Admitted a2 = Admit(*e, 2);
  EXPECT_EQ(a2.round, 1);
  EXPECT_EQ(a2.deadline, kT0 + absl::Minutes(10));
  ASSERT_THAT(e->Fail(a2.round, a2.token, kT0), IsOk());
  Admit(*e, 3);
}

TEST_F(AsyncEngineTest, FlushesAtBufferSize) {
  auto e = Make(AsyncConfig(10, 3));
  std::vector<Admitted> a;
  for (int i = 0; i < 4; ++i) a.push_back(Admit(*e, i));
  ASSERT_THAT(e->Accept(Up(a[0], {1.f, 0.f}, 0), kT0), IsOk());
  ASSERT_THAT(e->Accept(Up(a[1], {1.f, 0.f}, 0), kT0), IsOk());
  EXPECT_FALSE(e->TakeClosedRound(kT0 + absl::Hours(1)));  // No deadline closes it.
  ASSERT_THAT(e->Accept(Up(a[2], {1.f, 0.f}, 0), kT0), IsOk());
  std::optional<ClosedRound> c = e->TakeClosedRound(kT0);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->commit) << c->reason;
  EXPECT_EQ(c->participants.at(0), 3);
  EXPECT_EQ(c->versions.at(0), 1);
  EXPECT_EQ(c->stats.reported, 3);
  e->FinishRound(*c, true);
  EXPECT_EQ(e->committed_rounds(), 1);
  EXPECT_FALSE(e->current());
  // The round-1 token still uploads into the buffer of the next flush.
  ASSERT_THAT(e->Accept(Up(a[3], {1.f, 0.f}, 0), kT0), IsOk());
  EXPECT_FALSE(e->TakeClosedRound(kT0));
}

// Version 0 head (1, 1). Flush 1 (tau 0 for both): plain example-weighted mean.
// Flush 2: an update from version 0 (tau 1, s = 2^-0.5, 10 examples) with one
// from version 1 (tau 0, 30 examples): FedBuff's step sum(n s delta) / sum(n),
// computed here by hand in double.
TEST_F(AsyncEngineTest, StalenessWeightsMatchHandComputation) {
  auto e = Make(AsyncConfig(10, 2));
  Admitted a0 = Admit(*e, 0), a1 = Admit(*e, 1), a2 = Admit(*e, 2);
  ASSERT_THAT(e->Accept(Up(a0, {1.f, 0.f}, 0, 10), kT0), IsOk());
  ASSERT_THAT(e->Accept(Up(a1, {0.f, 1.f}, 0, 30), kT0), IsOk());
  ASSERT_TRUE(Flush(*e));
  const double h1x = 1 + 10.0 / 40, h1y = 1 + 30.0 / 40;
  EXPECT_FLOAT_EQ(e->models().at(0).head[0], h1x);
  EXPECT_FLOAT_EQ(e->models().at(0).head[1], h1y);
  ASSERT_THAT(e->Accept(Up(a2, {2.f, -1.f}, 0, 10), kT0), IsOk());  // tau = 1.
  Admitted a3 = Admit(*e, 3);
  EXPECT_EQ(a3.round, 2);
  ASSERT_THAT(e->Accept(Up(a3, {0.f, 4.f}, 1, 30), kT0), IsOk());  // tau = 0.
  std::optional<ClosedRound> c = e->TakeClosedRound(kT0);
  ASSERT_TRUE(c && c->commit);
  // The upload that arrived between rounds is counted in round 2.
  EXPECT_EQ(c->stats.reported, 2);
  const double w2 = 10 * std::pow(2.0, -0.5), w3 = 30;
  EXPECT_NEAR(c->heads.at(0)[0], h1x + (w2 * 2 + w3 * 0) / 40, 1e-6);
  EXPECT_NEAR(c->heads.at(0)[1], h1y + (w2 * -1 + w3 * 4) / 40, 1e-6);
  EXPECT_EQ(c->versions.at(0), 2);
}

TEST_F(AsyncEngineTest, RefusesUpdatesStalerThanMaxStaleness) {
  EngineConfig config = AsyncConfig(3, 1);
  config.async->max_staleness = 1;
  auto e = Make(config);
  Admitted old1 = Admit(*e, 0), old2 = Admit(*e, 1);
  for (int i = 2; i < 4; ++i) {  // Two versions committed meanwhile.
    Admitted a = Admit(*e, i);
    ASSERT_THAT(e->Accept(Up(a, {0.f, 0.f}, e->models().at(0).version), kT0), IsOk());
    ASSERT_TRUE(Flush(*e));
  }
  EXPECT_THAT(e->Accept(Up(old1, {0.f, 0.f}, 0), kT0),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Admitted fresh = Admit(*e, 4);
  EXPECT_EQ(e->current()->rejected.at("too_stale"), 1);  // Counted while none was open.
  Admit(*e, 5);  // The refused device's round is over: its slot was freed.
  // Claiming a version newer than the one the token was admitted at is fine up
  // to the current one; beyond it, or before admission, it is malformed.
  EXPECT_THAT(e->Accept(Up(old2, {0.f, 0.f}, 3), kT0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(e->Accept(Up(fresh, {0.f, 0.f}, 1), kT0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(e->Accept(Up(old2, {0.f, 0.f}, 1), kT0), IsOk());  // tau = 1.
  EXPECT_EQ(e->current()->rejected.at("malformed"), 2);
  // A delta of the wrong size never reaches a buffer (it would spoil its flush).
  EXPECT_THAT(e->Accept(Up(fresh, {0.f}, 2), kT0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(e->Accept(Up(fresh, {0.f, 0.f, 0.f}, 2), kT0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(e->Accept(Up(fresh, {0.f, NAN}, 2), kT0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(e->Accept(Up(fresh, {INFINITY, 0.f}, 2), kT0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(e->Accept(Up(fresh, {0.f, 0.f}, 2), kT0), IsOk());
}

TEST_F(AsyncEngineTest, FlushesPerCluster) {
  auto e = Make(AsyncConfig(10, 2, /*clusters=*/2));
  std::vector<Admitted> a;
  for (int i = 0; i < 4; ++i) a.push_back(Admit(*e, i));
  ASSERT_THAT(e->Accept(Up(a[0], {1.f, 1.f}, 0, 10, 0), kT0), IsOk());
  ASSERT_THAT(e->Accept(Up(a[1], {2.f, 2.f}, 0, 10, 1), kT0), IsOk());
  ASSERT_THAT(e->Accept(Up(a[2], {4.f, 4.f}, 0, 10, 1), kT0), IsOk());
  std::optional<ClosedRound> c = e->TakeClosedRound(kT0);
  ASSERT_TRUE(c && c->commit);
  EXPECT_EQ(c->heads.size(), 1u);
  EXPECT_FLOAT_EQ(c->heads.at(1)[0], 1 + 3.f);
  e->FinishRound(*c, true);
  EXPECT_EQ(e->models().at(0).version, 0);
  EXPECT_EQ(e->models().at(1).version, 1);
  // Cluster 0 kept its one update: the next one flushes both.
  ASSERT_THAT(e->Accept(Up(a[3], {3.f, 3.f}, 0, 10, 0), kT0), IsOk());
  Admit(*e, 4);  // Opens round 2.
  c = e->TakeClosedRound(kT0);
  ASSERT_TRUE(c && c->commit);
  EXPECT_EQ(c->participants.at(0), 2);
  EXPECT_FLOAT_EQ(c->heads.at(0)[0], 1 + 2.f);
}

TEST_F(AsyncEngineTest, RefusesReplaysAndExpiredTokens) {
  auto e = Make(AsyncConfig(2, 5));
  Admitted a0 = Admit(*e, 0), a1 = Admit(*e, 1);
  ASSERT_THAT(e->Accept(Up(a0, {0.f, 0.f}, 0), kT0), IsOk());
  // A token that uploaded is forgotten: its replay is refused as unknown.
  EXPECT_THAT(e->Accept(Up(a0, {0.f, 0.f}, 0), kT0),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(e->current()->rejected.at("bad_token"), 1);
  Upload other = Up(a1, {0.f, 0.f}, 0);
  other.secret_key = "not-key";
  EXPECT_THAT(e->Accept(other, kT0), StatusIs(absl::StatusCode::kPermissionDenied));
  const absl::Time later = kT0 + absl::Minutes(11);
  EXPECT_THAT(e->Accept(Up(a1, {0.f, 0.f}, 0), later),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  // The expired token's slot is free again; it and the replay stay refused.
  Admit(*e, 2, later);
  Admit(*e, 3, later);
  EXPECT_THAT(e->Accept(Up(a0, {0.f, 0.f}, 0), later),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(e->Accept(Up(a1, {0.f, 0.f}, 0), later),
              StatusIs(absl::StatusCode::kPermissionDenied));
  Upload never = Up(a1, {0.f, 0.f}, 0);
  never.round = 99;
  EXPECT_THAT(e->Accept(never, later), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(AsyncEngineTest, CancelOpenUndoesTheAdmission) {
  auto e = Make(AsyncConfig(1, 5));
  Admitted a = Admit(*e, 0);
  e->CancelOpen(a.round);
  EXPECT_FALSE(e->current());
  Admitted again = Admit(*e, 1);  // The slot is free again, the number reused.
  EXPECT_EQ(again.round, a.round);
  EXPECT_EQ(e->current()->selected, 1);
  EXPECT_THAT(e->Accept(Up(a, {0.f, 0.f}, 0), kT0),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(AsyncEngineTest, RefusesBadAsyncConfig) {
  EngineConfig c = AsyncConfig(0, 1);
  std::map<int, ClusterModel> models{{0, ClusterModel{{1.f, 1.f}, 0, ""}}};
  EXPECT_THAT(RoundEngine::Create(c, models, 1, 0, &random_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  c = AsyncConfig(1, 1);
  c.async->staleness_exponent = NAN;
  EXPECT_THAT(RoundEngine::Create(c, models, 1, 0, &random_).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace fedtiny::coordinator
