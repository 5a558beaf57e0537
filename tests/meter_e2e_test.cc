// Metering over real gRPC on loopback (issue #14, docs/metering.md): a device
// enrolls a package, meters calls, syncs through the coordinator's Metering
// service and gets a new grant; a restored snapshot is flagged as a rollback;
// a cut-off device gets no grant; a restart keeps the ledger. Operators see
// usage and cut devices off through the Admin API.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "coordinator/clock.h"
#include "coordinator/meter/durable_ledger.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/grpc_status.h"
#include "proto/meter.grpc.pb.h"
#include "tests/meter_fixture.h"
#include "tools/base/atomic_file.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::meter {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::Contains;
using ::testing::IsEmpty;

constexpr char kSecret[] = "0123456789abcdef-secret";
constexpr char kToken[] = "operator-token-0123456789";

class MeterE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
    key_file_ = dir_ + "-meter.pem";
    absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
    ASSERT_THAT(key, IsOk());
    absl::StatusOr<std::string> pem = key->ToPem();
    ASSERT_THAT(pem, IsOk());
    ASSERT_THAT(WriteFileAtomically(key_file_, *pem, 0600), IsOk());
    key_ = std::make_unique<crypto::EcPrivateKey>(*std::move(key));
    Start(key_file_);
    dev_ = std::make_unique<fixture::Device>("d1", key_->public_key(), false, 4);
    ASSERT_THAT(dev_->Reopen(), IsOk());
  }

  void Start(const std::string& key_file) {
    coordinator::Server::Options o;
    o.data_dir = dir_;
    o.clock = clock_;
    o.meter_key_file = key_file;
    o.admin_token = kToken;
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    stub_ = Metering::NewStub(channel);
    admin_ = v1::Admin::NewStub(channel);
  }

  void Restart() {
    server_.reset();
    Start(key_file_);
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(bool op = false) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (op) ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  // The answer of one EnrollMeter call, not installed (as if lost on the way).
  absl::StatusOr<Signed> EnrollAnswer(const std::string& secret = kSecret,
                                      std::optional<uint64_t> counter = std::nullopt) {
    MeterEnrollRequest req;
    req.set_device_id("d1");
    req.set_device_secret(secret);
    req.set_package("pkg");
    req.set_has_counter(counter.has_value());
    req.set_counter(counter.value_or(0));
    MeterEnrollResponse resp;
    absl::Status s = FromGrpcStatus(stub_->EnrollMeter(Ctx().get(), req, &resp));
    if (!s.ok()) return s;
    return resp.grant();
  }

  absl::Status Enroll() {
    absl::StatusOr<Signed> grant = EnrollAnswer();
    if (!grant.ok()) return grant.status();
    return dev_->meter->InstallGrant(*grant);
  }

  absl::StatusOr<SyncResponse> Sync() {
    SyncRequest req = dev_->meter->MakeSyncRequest();
    req.set_device_secret(kSecret);
    SyncResponse resp;
    absl::Status s = FromGrpcStatus(stub_->SyncUsage(Ctx().get(), req, &resp));
    if (!s.ok()) return s;
    return resp;
  }

  void Charge(int n) {
    for (int i = 0; i < n; ++i) {
      dev_->clock.Advance(1000);
      ASSERT_THAT(dev_->meter->Charge(), IsOk()) << i;
    }
  }

  absl::StatusOr<v1::ListUsageResponse> ListUsage() {
    v1::ListUsageResponse resp;
    absl::Status s =
        FromGrpcStatus(admin_->ListUsage(Ctx(true).get(), v1::ListUsageRequest(), &resp));
    if (!s.ok()) return s;
    return resp;
  }

  absl::Status CutOff(bool restore) {
    v1::CutOffDeviceRequest req;
    req.set_device_id("d1");
    req.set_restore(restore);
    v1::CutOffDeviceResponse resp;
    return FromGrpcStatus(admin_->CutOffDevice(Ctx(true).get(), req, &resp));
  }

  DeviceUsage Usage() {
    std::vector<DeviceUsage> all = server_->meter_ledger()->AllUsage();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? DeviceUsage() : all[0];
  }

  std::string dir_, key_file_;
  std::shared_ptr<coordinator::FakeClock> clock_ =
      std::make_shared<coordinator::FakeClock>(absl::FromUnixMicros(fixture::kStartUs));
  std::unique_ptr<crypto::EcPrivateKey> key_;  // The meter key; devices hold its public half.
  std::unique_ptr<coordinator::Server> server_;
  std::unique_ptr<Metering::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<fixture::Device> dev_;
};

TEST_F(MeterE2eTest, SyncAcceptsMeteredCallsAndRenewsTheGrant) {
  ASSERT_THAT(Enroll(), IsOk());
  Charge(5);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  EXPECT_TRUE(r->has_grant());
  ASSERT_THAT(dev_->meter->AcceptSync(*r), IsOk());
  EXPECT_EQ(dev_->meter->checkpoint_index(), 5u);
  EXPECT_EQ(Usage().accepted_calls, 5u);
}

TEST_F(MeterE2eTest, ALostEnrollAnswerIsAnsweredAgainUntilTheFirstSync) {
  absl::StatusOr<Signed> lost = EnrollAnswer();
  ASSERT_THAT(lost, IsOk());
  Restart();  // The ledger is durable: the repeat survives a restart too.
  absl::StatusOr<Signed> again = EnrollAnswer();
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->payload(), lost->payload());  // The same grant: id, calls, times.
  QuotaGrant a, b;
  ASSERT_TRUE(a.ParseFromString(lost->payload()) && b.ParseFromString(again->payload()));
  EXPECT_EQ(a.grant_id(), b.grant_id());
  EXPECT_FALSE(a.grant_id().empty());
  // Another enrollment for the same pair stays refused, and says why.
  absl::StatusOr<Signed> other = EnrollAnswer(kSecret, 7);
  EXPECT_THAT(other, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_NE(other.status().message().find("enrolled without a counter"), std::string::npos)
      << other.status();
  EXPECT_THAT(EnrollAnswer("another-secret-of-16+"),
              StatusIs(absl::StatusCode::kPermissionDenied));

  ASSERT_THAT(dev_->meter->InstallGrant(*again), IsOk());
  Charge(3);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  ASSERT_THAT(dev_->meter->AcceptSync(*r), IsOk());
  // Synced: enrolling again is refused (the device syncs from its checkpoint).
  absl::StatusOr<Signed> late = EnrollAnswer();
  EXPECT_THAT(late, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_NE(late.status().message().find("has synced"), std::string::npos) << late.status();
  EXPECT_EQ(Usage().accepted_calls, 3u);
}

TEST_F(MeterE2eTest, WrongSecretIsDenied) {
  ASSERT_THAT(Enroll(), IsOk());
  SyncRequest req = dev_->meter->MakeSyncRequest();
  req.set_device_secret("another-secret-of-16+");
  SyncResponse resp;
  EXPECT_THAT(FromGrpcStatus(stub_->SyncUsage(Ctx().get(), req, &resp)),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(MeterE2eTest, RestoredSnapshotIsFlaggedRollback) {
  ASSERT_THAT(Enroll(), IsOk());
  Charge(5);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(dev_->meter->AcceptSync(*r), IsOk());
  const auto snapshot = dev_->storage.files;
  Charge(5);
  r = Sync();
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(dev_->meter->AcceptSync(*r), IsOk());

  dev_->storage.files = snapshot;
  ASSERT_THAT(dev_->Reopen(), IsOk());
  Charge(2);
  r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), Contains(METER_FLAG_ROLLBACK)) << r->detail();
  EXPECT_FALSE(r->has_grant());
  absl::StatusOr<v1::ListUsageResponse> usage = ListUsage();
  ASSERT_THAT(usage, IsOk());
  ASSERT_EQ(usage->usage_size(), 1);
  const v1::UsageInfo& u = usage->usage(0);
  EXPECT_EQ(u.flags().at("rollback"), 1u);
  EXPECT_EQ(u.accepted_calls(), 10u);
  EXPECT_EQ(u.disputed_calls(), 2u);
  EXPECT_NE(usage->billing_csv().find("d1,pkg,10,2,"), std::string::npos)
      << usage->billing_csv();
}

TEST_F(MeterE2eTest, CutOffDeviceGetsNoGrant) {
  ASSERT_THAT(Enroll(), IsOk());
  ASSERT_THAT(CutOff(false), IsOk());
  Charge(3);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->has_grant());
  EXPECT_TRUE(Usage().cut_off);
  EXPECT_EQ(Usage().accepted_calls, 3u);
}

TEST_F(MeterE2eTest, RestartKeepsTheLedger) {
  ASSERT_THAT(Enroll(), IsOk());
  Charge(4);
  absl::StatusOr<SyncResponse> r = Sync();
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(dev_->meter->AcceptSync(*r), IsOk());
  ASSERT_THAT(CutOff(false), IsOk());

  Restart();
  EXPECT_EQ(Usage().accepted_calls, 4u);
  EXPECT_TRUE(Usage().cut_off);
  ASSERT_THAT(CutOff(true), IsOk());
  Charge(3);
  r = Sync();  // From the checkpoint signed before the restart.
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  EXPECT_TRUE(r->has_grant());
  EXPECT_EQ(Usage().accepted_calls, 7u);
}

TEST_F(MeterE2eTest, WithoutAKeyMeteringIsNotConfigured) {
  Restart();
  server_.reset();
  Start("");
  EXPECT_THAT(Enroll(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ListUsage(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace fedtiny::meter
