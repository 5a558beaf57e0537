// The coordinator and the client SDK end to end over real gRPC on 127.0.0.1:
// tasks created through the Admin API, rounds completed by real participants
// (download, verify, train, upload), every documented rejection, operator auth,
// the round watch stream, pause/resume, stop-and-resume on the device, restart.
#include <sys/stat.h>

#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "client/core/eligibility.h"
#include "client/transport/model_proto.h"
#include "client/transport/participant.h"
#include "coordinator/clock.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "tests/e2e_data.h"
#include "tests/small_model.h"
#include "proto/admin.grpc.pb.h"

namespace fedtiny {
namespace {

using client::DeviceStatus;
using client::Participant;
using client::RoundResult;
using client::RowMatrixXf;
using client::SettableDeviceState;

constexpr char kToken[] = "operator-secret-0123456789";
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);
const DeviceStatus kPlugged{true, true, true, 90, false};

using testing::LocalData;
using testing::SeparableData;

std::string TmpDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

// An eligible phone checking in for the "phones" population.
v1::CheckInRequest EligibleCheckIn(const std::string& device_id, const std::string& cls = "") {
  v1::CheckInRequest ci;
  ci.set_device_id(device_id);
  ci.set_device_secret("secret-" + device_id + "-0123456789abcdef");
  ci.set_population("phones");
  ci.set_device_class(cls);
  ci.mutable_capabilities()->set_has_fpu(true);
  ci.mutable_state()->set_charging(true);
  ci.mutable_state()->set_idle(true);
  ci.mutable_state()->set_unmetered_network(true);
  ci.mutable_state()->set_battery_percent(80);
  return ci;
}

v1::TaskConfig Task(const std::string& name, int goal, int rounds) {
  v1::TaskConfig c = testing::SmallTask(name, goal, rounds);
  c.mutable_plan()->set_epochs(2);
  c.set_aggregator("trimmed_mean:beta=0.2");
  return c;
}

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(TmpDir(::testing::UnitTest::GetInstance()->current_test_info()->name())); }

  void Start(const std::string& dir) {
    dir_ = dir;
    coordinator::Server::Options o;
    o.data_dir = dir;
    o.admin_token = kToken;
    o.clock = clock_;
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
    federation_ = v1::Federation::NewStub(channel_);
  }

  void Restart() {
    server_.reset();
    Start(dir_);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = kToken) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  grpc::Status Create(const v1::TaskConfig& c) {
    v1::CreateTaskRequest req;
    *req.mutable_config() = c;
    v1::TaskInfo info;
    return admin_->CreateTask(Ctx().get(), req, &info);
  }

  std::unique_ptr<Participant> Device(int i, const client::DeviceState* state) {
    client::SessionOptions s;
    s.address = server_->address();
    s.insecure = true;
    s.seed = i + 1;
    client::DeviceProfile p{"device-" + std::to_string(i), "phones"};
    return std::make_unique<Participant>(p, s, state, TmpDir("ckpt-" + std::to_string(i) + "-" + std::to_string(rand())));
  }

  std::vector<v1::RoundInfo> Rounds(const std::string& task) {
    v1::ListRoundsRequest req;
    req.set_task(task);
    v1::ListRoundsResponse r;
    EXPECT_TRUE(admin_->ListRounds(Ctx().get(), req, &r).ok());
    return {r.rounds().begin(), r.rounds().end()};
  }

  std::shared_ptr<coordinator::FakeClock> clock_ = std::make_shared<coordinator::FakeClock>(kT0);
  std::string dir_;
  std::unique_ptr<coordinator::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Federation::Stub> federation_;
};

TEST_F(E2eTest, RealParticipantsCompleteRoundsAndTheModelImproves) {
  ASSERT_TRUE(Create(Task("activity", 3, 3)).ok());
  SettableDeviceState plugged(kPlugged);
  std::vector<std::unique_ptr<Participant>> devices;
  std::vector<LocalData> data;
  for (int i = 0; i < 4; ++i) {
    devices.push_back(Device(i, &plugged));
    data.push_back(SeparableData(60, 10 + i));
  }
  double first_loss = 0, last_loss = 0;
  for (int round = 1; round <= 3; ++round) {
    // Three of the four devices take part in each round (the goal closes it).
    for (int k = 0; k < 3; ++k) {
      const int i = (round + k) % 4;
      RoundResult r = devices[i]->RunOnce(data[i].x, data[i].y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
      EXPECT_EQ(r.round, round);
      if (round == 1) first_loss += r.loss / 3;
      if (round == 3) last_loss += r.loss / 3;
    }
    clock_->Advance(absl::Seconds(5));
  }
  // The task is done: a device checking in now is told to come back much later.
  RoundResult after = devices[0]->RunOnce(data[0].x, data[0].y);
  EXPECT_EQ(after.kind, RoundResult::Kind::kRetry);
  EXPECT_GE(after.retry_after, absl::Minutes(1));
  EXPECT_LT(last_loss, first_loss);
  std::vector<v1::RoundInfo> rounds = Rounds("activity");
  ASSERT_EQ(rounds.size(), 3u);
  for (const v1::RoundInfo& r : rounds) {
    EXPECT_EQ(r.state(), v1::COMMITTED);
    EXPECT_EQ(r.reported(), 3);
    EXPECT_GT(r.metrics().at("train_loss"), 0);
    EXPECT_GT(r.metrics().at("train_accuracy"), 0);
    EXPECT_LE(r.metrics().at("train_accuracy"), 1);
  }
  EXPECT_EQ(rounds[0].versions().at(0), 3);
  v1::ListModelsRequest mreq;
  mreq.set_task("activity");
  v1::ListModelsResponse models;
  ASSERT_TRUE(admin_->ListModels(Ctx().get(), mreq, &models).ok());
  ASSERT_EQ(models.versions_size(), 4);  // Version 0 and three committed rounds.
  for (int v = 1; v < 4; ++v) {
    EXPECT_EQ(models.versions(v).version(), v);
    EXPECT_EQ(models.versions(v).parent_version(), v - 1);
    EXPECT_EQ(models.versions(v).round(), v);
    EXPECT_EQ(models.versions(v).participants(), 3);
  }
  v1::GetTaskRequest treq;
  treq.set_task("activity");
  v1::TaskInfo info;
  ASSERT_TRUE(admin_->GetTask(Ctx().get(), treq, &info).ok());
  EXPECT_EQ(info.state(), v1::DONE);
  EXPECT_EQ(info.committed_rounds(), 3);
  v1::FleetRequest freq;
  freq.set_task("activity");
  v1::FleetResponse fleet;
  ASSERT_TRUE(admin_->Fleet(Ctx().get(), freq, &fleet).ok());
  int64_t seen = 0;
  for (const v1::FleetCount& c : fleet.counts()) {
    EXPECT_EQ(c.device_class(), "phone");
    EXPECT_EQ(c.cluster(), 0);
    seen += c.devices();
  }
  EXPECT_EQ(seen, 4);
  // The state survives a restart.
  Restart();
  ASSERT_TRUE(admin_->GetTask(Ctx().get(), treq, &info).ok());
  EXPECT_EQ(info.committed_rounds(), 3);
  EXPECT_EQ(Rounds("activity").size(), 3u);
}

// A task that asks for compressed updates (docs/protocol.md, "Compressed
// updates"): real participants learn the spec from their assignment, send
// compressed_delta, and the server decodes, accepts and commits every one.
TEST_F(E2eTest, CompressedUploadsAreDecodedAndCommitted) {
  v1::TaskConfig c = Task("squeeze", 3, 2);
  c.set_compression("hadamard:bits=2,k=0.5");
  ASSERT_TRUE(Create(c).ok());
  SettableDeviceState plugged(kPlugged);
  for (int round = 1; round <= 2; ++round) {
    for (int i = 0; i < 3; ++i) {
      std::unique_ptr<Participant> device = Device(10 * round + i, &plugged);
      const LocalData d = SeparableData(60, 20 + i);
      RoundResult r = device->RunOnce(d.x, d.y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
    }
    clock_->Advance(absl::Seconds(5));
  }
  std::vector<v1::RoundInfo> rounds = Rounds("squeeze");
  ASSERT_EQ(rounds.size(), 2u);
  for (const v1::RoundInfo& r : rounds) {
    EXPECT_EQ(r.state(), v1::COMMITTED);
    EXPECT_EQ(r.reported(), 3);
    EXPECT_TRUE(r.rejected().empty());
  }
}

// The variant catalogue over real gRPC: a device short of RAM is served the
// task's smaller convolutional body, which feeds the same head; devices on
// either body train and upload into one model.
TEST_F(E2eTest, BodyVariantsAreServedByRamAndTrainedThrough) {
  v1::TaskConfig c = Task("variants", 4, 2);
  c.set_over_selection(1.25);  // Room for the probe below besides the four devices.
  (*c.mutable_body_variants())["small"] = testing::ConvBodyVariant(3, int64_t{2} << 30);
  ASSERT_TRUE(Create(c).ok());
  // What a 1 GiB phone is assigned, fetched and decoded as a device does.
  v1::CheckInRequest ci = EligibleCheckIn("probe-low");
  ci.mutable_capabilities()->set_ram_bytes(int64_t{1} << 30);
  v1::CheckInResponse resp;
  ASSERT_TRUE(federation_->CheckIn(Ctx("").get(), ci, &resp).ok());
  ASSERT_TRUE(resp.has_assignment());
  const v1::ModelBundle& b = resp.assignment().bundles(0);
  EXPECT_EQ(b.variant(), "small");
  EXPECT_EQ(b.target_name(), "variants/0/small/0");
  std::string bytes;
  while (static_cast<int64_t>(bytes.size()) < b.size_bytes()) {
    v1::DownloadRequest dl;
    dl.set_task(resp.assignment().task());
    dl.set_round(resp.assignment().round());
    dl.set_upload_token(resp.assignment().upload_token());
    dl.set_variant(b.variant());
    dl.set_offset(static_cast<int64_t>(bytes.size()));
    v1::DownloadResponse dr;
    ASSERT_TRUE(federation_->Download(Ctx("").get(), dl, &dr).ok());
    ASSERT_FALSE(dr.data().empty());
    bytes += dr.data();
  }
  v1::Model served;
  ASSERT_TRUE(served.ParseFromString(bytes));
  absl::StatusOr<client::Body> body = client::BodyFromProto(served);
  ASSERT_TRUE(body.ok()) << body.status();
  ASSERT_NE(body->front(), nullptr);
  EXPECT_EQ(body->output_dim(0), 12);
  // The task's head (version 0: the config's), whatever the body.
  ASSERT_EQ(served.head_size(), c.model().head_size());
  for (int k = 0; k < served.head_size(); ++k) {
    EXPECT_EQ(served.head(k).SerializeAsString(), c.model().head(k).SerializeAsString());
  }

  // Real participants, two on each body, two rounds of all four.
  SettableDeviceState plugged(kPlugged);
  std::vector<std::unique_ptr<Participant>> devices;
  for (int i = 0; i < 4; ++i) {
    client::SessionOptions s;
    s.address = server_->address();
    s.insecure = true;
    s.seed = i + 1;
    client::DeviceProfile p{"variant-device-" + std::to_string(i), "phones"};
    if (i % 2 == 1) p.ram_bytes = int64_t{1} << 30;
    devices.push_back(std::make_unique<Participant>(p, s, &plugged,
                                                    TmpDir("variant-ckpt-" + std::to_string(i))));
  }
  // The probe's assignment takes a place in round 1; it never uploads.
  clock_->Advance(absl::Seconds(1));
  for (int round = 1; round <= 2; ++round) {
    for (int i = 0; i < 4; ++i) {
      const LocalData d = SeparableData(60, 20 + i);
      RoundResult r = devices[i]->RunOnce(d.x, d.y);
      ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << "device " << i << ": " << r.why;
    }
    clock_->Advance(absl::Seconds(5));
  }
  std::vector<v1::RoundInfo> rounds = Rounds("variants");
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].state(), v1::COMMITTED);
  EXPECT_EQ(rounds[1].state(), v1::COMMITTED);
  EXPECT_EQ(rounds[1].reported(), 4);
}

TEST_F(E2eTest, EveryBadUploadGetsItsDocumentedCode) {
  ASSERT_TRUE(Create(Task("bad", 2, 5)).ok());
  v1::CheckInRequest ci = EligibleCheckIn("d1");
  v1::CheckInResponse resp;
  ASSERT_TRUE(federation_->CheckIn(Ctx("").get(), ci, &resp).ok());
  ASSERT_TRUE(resp.has_assignment());
  const v1::Assignment a = resp.assignment();
  const int64_t dim = 12 * 8 + 8 + 8 * 4 + 4;
  auto upload = [&](auto mutate) {
    v1::UploadRequest u;
    u.set_task(a.task());
    u.set_round(a.round());
    u.set_upload_token(a.upload_token());
    u.set_device_secret(ci.device_secret());
    u.set_example_count(10);
    std::vector<float> delta(dim, 0.01f);
    u.set_delta(std::string(reinterpret_cast<const char*>(delta.data()), dim * 4));
    mutate(u);
    v1::UploadResponse r;
    return federation_->Upload(Ctx("").get(), u, &r).error_code();
  };
  EXPECT_EQ(upload([](v1::UploadRequest& u) { u.set_task("nope"); }), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(upload([](v1::UploadRequest& u) { u.set_round(99); }), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(upload([](v1::UploadRequest& u) { u.set_upload_token("forged"); }),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(upload([](v1::UploadRequest& u) { u.set_delta("abc"); }), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(upload([](v1::UploadRequest& u) {
              float nan = NAN;
              std::string d = u.delta();
              std::memcpy(&d[8], &nan, 4);
              u.set_delta(d);
            }),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(upload([](v1::UploadRequest& u) { u.set_example_count(0); }),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(upload([](v1::UploadRequest& u) { u.set_model_version(7); }),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(upload([](v1::UploadRequest&) {}), grpc::StatusCode::OK);
  EXPECT_EQ(upload([](v1::UploadRequest&) {}), grpc::StatusCode::ALREADY_EXISTS);  // Replay.
  // Download: out of range, bad token.
  v1::DownloadRequest dl;
  dl.set_task(a.task());
  dl.set_round(a.round());
  dl.set_upload_token(a.upload_token());
  dl.set_offset(1 << 30);
  v1::DownloadResponse dr;
  EXPECT_EQ(federation_->Download(Ctx("").get(), dl, &dr).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  dl.set_offset(0);
  dl.set_upload_token("forged");
  EXPECT_EQ(federation_->Download(Ctx("").get(), dl, &dr).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A malformed check-in, and bytes that are not a protobuf at all.
  v1::CheckInRequest empty;
  EXPECT_EQ(federation_->CheckIn(Ctx("").get(), empty, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  grpc::GenericStub generic(channel_);
  grpc::ClientContext raw_ctx;
  raw_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice garbage(std::string("\xff\xff\xff\xff\x0f not a protobuf"));
  grpc::ByteBuffer request(&garbage, 1), reply;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status raw_status;
  generic.UnaryCall(&raw_ctx, "/fedtiny.v1.Federation/Upload", grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> l(mu);
                      raw_status = s;
                      done = true;
                      cv.notify_one();
                    });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return done; });
  }
  EXPECT_EQ(raw_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << raw_status.error_message();
  // Late: past the deadline, a valid token no longer counts.
  ci.set_device_id("d2");
  ASSERT_TRUE(federation_->CheckIn(Ctx("").get(), ci, &resp).ok());
  const v1::Assignment b = resp.assignment();
  clock_->Advance(absl::Minutes(2));
  v1::UploadRequest late;
  late.set_task(b.task());
  late.set_round(b.round());
  late.set_upload_token(b.upload_token());
  late.set_device_secret(ci.device_secret());
  late.set_example_count(1);
  late.set_delta(std::string(dim * 4, '\0'));
  v1::UploadResponse ur;
  EXPECT_EQ(federation_->Upload(Ctx("").get(), late, &ur).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server is alive and counted each rejection in the round's stats.
  std::vector<v1::RoundInfo> rounds = Rounds("bad");
  ASSERT_FALSE(rounds.empty());
  const auto& rej = rounds.back().rejected();
  EXPECT_EQ(rej.at("wrong_round"), 1);
  EXPECT_EQ(rej.at("bad_token"), 1);
  EXPECT_EQ(rej.at("malformed"), 3);
  EXPECT_EQ(rej.at("stale"), 1);
  EXPECT_EQ(rej.at("duplicate"), 1);
  EXPECT_EQ(rej.at("late"), 1);
}

TEST_F(E2eTest, SessionVerifiesBundlesAndRefusesOlderVersions) {
  ASSERT_TRUE(Create(Task("verify", 2, 5)).ok());
  client::SessionOptions so;
  so.address = server_->address();
  so.insecure = true;
  so.chunk_bytes = 100;  // Many chunks: the download resumes from each offset.
  client::FederationSession session(so);
  v1::CheckInRequest ci = EligibleCheckIn("v1");
  absl::StatusOr<v1::CheckInResponse> resp = session.CheckIn(ci);
  ASSERT_TRUE(resp.ok() && resp->has_assignment());
  const v1::Assignment& a = resp->assignment();
  const v1::ModelBundle& b = a.bundles(0);
  absl::StatusOr<std::string> bytes = session.DownloadBundle(a, b, 0);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(static_cast<int64_t>(bytes->size()), b.size_bytes());
  v1::Model m;
  EXPECT_TRUE(m.ParseFromString(*bytes));
  // A device holding a newer version refuses this one.
  EXPECT_EQ(session.DownloadBundle(a, b, b.version() + 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Bytes that do not match the announced hash are rejected.
  v1::ModelBundle altered = b;
  std::string sha = altered.sha256();
  sha[0] ^= 1;
  altered.set_sha256(sha);
  EXPECT_EQ(session.DownloadBundle(a, altered, 0).status().code(), absl::StatusCode::kDataLoss);
  // A server that is gone is a status, not a hang.
  client::SessionOptions gone = so;
  gone.address = "127.0.0.1:1";
  gone.attempts = 2;
  gone.call_deadline = absl::Seconds(1);
  client::FederationSession dead(gone);
  EXPECT_EQ(dead.CheckIn(ci).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(E2eTest, ClassQuotaCapsAdmissionsPerRound) {
  v1::TaskConfig c = Task("quota", 4, 1);
  (*c.mutable_class_quota())["mcu"] = 1;
  ASSERT_TRUE(Create(c).ok());
  auto check_in = [&](const std::string& id, const std::string& cls) {
    v1::CheckInResponse resp;
    EXPECT_TRUE(federation_->CheckIn(Ctx("").get(), EligibleCheckIn(id, cls), &resp).ok());
    return resp.has_assignment();
  };
  EXPECT_TRUE(check_in("m1", "mcu"));
  EXPECT_FALSE(check_in("m2", "mcu"));
  EXPECT_TRUE(check_in("p1", "phone"));
  (*c.mutable_class_quota())["mcu"] = 0;
  c.set_name("quota-bad");
  EXPECT_EQ(Create(c).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(E2eTest, AdminNeedsTheOperatorToken) {
  v1::ListTasksResponse r;
  EXPECT_EQ(admin_->ListTasks(Ctx("").get(), v1::ListTasksRequest(), &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(admin_->ListTasks(Ctx("operator-secret-0123456788").get(), v1::ListTasksRequest(), &r).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(admin_->ListTasks(Ctx().get(), v1::ListTasksRequest(), &r).ok());
  v1::TaskConfig bad = Task("Bad Name!", 1, 1);
  EXPECT_EQ(Create(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Create(Task("dup", 1, 1)).ok());
  EXPECT_EQ(Create(Task("dup", 1, 1)).error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(E2eTest, DeviceUnpluggedMidEpochResumesAndPauseStopsAdmission) {
  ASSERT_TRUE(Create(Task("resume", 1, 2)).ok());
  SettableDeviceState state(kPlugged);
  // Unplug from another thread while the device trains: the trainer checks
  // before every batch, so it stops within one batch.
  class FlipAfter final : public client::DeviceState {
   public:
    explicit FlipAfter(int n) : left_(n) {}
    DeviceStatus Read() const override {
      DeviceStatus s = kPlugged;
      s.charging = left_-- > 0 || plugged_;
      return s;
    }
    bool plugged_ = false;
    mutable int left_;
  } flip(5);
  auto device = Device(1, &flip);
  LocalData d = SeparableData(80, 3);
  RoundResult paused = device->RunOnce(d.x, d.y);
  ASSERT_EQ(paused.kind, RoundResult::Kind::kPaused) << paused.why;
  EXPECT_EQ(paused.why, "not charging");
  flip.plugged_ = true;
  RoundResult resumed = device->RunOnce(d.x, d.y);
  ASSERT_EQ(resumed.kind, RoundResult::Kind::kUploaded) << resumed.why;
  EXPECT_EQ(Rounds("resume").front().state(), v1::COMMITTED);
  // Paused: nobody is admitted; resumed: admission again.
  v1::SetTaskStateRequest p;
  p.set_task("resume");
  v1::TaskInfo info;
  ASSERT_TRUE(admin_->PauseTask(Ctx().get(), p, &info).ok());
  EXPECT_EQ(info.state(), v1::PAUSED);
  auto other = Device(2, &state);
  EXPECT_EQ(other->RunOnce(d.x, d.y).kind, RoundResult::Kind::kRetry);
  ASSERT_TRUE(admin_->ResumeTask(Ctx().get(), p, &info).ok());
  EXPECT_EQ(other->RunOnce(d.x, d.y).kind, RoundResult::Kind::kUploaded);
}

TEST_F(E2eTest, WatchStreamsRoundEventsAndRestartAbandonsOpenRounds) {
  ASSERT_TRUE(Create(Task("watch", 2, 5)).ok());
  grpc::ClientContext watch_ctx;
  watch_ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  v1::WatchRoundsRequest wreq;
  wreq.set_task("watch");
  auto reader = admin_->WatchRounds(&watch_ctx, wreq);
  std::vector<v1::RoundInfo> seen;
  std::thread watcher([&] {
    v1::RoundInfo info;
    while (reader->Read(&info)) {
      seen.push_back(info);
      if (info.state() == v1::COMMITTED) break;
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  SettableDeviceState state(kPlugged);
  LocalData d = SeparableData(40, 5);
  auto a = Device(1, &state), b = Device(2, &state);
  ASSERT_EQ(a->RunOnce(d.x, d.y).kind, RoundResult::Kind::kUploaded);
  ASSERT_EQ(b->RunOnce(d.x, d.y).kind, RoundResult::Kind::kUploaded);
  watcher.join();
  watch_ctx.TryCancel();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front().state(), v1::OPEN);
  EXPECT_EQ(seen.back().state(), v1::COMMITTED);
  EXPECT_EQ(seen.back().round(), 1);
  // Open round 2, then "crash": after the restart it is recorded as abandoned
  // and round 3 opens next; version 1 is intact.
  v1::CheckInRequest ci = EligibleCheckIn("late-device");
  v1::CheckInResponse resp;
  ASSERT_TRUE(federation_->CheckIn(Ctx("").get(), ci, &resp).ok());
  ASSERT_EQ(resp.assignment().round(), 2);
  Restart();
  std::vector<v1::RoundInfo> rounds = Rounds("watch");
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_EQ(rounds[0].round(), 2);
  EXPECT_EQ(rounds[0].state(), v1::ABANDONED);
  EXPECT_EQ(rounds[1].state(), v1::COMMITTED);
  auto c = Device(3, &state);  // Reaches the restarted server.
  RoundResult r = c->RunOnce(d.x, d.y);
  ASSERT_EQ(r.kind, RoundResult::Kind::kUploaded) << r.why;
  EXPECT_EQ(r.round, 3);
}

TEST_F(E2eTest, ADeviceKeepsItsSecretAcrossAppRestartsAndNobodyElseGetsItsId) {
  ASSERT_TRUE(Create(Task("ids", 2, 5)).ok());
  SettableDeviceState plugged(kPlugged);
  const LocalData d = SeparableData(40, 5);
  client::SessionOptions s;
  s.address = server_->address();
  s.insecure = true;
  const std::string ckpt = TmpDir("ids-ckpt");
  {
    Participant app(client::DeviceProfile{"phone-42", "phones"}, s, &plugged, ckpt);
    ASSERT_EQ(app.RunOnce(d.x, d.y).kind, RoundResult::Kind::kUploaded);
  }
  struct stat st;
  ASSERT_EQ(stat((ckpt + ".secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The same app, restarted: same id, same secret file, still welcome.
  Participant again(client::DeviceProfile{"phone-42", "phones"}, s, &plugged, ckpt);
  RoundResult r = again.RunOnce(d.x, d.y);
  EXPECT_NE(r.status.code(), absl::StatusCode::kPermissionDenied) << r.why;
  // Someone else claiming the id (another secret) is turned away.
  Participant impostor(client::DeviceProfile{"phone-42", "phones"}, s, &plugged, TmpDir("ids-other"));
  RoundResult denied = impostor.RunOnce(d.x, d.y);
  EXPECT_EQ(denied.kind, RoundResult::Kind::kFailed);
  EXPECT_EQ(denied.status.code(), absl::StatusCode::kPermissionDenied) << denied.why;
}

// A raw unary call of `method` with `bytes`; returns the status.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& bytes, const std::string& token) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), reply;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &reply, [&](grpc::Status s) {
    std::lock_guard<std::mutex> l(mu);
    status = s;
    done = true;
    cv.notify_one();
  });
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return done; });
  return status;
}

TEST_F(E2eTest, UnparseableRequestsAreInvalidArgumentEverywhere) {
  const std::string garbage = "\xff\xff\xff\xff\x0f not a protobuf";
  for (const char* m : {"CheckIn", "Download", "Upload", "ReportFailure"}) {
    EXPECT_EQ(RawCall(channel_, absl::StrCat("/fedtiny.v1.Federation/", m), garbage, "").error_code(),
              grpc::StatusCode::INVALID_ARGUMENT) << m;
  }
  for (const char* m : {"CreateTask", "ListTasks", "ListRounds", "ListModels", "Fleet", "Verify"}) {
    const std::string method = absl::StrCat("/fedtiny.v1.Admin/", m);
    EXPECT_EQ(RawCall(channel_, method, garbage, kToken).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << m;
    // Without the token nothing is parsed: the caller learns only that it is not allowed.
    EXPECT_EQ(RawCall(channel_, method, garbage, "").error_code(), grpc::StatusCode::UNAUTHENTICATED) << m;
  }
}

TEST_F(E2eTest, AdminListsArePagedAndMetricBombsBounce) {
  for (const char* name : {"pa", "pb", "pc"}) {
    v1::TaskConfig c = Task(name, 2, 5);
    c.set_population(name);
    ASSERT_TRUE(Create(c).ok());
  }
  v1::ListTasksRequest req;
  req.set_page_size(2);
  v1::ListTasksResponse page;
  ASSERT_TRUE(admin_->ListTasks(Ctx().get(), req, &page).ok());
  ASSERT_EQ(page.tasks_size(), 2);
  ASSERT_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  v1::ListTasksResponse last;
  ASSERT_TRUE(admin_->ListTasks(Ctx().get(), req, &last).ok());
  ASSERT_EQ(last.tasks_size(), 1);
  EXPECT_TRUE(last.next_page_token().empty());
  EXPECT_NE(last.tasks(0).config().name(), page.tasks(0).config().name());
  EXPECT_NE(last.tasks(0).config().name(), page.tasks(1).config().name());
  req.set_page_token("not-a-token");
  EXPECT_EQ(admin_->ListTasks(Ctx().get(), req, &last).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // ~3 MB of metric names from an admitted device: refused, and the round's
  // info stays small enough for every Admin call.
  v1::CheckInRequest ci = EligibleCheckIn("bomber");
  ci.set_population("pa");
  v1::CheckInResponse resp;
  ASSERT_TRUE(federation_->CheckIn(Ctx("").get(), ci, &resp).ok());
  ASSERT_TRUE(resp.has_assignment());
  v1::UploadRequest u;
  u.set_task("pa");
  u.set_round(resp.assignment().round());
  u.set_upload_token(resp.assignment().upload_token());
  u.set_device_secret(ci.device_secret());
  u.set_example_count(10);
  u.set_delta(std::string((12 * 8 + 8 + 8 * 4 + 4) * 4, '\0'));
  for (int i = 0; i < 3000; ++i) (*u.mutable_metrics())[absl::StrCat(i, std::string(1000, 'm'))] = i;
  v1::UploadResponse ur;
  EXPECT_EQ(federation_->Upload(Ctx("").get(), u, &ur).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<v1::RoundInfo> rounds = Rounds("pa");
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_TRUE(rounds[0].metrics().empty());
  EXPECT_EQ(rounds[0].rejected().at("malformed"), 1);
}

}  // namespace
}  // namespace fedtiny
