// A full coordinator on PostgreSQL (Server::Options::postgres, the binary's
// --postgres): real participants complete rounds over real gRPC on loopback,
// the state lives in the database (nothing in SQLite), and it survives a
// restart of the coordinator.
#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include <grpcpp/grpcpp.h>

#include "client/transport/participant.h"
#include "coordinator/clock.h"
#include "coordinator/postgres_store.h"
#include "coordinator/server.h"
#include "coordinator/testing/pg_server.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/e2e_data.h"
#include "tests/small_model.h"

namespace fedtiny {
namespace {

using client::DeviceStatus;
using client::Participant;
using client::RoundResult;
using client::SettableDeviceState;
using coordinator::testing::PgServer;

constexpr char kToken[] = "operator-secret-0123456789";
const DeviceStatus kPlugged{true, true, true, 90, false};

std::string TmpDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

class PostgresCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PgServer::Installed()) GTEST_SKIP() << PgServer::kMissing;
    absl::StatusOr<std::unique_ptr<PgServer>> pg = PgServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    absl::StatusOr<std::string> conninfo = pg_->CreateDatabase("coordinator");
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    Start();
  }

  void Start() {
    coordinator::Server::Options o;
    o.data_dir = TmpDir("data");
    o.postgres = conninfo_;
    o.admin_token = kToken;
    o.clock = clock_;
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    admin_ = v1::Admin::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  std::unique_ptr<Participant> Device(int i, const client::DeviceState* state) {
    client::SessionOptions s;
    s.address = server_->address();
    s.insecure = true;
    s.seed = i + 1;
    client::DeviceProfile p{"device-" + std::to_string(i), "phones"};
    return std::make_unique<Participant>(p, s, state, TmpDir("ckpt-" + std::to_string(i)));
  }

  std::shared_ptr<coordinator::FakeClock> clock_ =
      std::make_shared<coordinator::FakeClock>(absl::FromUnixSeconds(1'800'000'000));
  std::unique_ptr<PgServer> pg_;
  std::string conninfo_;
  std::unique_ptr<coordinator::Server> server_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(PostgresCoordinatorTest, RoundsCommitIntoPostgresAndSurviveARestart) {
  v1::CreateTaskRequest create;
  *create.mutable_config() = testing::SmallTask("pgtask", 2, 2);
  v1::TaskInfo info;
  ASSERT_TRUE(admin_->CreateTask(Ctx().get(), create, &info).ok());
  SettableDeviceState plugged(kPlugged);
  testing::LocalData data = testing::SeparableData(40, 7);
  auto a = Device(1, &plugged), b = Device(2, &plugged);
  for (int round = 1; round <= 2; ++round) {
    for (Participant* d : {a.get(), b.get()}) {
      RoundResult r = d->RunOnce(data.x, data.y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
      EXPECT_EQ(r.round, round);
    }
    clock_->Advance(absl::Seconds(5));
  }
  // The versions are in PostgreSQL, read back by another connection.
  auto store = coordinator::PostgresStore::Open(conninfo_);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<coordinator::VersionRow> versions = *(*store)->Versions("pgtask");
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[2].version, 2);
  EXPECT_EQ(versions[2].participants, 2);
  struct stat st;
  EXPECT_NE(stat(TmpDir("data/state.db").c_str(), &st), 0);  // SQLite is not used.
  server_.reset();
  Start();
  v1::GetTaskRequest get;
  get.set_task("pgtask");
  ASSERT_TRUE(admin_->GetTask(Ctx().get(), get, &info).ok());
  EXPECT_EQ(info.committed_rounds(), 2);
  EXPECT_EQ(info.state(), v1::DONE);
}

}  // namespace
}  // namespace fedtiny
