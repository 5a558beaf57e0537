// Metering over real gRPC on loopback (issue #14, docs/metering.md): a device
// enrolls a package, meters calls, syncs through the coordinator's Metering
// service and gets a new grant; a restored snapshot is flagged as a rollback;
// a cut-off device gets no grant; a restart keeps the ledger. Operators see
// usage and cut devices off through the Admin API, and through the real flctl
// binary against the real coordinator binary (its --meter_* flags included).
#include <signal.h>
#include <sys/wait.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "client/transport/metering_client.h"
#include "coordinator/meter/billing_csv.h"

#include "coordinator/clock.h"
#include "coordinator/meter/durable_ledger.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/grpc_status.h"
#include "proto/meter.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/child_process.h"
#include "tests/meter_fixture.h"
#include "tools/base/atomic_file.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/status_macros.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::meter {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::Contains;
using ::testing::IsEmpty;

constexpr char kSecret[] = "0123456789abcdef-secret";
constexpr char kToken[] = "operator-token-0123456789";

// A call's context: a 10 s deadline, and the operator's token when `op`.
std::unique_ptr<grpc::ClientContext> CallContext(bool op = false) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (op) ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

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

  static std::unique_ptr<grpc::ClientContext> Ctx(bool op = false) { return CallContext(op); }

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
      dev_->clock.Advance(absl::Microseconds(1000));
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

TEST_F(MeterE2eTest, TheSdkClientEnrollsAndSyncsWithTheCheckInSecret) {
  client::SessionOptions o;
  o.address = server_->address();
  o.insecure = true;
  client::MeteringClient client(o, kSecret);
  client::MeteringClient impostor(o, "another-secret-of-16+");
  EXPECT_EQ(dev_->meter->remaining_calls(), 0u);
  ASSERT_THAT(client.Enroll(*dev_->meter, std::nullopt), IsOk());  // Binds the id's secret.
  EXPECT_EQ(dev_->meter->remaining_calls(), 10000u);
  fixture::Device other("d1", key_->public_key(), false, 4);
  ASSERT_THAT(other.Reopen(), IsOk());
  EXPECT_THAT(impostor.Enroll(*other.meter, std::nullopt),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(other.meter->remaining_calls(), 0u);
  Charge(5);
  EXPECT_THAT(impostor.Sync(*dev_->meter), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(dev_->meter->checkpoint_index(), 0u);
  // A sync whose answer was lost, then the client's: answered as a repeat.
  ASSERT_THAT(Sync(), IsOk());
  absl::StatusOr<SyncResponse> r = client.Sync(*dev_->meter);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  EXPECT_EQ(dev_->meter->checkpoint_index(), 5u);
  Charge(2);
  ASSERT_THAT(client.Sync(*dev_->meter), IsOk());
  EXPECT_EQ(dev_->meter->checkpoint_index(), 7u);
  EXPECT_EQ(Usage().accepted_calls, 7u);
  EXPECT_EQ(Usage().syncs, 3u);
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


// ---- flctl meter, against the coordinator binary ---------------------------

// Runs `command` in a shell: its exit code and its stdout and stderr.
std::pair<int, std::string> RunShell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (p != nullptr && std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = p == nullptr ? -1 : pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// The coordinator binary with metering on and small grants (--meter_* flags),
// a device talking to it over gRPC, and flctl run as an operator would.
class FlctlMeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/flctl";
    key_file_ = dir_ + "-meter.pem";
    token_file_ = dir_ + "-token";
    absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
    ASSERT_THAT(key, IsOk());
    ASSERT_THAT(WriteFileAtomically(key_file_, *key->ToPem(), 0600), IsOk());
    ASSERT_THAT(WriteFileAtomically(token_file_, kToken, 0600), IsOk());
    key_ = std::make_unique<crypto::EcPrivateKey>(*std::move(key));
    absl::StatusOr<testing::ChildProcess> child = testing::ChildProcess::Spawn(
        {"coordinator/coordinator", "--port=0", "--data_dir=" + dir_,
         "--admin_token_file=" + token_file_, "--meter_key=" + key_file_,
         "--meter_grant_calls=20", "--meter_grant_validity=2h", "--meter_grace=30m",
         "--meter_grace_calls=3"});
    ASSERT_THAT(child, IsOk());
    coordinator_ = std::make_unique<testing::ChildProcess>(*std::move(child));
    absl::StatusOr<std::string> line = coordinator_->ReadLine(absl::Seconds(30));
    ASSERT_TRUE(line.ok() && absl::StartsWith(*line, "listening on ")) << line.status();
    address_ = line->substr(13);
    stub_ = Metering::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (coordinator_ == nullptr) return;
    coordinator_->Signal(SIGTERM);
    const int status = coordinator_->Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }

  std::unique_ptr<fixture::Device> NewDevice(const std::string& id) {
    auto d = std::make_unique<fixture::Device>(id, key_->public_key(), false, 4);
    d->clock.Set(absl::Now());  // The binary runs on the real clock.
    EXPECT_THAT(d->Reopen(), IsOk());
    return d;
  }

  // The device's SDK client (client/transport/metering_client.h).
  client::MeteringClient& Client() {
    if (client_ == nullptr) {
      client::SessionOptions o;
      o.address = address_;
      o.insecure = true;
      client_ = std::make_unique<client::MeteringClient>(o, kSecret);
    }
    return *client_;
  }

  absl::StatusOr<SyncResponse> Sync(fixture::Device& d, int calls) {
    for (int i = 0; i < calls; ++i) {
      d.clock.Advance(absl::Microseconds(1000));
      RETURN_IF_ERROR(d.meter->Charge());
    }
    return Client().Sync(*d.meter);
  }

  std::pair<int, std::string> Flctl(const std::string& args) {
    return RunShell("coordinator/flctl --deadline_s=10 --insecure --server=" + address_ +
                    " --token_file=" + token_file_ + " " + args);
  }

  // flctl --json meter list, by device.
  std::map<std::string, nlohmann::json> JsonList() {
    auto [code, out] = Flctl("--json meter list");
    EXPECT_EQ(code, 0) << out;
    std::map<std::string, nlohmann::json> by_device;
    for (const std::string& line : Lines(out)) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << line;
      if (!j.is_discarded()) by_device[j.value("device_id", "")] = j;
    }
    return by_device;
  }

  std::string dir_, key_file_, token_file_, address_;
  std::unique_ptr<crypto::EcPrivateKey> key_;
  std::unique_ptr<testing::ChildProcess> coordinator_;
  std::unique_ptr<Metering::Stub> stub_;
  std::unique_ptr<client::MeteringClient> client_;
};

TEST_F(FlctlMeterTest, ListCsvAndCutoffAfterDevicesSynced) {
  std::unique_ptr<fixture::Device> d1 = NewDevice("d1");
  ASSERT_THAT(Client().Enroll(*d1->meter, std::nullopt), IsOk());
  EXPECT_EQ(d1->meter->remaining_calls(), 20u);
  // The --meter_* flags reach the grant (the same one again: enrollment is
  // idempotent until the first sync).
  MeterEnrollRequest req;
  req.set_device_id("d1");
  req.set_device_secret(kSecret);
  req.set_package("pkg");
  MeterEnrollResponse resp;
  ASSERT_THAT(FromGrpcStatus(stub_->EnrollMeter(CallContext().get(), req, &resp)), IsOk());
  QuotaGrant g;
  ASSERT_TRUE(g.ParseFromString(resp.grant().payload()));
  EXPECT_EQ(g.calls(), 20u);
  EXPECT_EQ(g.not_after_us() - g.issued_at_us(), absl::ToInt64Microseconds(absl::Hours(2)));
  EXPECT_EQ(g.grace_us(), absl::ToInt64Microseconds(absl::Minutes(30)));
  EXPECT_EQ(g.grace_calls(), 3u);
  absl::StatusOr<SyncResponse> r = Sync(*d1, 6);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  ASSERT_TRUE(r->has_grant());
  EXPECT_EQ(d1->meter->checkpoint_index(), 6u);  // Taken by the client.

  // d2 restores a snapshot after a sync: flagged, its 2 calls disputed, and
  // the client says so.
  std::unique_ptr<fixture::Device> d2 = NewDevice("d2");
  ASSERT_THAT(Client().Enroll(*d2->meter, std::nullopt), IsOk());
  ASSERT_THAT(Sync(*d2, 4), IsOk());
  const auto snapshot = d2->storage.files;
  ASSERT_THAT(Sync(*d2, 4), IsOk());
  d2->storage.files = snapshot;
  ASSERT_THAT(d2->Reopen(), IsOk());
  r = Sync(*d2, 2);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(absl::StrContains(r.status().message(), "METER_FLAG_ROLLBACK")) << r.status();

  // The table.
  auto [code, out] = Flctl("meter list");
  ASSERT_EQ(code, 0) << out;
  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  const std::vector<std::string> header = absl::StrSplit(lines[0], ' ', absl::SkipEmpty());
  EXPECT_EQ(header, (std::vector<std::string>{"DEVICE", "PACKAGE", "CALLS", "DISPUTED", "SYNCS",
                                              "CHECKPOINT", "FLAGS", "CUT-OFF", "LAST-FLAG"}));
  std::vector<std::string> row = absl::StrSplit(lines[1], ' ', absl::SkipEmpty());
  EXPECT_EQ(row, (std::vector<std::string>{"d1", "pkg", "6", "0", "1", "6", "-", "no", "-"}));
  row = absl::StrSplit(lines[2], ' ', absl::SkipEmpty());
  ASSERT_GE(row.size(), 8u) << lines[2];
  EXPECT_EQ(std::vector<std::string>(row.begin(), row.begin() + 8),
            (std::vector<std::string>{"d2", "pkg", "8", "2", "3", "8", "rollback=1", "no"}));

  // JSON: numbers as numbers.
  std::map<std::string, nlohmann::json> list = JsonList();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list["d1"]["accepted_calls"], 6);
  EXPECT_EQ(list["d1"]["checkpoint_index"], 6);
  EXPECT_EQ(list["d1"]["cut_off"], false);
  EXPECT_EQ(list["d2"]["disputed_calls"], 2);
  EXPECT_EQ(list["d2"]["flags"]["rollback"], 1);

  // CSV: the billing header, then a row per pair, fields by the header's names.
  std::tie(code, out) = Flctl("meter csv");
  ASSERT_EQ(code, 0) << out;
  lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0], kBillingCsvHeader);
  const std::vector<std::string> names = absl::StrSplit(lines[0], ',');
  const auto field = [&names](const std::string& line, const std::string& name) {
    const std::vector<std::string> v = absl::StrSplit(line, ',');
    for (size_t i = 0; i < names.size() && i < v.size(); ++i) {
      if (names[i] == name) return v[i];
    }
    return std::string("(missing)");
  };
  EXPECT_EQ(field(lines[1], "device_id"), "d1");
  EXPECT_EQ(field(lines[1], "accepted_calls"), "6");
  EXPECT_EQ(field(lines[1], "cut_off"), "0");
  EXPECT_EQ(field(lines[2], "device_id"), "d2");
  EXPECT_EQ(field(lines[2], "accepted_calls"), "8");
  EXPECT_EQ(field(lines[2], "disputed_calls"), "2");
  EXPECT_EQ(field(lines[2], "rollback"), "1");
  std::tie(code, out) = Flctl("meter csv --device=d2");
  EXPECT_EQ(Lines(out).size(), 2u) << out;

  // Cut off: the next sync is billed but gets no grant; restored, it does.
  std::tie(code, out) = Flctl("meter cutoff --device=d1");
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out, "cut off d1: 1 package(s)\n");
  EXPECT_EQ(JsonList()["d1"]["cut_off"], true);
  r = Sync(*d1, 2);
  ASSERT_THAT(r, IsOk());
  EXPECT_FALSE(r->has_grant());
  EXPECT_THAT(r->flags(), IsEmpty()) << r->detail();
  std::tie(code, out) = Flctl("meter csv --device=d1");
  EXPECT_EQ(field(Lines(out).back(), "accepted_calls"), "8") << out;
  EXPECT_EQ(field(Lines(out).back(), "cut_off"), "1") << out;
  std::tie(code, out) = Flctl("meter cutoff --device=d1 --restore");
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(out, "restored d1: 1 package(s)\n");
  r = Sync(*d1, 1);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->has_grant());
  std::tie(code, out) = Flctl("meter cutoff --device=nobody");
  EXPECT_NE(code, 0);
  EXPECT_TRUE(absl::StrContains(out, "not enrolled")) << out;
}

TEST(CoordinatorFlagsTest, BadMeterFlagsStopTheCoordinatorNamingTheFlag) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/flags";
  const std::string pem = dir + "-meter.pem";
  absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
  ASSERT_THAT(key, IsOk());
  ASSERT_THAT(WriteFileAtomically(pem, *key->ToPem(), 0600), IsOk());
  const std::string run = "coordinator/coordinator --port=0 --data_dir=" + dir + " ";
  const std::pair<std::string, std::string> cases[] = {
      {"--meter_key=" + pem + " --meter_grant_calls=0", "--meter_grant_calls is 0"},
      {"--meter_key=" + pem + " --meter_grant_validity=0s", "--meter_grant_validity is 0"},
      {"--meter_key=" + pem + " --meter_grace=-1h", "--meter_grace is -1h"},
      {"--meter_key=" + pem + " --meter_counter_every=0", "--meter_counter_every is 0"},
      {"--meter_key=" + pem + " --meter_checkpoints_kept=0", "--meter_checkpoints_kept is 0"},
      {"--meter_grant_calls=5", "--meter_grant_calls needs --meter_key"},
  };
  for (const auto& [flags, message] : cases) {
    auto [code, out] = RunShell(run + flags);
    EXPECT_EQ(code, 1) << flags << ": " << out;
    EXPECT_TRUE(absl::StrContains(out, message)) << flags << ": " << out;
    EXPECT_FALSE(absl::StrContains(out, "listening")) << out;
  }
}

}  // namespace
}  // namespace fedtiny::meter
