// Replicas in one process over a throwaway PostgreSQL server, driven over real
// gRPC on loopback with a hand-moved clock: every documented upload refusal,
// exactly-once counting across replicas, leadership hand-over with fencing.
#include "coordinator/replica/replica.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/transport/participant.h"
#include "coordinator/clock.h"
#include "coordinator/pg_connection.h"
#include "coordinator/postgres_store.h"
#include "coordinator/replica/leader.h"
#include "coordinator/testing/pg_server.h"
#include "gtest/gtest.h"
#include "proto/delta_codec.h"
#include "proto/model_codec.h"
#include "proto/federation.grpc.pb.h"
#include "tests/e2e_data.h"
#include "tests/small_model.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator::replica {
namespace {

using ::fedtiny::testing::IsOk;
using testing::PgServer;

constexpr int kDim = ::fedtiny::testing::kSmallHeadParams;

v1::CheckInRequest CheckInOf(const std::string& id) {
  return ::fedtiny::testing::EligibleCheckIn(id, "secret-of-" + id + "-0123456789");
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PgServer::Installed()) GTEST_SKIP() << PgServer::kMissing;
    absl::StatusOr<std::unique_ptr<PgServer>> pg = PgServer::Start();
    ASSERT_THAT(pg, IsOk());
    pg_ = *std::move(pg);
    absl::StatusOr<std::string> conninfo = pg_->CreateDatabase("replicas");
    ASSERT_THAT(conninfo, IsOk());
    conninfo_ = *conninfo;
  }

  Replica::Options Options(const std::string& id) {
    Replica::Options o;
    o.conninfo = conninfo_;
    o.replica_id = id;
    o.task = "t";
    v1::TaskConfig config = ::fedtiny::testing::SmallTask("t", 3, 100);
    config.set_min_reports(1);
    o.create = config;
    o.clock = clock_;
    o.leader_retry = absl::Milliseconds(20);
    o.leader_tick = absl::Milliseconds(10);
    o.full_cache = absl::ZeroDuration();  // The clock is moved by hand (see FullRoundsAre...).
    return o;
  }

  std::unique_ptr<v1::Federation::Stub> Stub(const Replica& r) {
    return v1::Federation::NewStub(
        grpc::CreateChannel(r.address(), grpc::InsecureChannelCredentials()));
  }

  // Checks in until admitted (the leader opens the first round shortly).
  v1::Assignment Admit(v1::Federation::Stub& stub, const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      grpc::ClientContext ctx;
      v1::CheckInResponse resp;
      grpc::Status s = stub.CheckIn(&ctx, CheckInOf(id), &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (resp.has_assignment()) return resp.assignment();
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "never admitted";
    return {};
  }

  grpc::Status Upload(v1::Federation::Stub& stub, const v1::Assignment& a, const std::string& id,
                      float value, int64_t examples = 10,
                      const std::map<std::string, double>& metrics = {}) {
    v1::UploadRequest u;
    u.set_task(a.task());
    u.set_round(a.round());
    u.set_upload_token(a.upload_token());
    u.set_model_version(a.bundles(0).version());
    u.set_example_count(examples);
    u.set_delta(EncodeDelta(std::vector<float>(kDim, value)));
    u.set_device_secret("secret-of-" + id + "-0123456789");
    u.mutable_metrics()->insert(metrics.begin(), metrics.end());
    grpc::ClientContext ctx;
    v1::UploadResponse resp;
    return stub.Upload(&ctx, u, &resp);
  }

  std::vector<VersionRow> Versions() {
    auto store = PostgresStore::Open(conninfo_);
    EXPECT_THAT(store, IsOk());
    return *(*store)->Versions("t");
  }

  // Waits until the leader opened `round`.
  void AwaitOpen(int64_t round) {
    auto conn = *PgConnection::Connect(conninfo_);
    for (int i = 0; i < 500; ++i) {
      auto r = conn->Exec("SELECT round FROM replica_rounds WHERE open");
      if (r.ok() && r->rows() == 1 && r->Int(0, 0) == round) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "round " << round << " never opened";
  }

  // Waits until `n` versions of cluster 0 exist (version 0 included).
  bool AwaitVersions(size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (Versions().size() >= n) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(absl::FromUnixSeconds(1'800'000'000));
  std::unique_ptr<PgServer> pg_;
  std::string conninfo_;
};

TEST_F(ReplicaTest, UploadsAreCountedOnceAcrossReplicasAndRefusedWithTheDocumentedCodes) {
  auto a = Replica::Start(Options("a"));
  ASSERT_THAT(a, IsOk());
  auto b = Replica::Start(Options("b"));
  ASSERT_THAT(b, IsOk());
  auto sa = Stub(*a), sb = Stub(*b);
  const v1::Assignment d1 = Admit(*sa, "d1");
  const v1::Assignment d2 = Admit(*sb, "d2");
  const v1::Assignment d3 = Admit(*sa, "d3");
  ASSERT_EQ(d1.round(), 1);
  ASSERT_EQ(d2.round(), 1);
  // Refusals, each through the replica that did not admit the device.
  v1::Assignment forged = d1;
  forged.set_upload_token("00000000000000000000000000000000");
  EXPECT_EQ(Upload(*sb, forged, "d1", 1).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Upload(*sb, d1, "d2", 1).error_code(), grpc::StatusCode::PERMISSION_DENIED);  // Wrong device.
  EXPECT_EQ(Upload(*sb, d1, "d1", std::nanf("")).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Upload(*sb, d1, "d1", 1, 0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::Assignment stale = d1;
  stale.mutable_bundles(0)->set_version(7);
  EXPECT_EQ(Upload(*sb, stale, "d1", 1).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::Assignment future = d1;
  future.set_round(9);
  EXPECT_EQ(Upload(*sb, future, "d1", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  // Accepted once; the replay on the other replica is a duplicate.
  ASSERT_TRUE(Upload(*sb, d1, "d1", 1, 10, {{"train_loss", 1.0}, {"made_up", 5}}).ok());
  EXPECT_EQ(Upload(*sa, d1, "d1", 1).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(Upload(*sa, d2, "d2", 4, 30, {{"train_loss", 2.0}}).ok());
  // The device that reported is told to come back after the round.
  {
    grpc::ClientContext ctx;
    v1::CheckInResponse resp;
    ASSERT_TRUE(sa->CheckIn(&ctx, CheckInOf("d1"), &resp).ok());
    EXPECT_TRUE(resp.has_retry());
  }
  ASSERT_TRUE(Upload(*sb, d3, "d3", -2, 10).ok());  // The goal (3): the leader commits.
  ASSERT_TRUE(AwaitVersions(2));
  const std::vector<VersionRow> v = Versions();
  EXPECT_EQ(v[1].version, 1);
  EXPECT_EQ(v[1].participants, 3);
  EXPECT_EQ(v[1].round, 1);
  // FedAvg of the three: (10*1 + 30*4 + 10*-2) / 50 = 2.2, applied with sgd lr 1.
  auto store = *PostgresStore::Open(conninfo_);
  v1::Model m0, m1;
  ASSERT_TRUE(m0.ParseFromString(*store->ReadBlob(v[0])));
  ASSERT_TRUE(m1.ParseFromString(*store->ReadBlob(v[1])));
  const std::vector<float> h0 = *HeadParams(m0), h1 = *HeadParams(m1);
  ASSERT_EQ(h1.size(), static_cast<size_t>(kDim));
  for (int i = 0; i < kDim; ++i) EXPECT_NEAR(h1[i] - h0[i], 2.2f, 1e-5) << i;
  // The round's record: counts, and metrics weighted by examples across replicas
  // ((10 x 1 + 30 x 2) / 40; d3 sent none and does not dilute it).
  v1::RoundInfo info;
  const std::vector<RoundRow> rounds = *store->Rounds("t", 0);
  for (const RoundRow& r : rounds) {
    if (r.round == 1) ASSERT_TRUE(info.ParseFromString(r.info));
  }
  EXPECT_EQ(info.state(), v1::COMMITTED);
  EXPECT_EQ(info.reported(), 3);
  EXPECT_EQ(info.selected(), 3);
  EXPECT_EQ(info.versions().at(0), 1);
  EXPECT_NEAR(info.metrics().at("train_loss"), 1.75, 1e-12);
  EXPECT_EQ(info.metrics().count("made_up"), 0u);  // Not among the task's metrics.
  EXPECT_NEAR(info.clusters().at(0).metrics().at("train_loss"), 1.75, 1e-12);
  // An upload for the closed round is late.
  EXPECT_EQ(Upload(*sa, d3, "d3", 1).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(ReplicaTest, TheFederationApiServesOverTls) {
  Replica::Options o = Options("tls");
  o.tls = {"tests/certs/server.pem", "tests/certs/server.key", ""};
  absl::StatusOr<Replica> r = Replica::Start(o);
  ASSERT_THAT(r, IsOk());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = *ReadFile("tests/certs/ca.pem");
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto tls = v1::Federation::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("ipv4:127.0.0.1:", r->port()), grpc::SslCredentials(ssl), args));
  v1::Assignment a = Admit(*tls, "dev-tls");
  EXPECT_FALSE(a.upload_token().empty());
  // A plaintext client gets nowhere.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::CheckInResponse resp;
  EXPECT_FALSE(Stub(*r)->CheckIn(&ctx, CheckInOf("dev-plain"), &resp).ok());
  // Half a key pair is refused at start.
  o.tls.key.clear();
  EXPECT_THAT(Replica::Start(o).status(), ::fedtiny::testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ReplicaTest, TheDeadlineClosesTheRoundWithWhatArrived) {
  auto a = Replica::Start(Options("a"));
  ASSERT_THAT(a, IsOk());
  auto s = Stub(*a);
  const v1::Assignment d1 = Admit(*s, "d1");
  ASSERT_TRUE(Upload(*s, d1, "d1", 1).ok());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Versions().size(), 1u);  // Goal 3 not reached: still open.
  clock_->Advance(absl::Minutes(2));
  ASSERT_TRUE(AwaitVersions(2));
  EXPECT_EQ(Versions()[1].participants, 1);
  EXPECT_EQ(Upload(*s, d1, "d1", 1).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_F(ReplicaTest, AStandbyTakesOverAndAStaleLeaderIsFencedOut) {
  auto a = Replica::Start(Options("a"));
  ASSERT_THAT(a, IsOk());
  for (int i = 0; i < 200 && !a->leading(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(a->leading());
  auto b = Replica::Start(Options("b"));
  ASSERT_THAT(b, IsOk());
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(b->leading());  // One leader at a time.
  auto s = Stub(*b);
  const v1::Assignment d1 = Admit(*s, "d1");
  ASSERT_TRUE(Upload(*s, d1, "d1", 1).ok());
  a->Shutdown();  // The leader goes; the open round carries on under b.
  for (int i = 0; i < 200 && !b->leading(); ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_TRUE(b->leading());
  const v1::Assignment d2 = Admit(*s, "d2");
  EXPECT_EQ(d2.round(), d1.round());
  ASSERT_TRUE(Upload(*s, d2, "d2", 1).ok());
  const v1::Assignment d3 = Admit(*s, "d3");
  ASSERT_TRUE(Upload(*s, d3, "d3", 1).ok());
  ASSERT_TRUE(AwaitVersions(2));
  EXPECT_EQ(Versions()[1].participants, 3);  // Nothing lost in the hand-over.

  // A leader whose epoch moved on cannot write: its step is refused.
  auto store = *PostgresStore::Open(conninfo_);
  Leader::Options lo;
  lo.task = "t";
  lo.replica_id = "stale";
  lo.conninfo = conninfo_;
  Leader stale(lo, store.get(), clock_.get());
  auto conn = *PgConnection::Connect(conninfo_);
  ASSERT_THAT(conn->Exec("SELECT pg_advisory_unlock_all()"), IsOk());
  b->Shutdown();  // Frees the lock for `stale`.
  absl::StatusOr<bool> got = stale.TryAcquire();
  ASSERT_THAT(got, IsOk());
  ASSERT_TRUE(*got);
  ASSERT_THAT(conn->Exec("UPDATE replica_leases SET epoch = epoch + 1"), IsOk());  // A newer leader.
  clock_->Advance(absl::Minutes(2));  // Round 2 is due to close: the step must write.
  EXPECT_EQ(stale.Step().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Versions().size(), 2u);
}

// Once a replica saw the round full, it answers check-ins from memory for
// full_cache, then asks PostgreSQL again.
TEST_F(ReplicaTest, FullRoundsAreAnsweredFromMemoryForAWhile) {
  Replica::Options o = Options("a");
  o.create->set_clients_per_round(1);  // Goal 1, over-selection 1: one slot.
  o.full_cache = absl::Milliseconds(250);
  auto a = Replica::Start(o);
  ASSERT_THAT(a, IsOk());
  auto s = Stub(*a);
  AwaitOpen(1);  // Asked before, a check-in would remember "no round" until the clock moves.
  const v1::Assignment d1 = Admit(*s, "d1");
  auto check_in = [&](const std::string& id) {
    grpc::ClientContext ctx;
    v1::CheckInResponse resp;
    EXPECT_TRUE(s->CheckIn(&ctx, CheckInOf(id), &resp).ok());
    return resp;
  };
  EXPECT_TRUE(check_in("d2").has_retry());  // Full: asked PostgreSQL, and remembered.
  ASSERT_TRUE(Upload(*s, d1, "d1", 1).ok());  // Goal: round 1 commits, round 2 opens.
  ASSERT_TRUE(AwaitVersions(2));
  AwaitOpen(2);
  EXPECT_TRUE(check_in("d3").has_retry());  // Room now, but the clock did not move.
  clock_->Advance(absl::Milliseconds(251));
  const v1::CheckInResponse admitted = check_in("d3");
  ASSERT_TRUE(admitted.has_assignment());
  EXPECT_EQ(admitted.assignment().round(), 2);
}

// PostgreSQL restarts under the replicas: calls meanwhile fail UNAVAILABLE,
// then everything reconnects and the round that was open completes.
TEST_F(ReplicaTest, ReplicasRideThroughAPostgresRestart) {
  auto a = Replica::Start(Options("a"));
  ASSERT_THAT(a, IsOk());
  auto s = Stub(*a);
  const v1::Assignment d1 = Admit(*s, "d1");
  ASSERT_TRUE(Upload(*s, d1, "d1", 1).ok());
  ASSERT_THAT(pg_->Stop(), IsOk());
  {
    grpc::ClientContext ctx;
    v1::CheckInResponse resp;
    EXPECT_EQ(s->CheckIn(&ctx, CheckInOf("d2"), &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  ASSERT_THAT(pg_->Restart(), IsOk());
  const v1::Assignment d2 = Admit(*s, "d2");
  EXPECT_EQ(d2.round(), d1.round());
  ASSERT_TRUE(Upload(*s, d2, "d2", 1).ok());
  const v1::Assignment d3 = Admit(*s, "d3");
  ASSERT_TRUE(Upload(*s, d3, "d3", 1).ok());
  ASSERT_TRUE(AwaitVersions(2));  // The leader got its lock back and committed.
  EXPECT_EQ(Versions()[1].participants, 3);
}

// The client SDK end to end through replicas: real participants download,
// verify, train and upload compressed deltas, each through another replica.
TEST_F(ReplicaTest, RealParticipantsTrainThroughReplicasWithCompressedUpdates) {
  Replica::Options oa = Options("a");
  oa.create->set_compression("hadamard:bits=2,k=0.5");
  auto a = Replica::Start(oa);
  ASSERT_THAT(a, IsOk());
  auto b = Replica::Start(Options("b"));
  ASSERT_THAT(b, IsOk());
  ASSERT_TRUE(Admit(*Stub(*a), "opener").round() == 1);  // The first round is open.
  client::SettableDeviceState plugged(client::DeviceStatus{true, true, true, 90, false});
  for (int i = 0; i < 2; ++i) {
    client::SessionOptions so;
    so.address = (i % 2 == 0 ? a : b)->address();
    so.insecure = true;
    so.seed = i + 1;
    client::Participant device(client::DeviceProfile{"p" + std::to_string(i), "phones"}, so,
                               &plugged, std::string(std::getenv("TEST_TMPDIR")) + "/p" + std::to_string(i));
    const ::fedtiny::testing::LocalData d = ::fedtiny::testing::SeparableData(40, 5 + i);
    const client::RoundResult r = device.RunOnce(d.x, d.y);
    ASSERT_EQ(r.kind, client::RoundResult::Kind::kUploaded) << r.why;
    EXPECT_EQ(r.round, 1);
  }
  clock_->Advance(absl::Minutes(2));  // "opener" never uploads: the deadline closes it.
  ASSERT_TRUE(AwaitVersions(2));
  EXPECT_EQ(Versions()[1].participants, 2);
}

}  // namespace
}  // namespace fedtiny::coordinator::replica
