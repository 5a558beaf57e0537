// Model trust end to end over real gRPC on 127.0.0.1: an operator's trust
// directory (flctl keys), a coordinator that signs every committed version,
// devices that enroll, refresh, download, verify, train and upload; a bundle
// that does not match its signed target refused and the reason visible at the
// server; a restart with growing metadata versions; a release-key rotation
// picked up by the devices; a coordinator without trust refused.
#include <cstdlib>
#include <random>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/core/eligibility.h"
#include "client/transport/participant.h"
#include "client/trust/signing.h"
#include "client/trust/wall_clock.h"
#include "coordinator/bundle_cache.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/server.h"
#include "coordinator/trust/keys_command.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "proto/admin.grpc.pb.h"
#include "tests/e2e_data.h"
#include "tests/small_model.h"
#include "tools/base/crypto/ec_key.h"

namespace fedtiny {
namespace {

using client::Participant;
using client::RoundResult;
using client::RowMatrixXf;
using client::SettableDeviceState;

constexpr char kToken[] = "operator-secret-0123456789";
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const client::DeviceStatus kPlugged{true, true, true, 90, false};

using testing::LocalData;
using testing::SeparableData;
using testing::SmallTask;

std::string TmpDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

class TrustE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = TmpDir(name);
    keys_ = TmpDir(name + "-keys");
    absl::StatusOr<std::string> out =
        coordinator::RunKeysCommand({"init", keys_, "", ""}, clock_->Now());
    ASSERT_TRUE(out.ok()) << out.status();
    Start(keys_);
  }

  void Start(const std::string& trust_dir) {
    coordinator::Server::Options o;
    o.data_dir = dir_;
    o.admin_token = kToken;
    o.clock = clock_;
    o.trust_dir = trust_dir;
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
    federation_ = v1::Federation::NewStub(channel_);
  }

  void Restart(const std::string& trust_dir) {
    server_.reset();
    Start(trust_dir);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(bool op = true) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (op) ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  void Create(const v1::TaskConfig& c) {
    v1::CreateTaskRequest req;
    *req.mutable_config() = c;
    v1::TaskInfo info;
    ASSERT_TRUE(admin_->CreateTask(Ctx().get(), req, &info).ok());
  }

  // Enrolls device `i` (its key and secret) and returns the root it receives.
  std::string Enroll(int i) {
    v1::EnrollRequest req;
    req.set_device_id(absl::StrCat("device-", i));
    req.set_device_secret(absl::StrCat("secret-of-device-", i, "-0123456789"));
    absl::StatusOr<crypto::EcPrivateKey> key = crypto::EcPrivateKey::Generate();
    EXPECT_TRUE(key.ok());
    req.set_device_public_key_spki(key->public_key().spki_der());
    v1::EnrollResponse resp;
    grpc::Status s = federation_->Enroll(Ctx(false).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.root();
  }

  std::unique_ptr<Participant> Device(int i, const std::string& root) {
    client::SessionOptions s;
    s.address = server_->address();
    s.insecure = true;
    s.seed = i + 1;
    client::DeviceProfile p{absl::StrCat("device-", i), "phones"};
    p.device_secret = absl::StrCat("secret-of-device-", i, "-0123456789");
    p.trust_root = root;
    p.trust_clock = clock_.get();  // The coordinator's clock: one time for all.
    return std::make_unique<Participant>(p, s, &plugged_,
                                         absl::StrCat(dir_, "-ckpt-", i));
  }

  // Runs one round with devices 0..n-1; each must upload.
  void Round(std::vector<std::unique_ptr<Participant>>& devices) {
    for (size_t i = 0; i < devices.size(); ++i) {
      LocalData d = SeparableData(40, 7 + i);
      RoundResult r = devices[i]->RunOnce(d.x, d.y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
    }
    clock_->Advance(absl::Seconds(5));
  }

  std::shared_ptr<coordinator::FakeClock> clock_ = std::make_shared<coordinator::FakeClock>(kT0);
  SettableDeviceState plugged_{kPlugged};
  std::string dir_, keys_;
  std::unique_ptr<coordinator::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Federation::Stub> federation_;
};

TEST_F(TrustE2eTest, DevicesVerifyEverySignedVersionAcrossARestart) {
  Create(SmallTask("signed", 2, 3));
  std::vector<std::unique_ptr<Participant>> devices;
  for (int i = 0; i < 2; ++i) devices.push_back(Device(i, Enroll(i)));
  EXPECT_EQ(server_->coordinator()->enrollments().size(), 2u);
  Round(devices);  // Version 0, signed at creation.
  Round(devices);  // Version 1, signed by the round's commit.
  for (const auto& d : devices) {
    client::TrustCost c = d->trust_cost();
    EXPECT_GT(c.metadata_bytes, 0);
    EXPECT_EQ(c.refreshes, 2);
    EXPECT_GT(c.verified_bytes, 0);
  }
  const v1::Targets before = server_->coordinator()->trust()->targets();
  EXPECT_TRUE(before.targets().count("signed/0/float32/2"));
  Restart(keys_);
  const v1::Targets after = server_->coordinator()->trust()->targets();
  EXPECT_GT(after.version(), before.version());
  EXPECT_EQ(after.targets_size(), before.targets_size());
  // The devices restart too (the server's port changed), from their stored
  // trusted sets.
  for (int i = 0; i < 2; ++i) devices[i] = Device(i, "unused: the stored trusted set wins");
  Round(devices);  // Version 2 after the restart: the devices accept the newer metadata.
}

TEST_F(TrustE2eTest, BundleNotMatchingItsTargetIsRefusedAndReported) {
  Create(SmallTask("tampered", 1, 2));
  // The repository signs other bytes for the bundle the coordinator serves (a
  // compromised server, or a store altered behind its back).
  absl::StatusOr<std::map<int, std::string>> models =
      server_->coordinator()->CurrentModels("tampered");
  ASSERT_TRUE(models.ok());
  std::string other = models->at(0);
  other[other.size() / 2] ^= 1;
  auto fake = std::make_shared<coordinator::Bundle>();
  fake->bytes = other;
  fake->meta.set_version(0);
  fake->meta.set_sha256(client::trust::Sha256Raw(other));
  fake->meta.set_target_name(coordinator::TargetNameOf("tampered", 0, "float32", 0));
  ASSERT_TRUE(server_->coordinator()->trust()->Publish("tampered", {{{0, "float32"}, fake}}, {}).ok());

  std::unique_ptr<Participant> device = Device(0, Enroll(0));
  LocalData d = SeparableData(40, 3);
  RoundResult r = device->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_TRUE(absl::StartsWith(r.why, "trust:target_hash")) << r.why;
  v1::ListDevicesRequest req;
  req.set_task("tampered");
  v1::ListDevicesResponse resp;
  ASSERT_TRUE(admin_->ListDevices(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.devices_size(), 1);
  EXPECT_TRUE(absl::StartsWith(resp.devices(0).last_rejection(), "trust:target_hash"))
      << resp.devices(0).last_rejection();
}

TEST_F(TrustE2eTest, DirectedVariantIsServedAndEnforcedOnTheDevice) {
  // The task directs class "phone" to the int8 variant, although these
  // devices have an FPU and RAM enough for float32.
  v1::TaskConfig c = SmallTask("directed", 1, 3);
  (*c.mutable_variant_by_class())["phone"] = "int8";
  Create(c);
  std::vector<std::unique_ptr<Participant>> devices;
  devices.push_back(Device(0, Enroll(0)));
  Round(devices);
  v1::Targets signed_targets = server_->coordinator()->trust()->targets();
  ASSERT_EQ(signed_targets.directives().count("directed/phone"), 1u);
  const std::string directed = signed_targets.directives().at("directed/phone");
  EXPECT_EQ(signed_targets.targets().at(directed).variant(), "int8");
  EXPECT_EQ(signed_targets.targets().at(directed).cluster(), "0");

  // Signed directives that disagree with what the check-in hands out (a
  // compromised or stale assignment path): the repository now directs phones
  // to float32 while the coordinator keeps serving them int8.
  coordinator::BundleMap same;
  for (const auto& [name, info] : signed_targets.targets()) {
    if (info.task() != "directed") continue;
    auto b = std::make_shared<coordinator::Bundle>();
    b->meta.set_target_name(name);
    b->meta.set_sha256(info.sha256());
    b->meta.set_version(info.model_version());
    (info.encrypted() ? b->sealed : b->bytes) = std::string(info.length(), '\0');
    same[{std::stoi(info.cluster()), info.variant()}] = b;
  }
  ASSERT_TRUE(server_->coordinator()->trust()->Publish("directed", same, {{"phone", "float32"}}).ok());
  LocalData d = SeparableData(40, 9);
  RoundResult r = devices[0]->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_TRUE(absl::StartsWith(r.why, "trust:directive_mismatch: class phone is directed to the "
                                      "float32 variant, given int8"))
      << r.why;
  v1::ListDevicesRequest req;
  req.set_task("directed");
  v1::ListDevicesResponse resp;
  ASSERT_TRUE(admin_->ListDevices(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.devices_size(), 1);
  EXPECT_TRUE(absl::StartsWith(resp.devices(0).last_rejection(), "trust:directive_mismatch"))
      << resp.devices(0).last_rejection();
}

TEST_F(TrustE2eTest, RotatedReleaseKeyIsPickedUpAfterARestart) {
  Create(SmallTask("rotated", 1, 3));
  std::vector<std::unique_ptr<Participant>> devices;
  devices.push_back(Device(0, Enroll(0)));
  Round(devices);
  absl::StatusOr<std::string> out =
      coordinator::RunKeysCommand({"rotate", keys_, "release", ""}, clock_->Now());
  ASSERT_TRUE(out.ok()) << out.status();
  Restart(keys_);
  devices[0] = Device(0, "unused: the stored trusted set wins");
  Round(devices);  // Targets now signed by the new key only: root 2 was accepted.
  // A device that enrolls now starts from root 2.
  v1::Root root;
  ASSERT_TRUE(client::trust::ParseSignedRole(Enroll(1), root).ok());
  EXPECT_EQ(root.version(), 2u);
}

TEST_F(TrustE2eTest, RotatedKeysArePickedUpWhileRunning) {
  Create(SmallTask("live", 1, 4));
  std::vector<std::unique_ptr<Participant>> devices;
  devices.push_back(Device(0, Enroll(0)));
  Round(devices);
  // `flctl keys rotate` on the coordinator's trust directory: the next tick
  // serves root 2 and signs with the new release key, no restart.
  absl::StatusOr<std::string> out =
      coordinator::RunKeysCommand({"rotate", keys_, "release", ""}, clock_->Now());
  ASSERT_TRUE(out.ok()) << out.status();
  server_->coordinator()->Tick();
  EXPECT_EQ(server_->coordinator()->trust()->root_version(), 2u);
  Round(devices);  // The device walked root 1 -> 2 and verified the new signatures.

  // A root whose online key is not on the coordinator yet (the operator
  // copied metadata/ before online/): kept on root 2, still serving.
  out = coordinator::RunKeysCommand({"rotate", keys_, "timestamp", ""}, clock_->Now());
  ASSERT_TRUE(out.ok()) << out.status();
  v1::Root root3;
  ASSERT_TRUE(client::trust::ParseSignedRole(
                  *ReadFile(keys_ + "/metadata/3.root.pb"), root3).ok());
  const std::string new_key = keys_ + "/online/" + root3.timestamp().key_ids(0) + ".pem";
  const std::string held = keys_ + "-held.pem";
  ASSERT_EQ(std::rename(new_key.c_str(), held.c_str()), 0);
  server_->coordinator()->Tick();
  EXPECT_EQ(server_->coordinator()->trust()->root_version(), 2u);
  Round(devices);
  ASSERT_EQ(std::rename(held.c_str(), new_key.c_str()), 0);
  server_->coordinator()->Tick();
  EXPECT_EQ(server_->coordinator()->trust()->root_version(), 3u);
  Round(devices);
}

TEST_F(TrustE2eTest, CoordinatorWithoutTrustIsRefused) {
  const std::string root = Enroll(0);
  Restart("");  // No trust directory: nothing is signed, no metadata served.
  Create(SmallTask("unsigned", 1, 1));
  std::unique_ptr<Participant> device = Device(0, root);
  LocalData d = SeparableData(40, 3);
  RoundResult r = device->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_TRUE(absl::StartsWith(r.why, "trust:")) << r.why;
}

}  // namespace
}  // namespace fedtiny
