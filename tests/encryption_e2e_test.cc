// Encrypted bundles end to end over real gRPC on 127.0.0.1
// (docs/security.md, "Encrypted bundles and device keys"):
//  - a coordinator with a trust directory and encrypt_bundles serves every
//    bundle encrypted; enrolled devices verify, unwrap, decrypt, train and
//    upload across versions (a new model key per version);
//  - a device that never enrolled, and one revoked through the Admin API, are
//    refused at check-in with FAILED_PRECONDITION and a clear message;
//  - against a hostile coordinator: a bundle bound to another cluster served
//    under this one's name, a key wrapped to another device, and a plain
//    bundle offered to a device that requires encryption (downgrade) are each
//    refused as "trust:decrypt: ..." and reported to the server.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/core/eligibility.h"
#include "client/transport/hostile_federation.h"
#include "client/transport/participant.h"
#include "client/trust/device_key.h"
#include "client/trust/wall_clock.h"
#include "coordinator/bundle_cache.h"
#include "coordinator/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/server.h"
#include "coordinator/trust/keys_command.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/e2e_data.h"
#include "tests/small_model.h"
#include "tools/base/crypto/envelope.h"
#include "tools/base/sha256.h"

namespace fedtiny {
namespace {

using client::Participant;
using client::RoundResult;
using client::RowMatrixXf;
using client::SettableDeviceState;
using client::trust::FileDeviceKeyStore;

constexpr char kToken[] = "operator-secret-0123456789";
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const client::DeviceStatus kPlugged{true, true, true, 90, false};

using testing::LocalData;

// Three classes over the features (the hostile tests use 6 of them).
LocalData Data(int n, uint32_t seed, int width = 16) {
  return testing::SeparableData(n, seed, width, 3);
}
v1::TaskConfig Task(const std::string& name, int goal, int rounds) {
  return testing::SmallTask(name, goal, rounds);
}

std::string TmpDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

std::string DeviceId(int i) { return absl::StrCat("device-", i); }
std::string SecretOf(int i) { return absl::StrCat("secret-of-device-", i, "-0123456789"); }

class EncryptionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = TmpDir(name);
    const std::string keys = TmpDir(name + "-keys");
    absl::StatusOr<std::string> out = coordinator::RunKeysCommand({"init", keys, "", ""}, kT0);
    ASSERT_TRUE(out.ok()) << out.status();
    options_.data_dir = dir_;
    options_.admin_token = kToken;
    options_.clock = clock_;
    options_.trust_dir = keys;
    options_.encrypt_bundles = true;
    Start();
  }

  // A restart: the same data directory and trust directory, a new port.
  void Restart() {
    server_.reset();
    Start();
  }

  void Start() {
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
    federation_ = v1::Federation::NewStub(channel_);
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
    grpc::Status s = admin_->CreateTask(Ctx().get(), req, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::shared_ptr<FileDeviceKeyStore> KeyOf(int i) {
    return std::make_shared<FileDeviceKeyStore>(absl::StrCat(dir_, "-device-", i, ".key.pem"));
  }

  // Enrolls device `i` with its key store's key; returns the root.
  std::string Enroll(int i) {
    absl::StatusOr<crypto::EcPublicKey> key = KeyOf(i)->GetOrCreate();
    EXPECT_TRUE(key.ok()) << key.status();
    v1::EnrollRequest req;
    req.set_device_id(DeviceId(i));
    req.set_device_secret(SecretOf(i));
    req.set_device_public_key_spki(key->spki_der());
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
    client::DeviceProfile p{DeviceId(i), "phones"};
    p.device_secret = SecretOf(i);
    p.trust_root = root;
    p.trust_clock = clock_.get();  // The coordinator's clock: one time for all.
    p.device_key = KeyOf(i);
    return std::make_unique<Participant>(p, s, &plugged_, absl::StrCat(dir_, "-ckpt-", i));
  }

  std::shared_ptr<coordinator::FakeClock> clock_ = std::make_shared<coordinator::FakeClock>(kT0);
  SettableDeviceState plugged_{kPlugged};
  coordinator::Server::Options options_;
  std::string dir_;
  std::unique_ptr<coordinator::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Federation::Stub> federation_;
};

TEST_F(EncryptionE2eTest, EnrolledDevicesDecryptTrainAndUploadEveryVersion) {
  Create(Task("sealed", 2, 3));
  std::vector<std::unique_ptr<Participant>> devices;
  for (int i = 0; i < 2; ++i) devices.push_back(Device(i, Enroll(i)));
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < devices.size(); ++i) {
      LocalData d = Data(40, 7 + i);
      RoundResult r = devices[i]->RunOnce(d.x, d.y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
    }
    clock_->Advance(absl::Seconds(5));
  }
  EXPECT_EQ(devices[0]->held_versions().at({"sealed", 0}), 1);
  const client::TrustCost cost = devices[0]->trust_cost();
  EXPECT_GT(cost.decrypted_bytes, 0);
  EXPECT_EQ(cost.decrypted_bytes, cost.verified_bytes);
  // The model keys are stored for the owner only, one per served bundle.
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/model_keys.pb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(server_->coordinator()->model_keys()->size(), 2u);  // float32 and int8 of v2.
}

// The stored model keys of the served versions (target name -> key bytes).
std::map<std::string, std::string> StoredModelKeys(const std::string& dir) {
  std::ifstream in(dir + "/model_keys.pb", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  v1::ModelKeys keys;
  EXPECT_TRUE(keys.ParseFromString(bytes));
  return {keys.key().begin(), keys.key().end()};
}

TEST_F(EncryptionE2eTest, ModelKeysAndEnrollmentsSurviveACoordinatorRestart) {
  Create(Task("kept", 2, 3));
  std::vector<std::unique_ptr<Participant>> devices;
  for (int i = 0; i < 2; ++i) devices.push_back(Device(i, Enroll(i)));
  auto round = [&] {
    for (size_t i = 0; i < devices.size(); ++i) {
      LocalData d = Data(40, 7 + i);
      RoundResult r = devices[i]->RunOnce(d.x, d.y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
    }
    clock_->Advance(absl::Seconds(5));
  };
  round();
  const std::map<std::string, std::string> before = StoredModelKeys(dir_);
  ASSERT_EQ(before.size(), 2u);  // float32 and int8 of version 1.
  ASSERT_EQ(before.count("kept/0/float32/1"), 1u);
  Restart();
  // The restarted coordinator serves version 1 under the same keys (a device
  // holding its ciphertext from before could still be given the key), and
  // the devices, enrolled before the restart, are not asked to enroll again:
  // they decrypt, train and upload from their stored trusted sets.
  EXPECT_EQ(StoredModelKeys(dir_), before);
  const absl::string_view unused = "unused: the stored trusted set wins";
  for (int i = 0; i < 2; ++i) devices[i] = Device(i, std::string(unused));
  round();
  const std::map<std::string, std::string> after = StoredModelKeys(dir_);
  ASSERT_EQ(after.count("kept/0/float32/2"), 1u);
  EXPECT_EQ(after.count("kept/0/float32/1"), 0u);  // Version 1 is no longer served.
  EXPECT_NE(after.at("kept/0/float32/2"), before.at("kept/0/float32/1"));
  // What the devices trained on after the restart: version 1, under its old key.
  EXPECT_EQ(devices[0]->held_versions().at({"kept", 0}), 1);
}

TEST_F(EncryptionE2eTest, SealedBundleNotMatchingItsSignedTargetIsNeverOpened) {
  // The repository signs another SHA-256 (same length) for the sealed bundle
  // the coordinator serves: the device decrypts while it downloads, but hands
  // nothing out: the signed hash is checked before the tag, and refused.
  Create(Task("swapped", 1, 2));
  std::unique_ptr<Participant> device = Device(0, Enroll(0));
  const v1::Targets signed_targets = server_->coordinator()->trust()->targets();
  coordinator::BundleMap other;
  for (const auto& [name, info] : signed_targets.targets()) {
    if (info.task() != "swapped") continue;
    ASSERT_TRUE(info.encrypted()) << name;
    auto b = std::make_shared<coordinator::Bundle>();
    b->meta.set_target_name(name);
    std::string sha = info.sha256();
    sha[0] ^= 1;
    b->meta.set_sha256(sha);
    b->meta.set_version(info.model_version());
    b->sealed = std::string(info.length(), '\0');
    other[{std::stoi(info.cluster()), info.variant()}] = b;
  }
  ASSERT_FALSE(other.empty());
  ASSERT_TRUE(server_->coordinator()->trust()->Publish("swapped", other, {}).ok());
  LocalData d = Data(40, 3);
  RoundResult r = device->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_TRUE(absl::StartsWith(r.why, "trust:target_hash")) << r.why;
  const client::TrustCost cost = device->trust_cost();
  EXPECT_GT(cost.verified_bytes, 0);  // It was downloaded (and decrypted) whole...
  EXPECT_EQ(cost.decrypted_bytes, 0);  // ...but never opened.
}

TEST_F(EncryptionE2eTest, DeviceThatNeverEnrolledIsToldToEnroll) {
  Create(Task("sealed", 1, 1));
  const std::string root = Enroll(0);
  std::unique_ptr<Participant> stranger = Device(7, root);
  LocalData d = Data(20, 3);
  RoundResult r = stranger->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition) << r.status;
  EXPECT_TRUE(absl::StrContains(r.why, "enroll first")) << r.why;
}

TEST_F(EncryptionE2eTest, RevokedDeviceGetsNoKeysAndCannotReEnroll) {
  Create(Task("sealed", 1, 3));
  std::unique_ptr<Participant> device = Device(0, Enroll(0));
  LocalData d = Data(20, 3);
  RoundResult first = device->RunOnce(d.x, d.y);
  ASSERT_EQ(first.kind, RoundResult::Kind::kUploaded) << first.why;
  clock_->Advance(absl::Seconds(5));
  v1::RevokeDeviceRequest revoke;
  revoke.set_device_id(DeviceId(0));
  v1::RevokeDeviceResponse revoked;
  grpc::Status rs = admin_->RevokeDevice(Ctx().get(), revoke, &revoked);
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  // Revoking an id never enrolled is NOT_FOUND.
  revoke.set_device_id("nobody");
  EXPECT_EQ(admin_->RevokeDevice(Ctx().get(), revoke, &revoked).error_code(),
            grpc::StatusCode::NOT_FOUND);
  RoundResult r = device->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition) << r.status;
  EXPECT_TRUE(absl::StrContains(r.why, "revoked")) << r.why;
  // Enrolling the same id again, even with a new key, is refused.
  v1::EnrollRequest req;
  req.set_device_id(DeviceId(0));
  req.set_device_secret(SecretOf(0));
  absl::StatusOr<crypto::EcPrivateKey> other = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(other.ok());
  req.set_device_public_key_spki(other->public_key().spki_der());
  v1::EnrollResponse resp;
  EXPECT_EQ(federation_->Enroll(Ctx(false).get(), req, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// --- A hostile coordinator: what the device itself refuses.

v1::BundleBinding Binding(const std::string& cluster, int64_t version) {
  v1::BundleBinding b;
  b.set_task("hostile");
  b.set_cluster(cluster);
  b.set_model_version(version);
  b.set_variant("float32");
  return b;
}

class HostileEncryptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plain_ = client::testing::ModelBytes({6, 3});
    absl::StatusOr<crypto::SecureBytes> key = crypto::NewModelKey();
    ASSERT_TRUE(key.ok());
    model_key_ = *std::move(key);
    static int n = 0;
    const std::string base = TmpDir(absl::StrCat("hostile-", n++));
    store_ = std::make_shared<FileDeviceKeyStore>(base + ".key.pem");
    other_ = std::make_shared<FileDeviceKeyStore>(base + ".other.pem");
    ckpt_ = base + ".ckpt";
  }

  // A script serving `bundle_binding`'s encryption of the model under the
  // assignment's name (cluster 0, version 1), its key wrapped by `wrap_to`.
  client::testing::Script Sealed(const v1::BundleBinding& bundle_binding,
                                 client::trust::DeviceKeyStore& wrap_to) {
    absl::StatusOr<v1::EncryptedBundle> sealed =
        crypto::EncryptBundle(model_key_, bundle_binding, plain_);
    EXPECT_TRUE(sealed.ok());
    client::testing::Script s;
    s.bundle = sealed->SerializeAsString();
    s.check_in = client::testing::AssignmentFor(s.bundle);
    absl::StatusOr<crypto::EcPublicKey> pub = wrap_to.GetOrCreate();
    EXPECT_TRUE(pub.ok());
    absl::StatusOr<v1::WrappedKey> wrapped =
        crypto::WrapModelKey(*pub, model_key_, Binding("0", 1));
    EXPECT_TRUE(wrapped.ok());
    s.check_in.mutable_assignment()->add_wrapped_keys(wrapped->SerializeAsString());
    return s;
  }

  RoundResult Run(const client::testing::Script& script, client::testing::Seen* seen) {
    client::testing::HostileFederation server(script);
    client::SessionOptions o;
    o.address = server.address();
    o.insecure = true;
    o.call_deadline = absl::Seconds(5);
    client::DeviceProfile p{"device", "phones"};
    p.device_key = store_;
    Participant device(p, o, &plugged_, ckpt_);
    LocalData d = Data(8, 1, 6);
    RoundResult r = device.RunOnce(d.x, d.y);
    *seen = server.seen();
    return r;
  }

  std::string plain_, ckpt_;
  crypto::SecureBytes model_key_;
  std::shared_ptr<FileDeviceKeyStore> store_, other_;
  SettableDeviceState plugged_{kPlugged};
};

void ExpectDecryptRefusal(const RoundResult& r, const client::testing::Seen& seen) {
  ASSERT_EQ(r.kind, RoundResult::Kind::kFailed) << r.why;
  EXPECT_TRUE(absl::StartsWith(r.why, "trust:decrypt: ")) << r.why;
  ASSERT_EQ(seen.failure_reasons.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(seen.failure_reasons[0], "trust:decrypt: "))
      << seen.failure_reasons[0];
  EXPECT_EQ(seen.uploads, 0);
}

TEST_F(HostileEncryptionTest, ProperlySealedBundleIsTrainedOn) {
  client::testing::Seen seen;
  RoundResult r = Run(Sealed(Binding("0", 1), *store_), &seen);
  EXPECT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
  EXPECT_EQ(seen.uploads, 1);
}

TEST_F(HostileEncryptionTest, AnotherClustersBundleUnderThisNameIsRefused) {
  client::testing::Seen seen;
  RoundResult r = Run(Sealed(Binding("1", 1), *store_), &seen);
  ExpectDecryptRefusal(r, seen);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition) << r.status;
}

TEST_F(HostileEncryptionTest, AnotherVersionsBundleIsRefused) {
  client::testing::Seen seen;
  ExpectDecryptRefusal(Run(Sealed(Binding("0", 2), *store_), &seen), seen);
}

TEST_F(HostileEncryptionTest, KeyWrappedToAnotherDeviceIsRefused) {
  client::testing::Seen seen;
  RoundResult r = Run(Sealed(Binding("0", 1), *other_), &seen);
  ExpectDecryptRefusal(r, seen);
  EXPECT_TRUE(absl::StrContains(r.why, "model key")) << r.why;
}

TEST_F(HostileEncryptionTest, PlainBundleIsRefusedByADeviceThatRequiresEncryption) {
  client::testing::Script s;
  s.bundle = plain_;
  s.check_in = client::testing::AssignmentFor(s.bundle);
  client::testing::Seen seen;
  RoundResult r = Run(s, &seen);
  ExpectDecryptRefusal(r, seen);
  EXPECT_TRUE(absl::StrContains(r.why, "downgrade")) << r.why;
}

}  // namespace
}  // namespace fedtiny
