// One experiment config, two transports: the simulator's devices drive the real
// coordinator in process (MemoryStore) and a real gRPC server on loopback
// (SQLite store), on the same virtual clock schedule. The coordinator decides
// selection, lateness, closing and commits either way, so both must commit the
// same versions, byte for byte (same SHA-256 per version).
#include <memory>

#include "client/platform/linux/status_bridge.h"
#include "client/transport/model_proto.h"
#include "coordinator/memory_store.h"
#include "coordinator/server.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "sim/async_driver.h"
#include "sim/grpc_federation.h"
#include "sim/round_driver.h"
#include "sim/synthetic.h"
#include "tools/base/status_macros.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::sim {
namespace {

using ::fedtiny::testing::IsOk;

ExperimentConfig Config() {
  ExperimentConfig c;
  c.task.set_name("same");
  c.task.set_rounds(6);
  c.task.set_clients_per_round(12);
  c.task.set_min_reports(4);
  c.task.set_over_selection(1.0);  // Any drop-out leaves the goal unmet: a deadline close.
  c.task.set_round_deadline_ms(120'000);  // Short: slow classes straggle.
  c.task.set_aggregator("median");
  c.task.mutable_plan()->set_epochs(2);
  c.task.mutable_plan()->set_momentum(0.5f);
  c.task.mutable_plan()->set_clip_norm(5.f);
  *c.task.mutable_model() = client::ModelToProto(
      client::Body(), client::MakeHead({kSyntheticDim, 16, kSyntheticClasses}, 3));
  c.task.mutable_model()->set_input_dim(kSyntheticDim);
  c.clients = 300;
  c.heterogeneous = true;  // Device classes, int8 variants, drop-outs, stragglers.
  c.attacker_fraction = 0.1;
  c.attack = "sign_flip";
  c.threads = 2;
  c.eval_every = 3;
  c.seed = 5;
  return c;
}

struct Outcome {
  ExperimentResult result;
  std::vector<v1::ModelVersion> versions;
};

// FedBuff: 16 devices train at once, a version per 4 updates, the median of
// each buffer; no attackers (not simulated asynchronously).
ExperimentConfig AsyncConfig() {
  ExperimentConfig c = Config();
  c.task.set_rounds(8);
  c.task.mutable_async()->set_concurrency(16);
  c.task.mutable_async()->set_buffer(4);
  c.attacker_fraction = 0;
  c.speed_sigma = 1;
  return c;
}

absl::StatusOr<Outcome> RunOn(coordinator::Coordinator& coord, Federation& fed,
                              coordinator::FakeClock& clock, bool async = false) {
  const ExperimentConfig c0 = async ? AsyncConfig() : Config();
  SyntheticOptions o;
  o.clients = c0.clients;
  o.seed = c0.seed;
  const SyntheticSource source(o);
  const Population population(c0.clients, c0.attacker_fraction, c0.heterogeneous, c0.seed,
                              c0.speed_sigma);
  const ClientData test = source.Test(1, 400);
  ASSIGN_OR_RETURN(v1::TaskInfo info, coord.CreateTask(c0.task));
  ExperimentConfig c = c0;
  c.task = info.config();
  Outcome out;
  const EvaluateFn evaluate = [&](const std::vector<client::Head>& heads, std::vector<double>*) {
    return client::ToAbsl(client::Evaluate(heads[0], test.features, test.labels));
  };
  RETURN_IF_ERROR(async ? RunAsyncRounds(c, source, population, fed, clock, evaluate, out.result,
                                         nullptr)
                        : RunRounds(c, source, population, fed, clock, evaluate, out.result,
                                    nullptr));
  ASSIGN_OR_RETURN(out.versions, coord.ListModels("same"));
  return out;
}

TEST(RoundProtocolTest, OneConfigCommitsTheSameVersionsInProcessAndOverGrpc) {
  // In process.
  coordinator::FakeClock clock(kSimEpoch);
  aggregation::SeededRandomSource tokens(1);
  absl::StatusOr<std::unique_ptr<coordinator::Coordinator>> coord = coordinator::Coordinator::Create(
      std::make_unique<coordinator::MemoryStore>(), &clock, &tokens);
  ASSERT_THAT(coord, IsOk());
  InProcessFederation local(coord->get());
  absl::StatusOr<Outcome> a = RunOn(**coord, local, clock);
  ASSERT_THAT(a, IsOk());

  // Over gRPC, against a real server with its SQLite store.
  auto server_clock = std::make_shared<coordinator::FakeClock>(kSimEpoch);
  coordinator::Server::Options options;
  options.data_dir = std::string(std::getenv("TEST_TMPDIR")) + "/server";
  options.clock = server_clock;
  options.tick = absl::Hours(1);  // The driver ticks at each deadline it reaches.
  absl::StatusOr<coordinator::Server> server = coordinator::Server::Start(options);
  ASSERT_THAT(server, IsOk());
  GrpcFederation remote(grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()),
                        server->coordinator());
  absl::StatusOr<Outcome> b = RunOn(*server->coordinator(), remote, *server_clock);
  ASSERT_THAT(b, IsOk());

  // The runs did something worth comparing.
  int committed = 0, abandoned_or_short = 0, attackers = 0, stragglers = 0;
  for (const RoundRecord& r : a->result.rounds) {
    committed += r.committed;
    abandoned_or_short += r.reported < 12;
    attackers += r.attackers;
    stragglers += r.stragglers + r.dropped;
  }
  EXPECT_EQ(committed, 6);
  EXPECT_GT(attackers, 0);
  EXPECT_GT(stragglers, 0);
  EXPECT_GT(abandoned_or_short, 0) << "no round closed at its deadline";
  EXPECT_GT(a->result.final_accuracy, a->result.rounds.front().accuracy - 1e-9);

  ASSERT_EQ(a->result.rounds.size(), b->result.rounds.size());
  for (size_t i = 0; i < a->result.rounds.size(); ++i) {
    const RoundRecord &x = a->result.rounds[i], &y = b->result.rounds[i];
    EXPECT_EQ(x.selected, y.selected) << i;
    EXPECT_EQ(x.reported, y.reported) << i;
    EXPECT_EQ(x.rejected, y.rejected) << i;
    EXPECT_EQ(x.committed, y.committed) << i;
    EXPECT_EQ(x.virtual_time_s, y.virtual_time_s) << i;
  }
  ASSERT_EQ(a->versions.size(), b->versions.size());
  ASSERT_EQ(a->versions.size(), 7u);  // Version 0 and one per committed round.
  for (size_t i = 0; i < a->versions.size(); ++i) {
    EXPECT_EQ(a->versions[i].version(), b->versions[i].version());
    EXPECT_EQ(a->versions[i].sha256(), b->versions[i].sha256()) << "version " << i;
    EXPECT_EQ(a->versions[i].participants(), b->versions[i].participants());
  }
  EXPECT_EQ(a->result.final_accuracy, b->result.final_accuracy);
}

// The same for an asynchronous task: stale uploads, per-cluster buffers and
// tokens across rounds behave alike behind the real server.
TEST(RoundProtocolTest, AnAsyncTaskCommitsTheSameVersionsInProcessAndOverGrpc) {
  coordinator::FakeClock clock(kSimEpoch);
  aggregation::SeededRandomSource tokens(1);
  absl::StatusOr<std::unique_ptr<coordinator::Coordinator>> coord = coordinator::Coordinator::Create(
      std::make_unique<coordinator::MemoryStore>(), &clock, &tokens);
  ASSERT_THAT(coord, IsOk());
  InProcessFederation local(coord->get());
  absl::StatusOr<Outcome> a = RunOn(**coord, local, clock, /*async=*/true);
  ASSERT_THAT(a, IsOk());

  auto server_clock = std::make_shared<coordinator::FakeClock>(kSimEpoch);
  coordinator::Server::Options options;
  options.data_dir = std::string(std::getenv("TEST_TMPDIR")) + "/async-server";
  options.clock = server_clock;
  options.tick = absl::Hours(1);
  absl::StatusOr<coordinator::Server> server = coordinator::Server::Start(options);
  ASSERT_THAT(server, IsOk());
  GrpcFederation remote(grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()),
                        server->coordinator());
  absl::StatusOr<Outcome> b = RunOn(*server->coordinator(), remote, *server_clock, true);
  ASSERT_THAT(b, IsOk());

  ASSERT_EQ(a->result.rounds.size(), 8u);
  int reported = 0, lost = 0;
  for (const RoundRecord& r : a->result.rounds) {
    EXPECT_TRUE(r.committed) << r.round;
    reported += r.reported;
    lost += r.dropped + r.stragglers;
  }
  EXPECT_EQ(reported, 8 * 4);
  EXPECT_GT(lost, 0);  // Heterogeneous devices: some never upload.
  ASSERT_EQ(a->result.rounds.size(), b->result.rounds.size());
  for (size_t i = 0; i < a->result.rounds.size(); ++i) {
    const RoundRecord &x = a->result.rounds[i], &y = b->result.rounds[i];
    EXPECT_EQ(x.selected, y.selected) << i;
    EXPECT_EQ(x.reported, y.reported) << i;
    EXPECT_EQ(x.rejected, y.rejected) << i;
    EXPECT_EQ(x.virtual_time_s, y.virtual_time_s) << i;
  }
  ASSERT_EQ(a->versions.size(), 9u);
  ASSERT_EQ(a->versions.size(), b->versions.size());
  for (size_t i = 0; i < a->versions.size(); ++i) {
    EXPECT_EQ(a->versions[i].sha256(), b->versions[i].sha256()) << "version " << i;
    EXPECT_EQ(a->versions[i].participants(), b->versions[i].participants());
  }
}

}  // namespace
}  // namespace fedtiny::sim
