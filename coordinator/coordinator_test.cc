// The Coordinator on a real SQLite store behind a fault-injecting wrapper, on a
// fake clock: hostile uploads, device identity, metric limits, integrity checks,
// roll-back of a non-finite model, and failed writes that must leave memory
// exactly at the store's.
#include "coordinator/coordinator.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <future>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "coordinator/fault_injection_store.h"
#include "coordinator/sqlite_store.h"
#include "gtest/gtest.h"
#include "tools/base/logging.h"
#include "tools/base/sha256.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

v1::TaskConfig Config(const std::string& name, int goal) {
  v1::TaskConfig c;
  c.set_name(name);
  c.set_population("phones");
  client::Head all = client::MakeHead({16, 12, 8, 4}, 3);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  *c.mutable_model() = ModelToProto(client::Body({all.layers[0]}), head);
  c.set_rounds(5);
  c.set_clients_per_round(goal);
  c.set_over_selection(1.5);
  c.set_min_reports(goal);
  c.set_round_deadline_ms(60'000);
  c.set_aggregator("fedavg");
  return c;
}

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    Open();
  }

  void Open() {
    absl::StatusOr<std::unique_ptr<SqliteStore>> sql = SqliteStore::Open(dir_);
    ASSERT_THAT(sql, IsOk());
    auto faulty = std::make_unique<FaultInjectionStore>(*std::move(sql));
    store_ = faulty.get();
    absl::StatusOr<std::unique_ptr<Coordinator>> c =
        Coordinator::Create(std::move(faulty), &clock_, &random_);
    ASSERT_THAT(c, IsOk());
    c_ = *std::move(c);
  }

  void Restart() {
    c_.reset();
    Open();
  }

  static v1::CheckInRequest CheckIn(const std::string& id, const std::string& secret = "") {
    v1::CheckInRequest r;
    r.set_device_id(id);
    r.set_population("phones");
    r.set_device_secret(secret.empty() ? "secret-of-" + id + "-0123456789" : secret);
    r.mutable_capabilities()->set_has_fpu(true);
    r.mutable_state()->set_charging(true);
    r.mutable_state()->set_idle(true);
    r.mutable_state()->set_unmetered_network(true);
    r.mutable_state()->set_battery_percent(90);
    return r;
  }

  v1::Assignment Admit(const std::string& id) {
    absl::StatusOr<v1::CheckInResponse> r = c_->CheckIn(CheckIn(id));
    EXPECT_THAT(r, IsOk());
    EXPECT_TRUE(r.ok() && r->has_assignment()) << id;
    return r.ok() ? r->assignment() : v1::Assignment();
  }

  static v1::UploadRequest Upload(const v1::Assignment& a, const std::string& id, float value,
                                  int64_t examples = 10) {
    v1::UploadRequest u;
    u.set_task(a.task());
    u.set_round(a.round());
    u.set_upload_token(a.upload_token());
    u.set_model_version(a.bundles(0).version());
    u.set_example_count(examples);
    u.set_device_secret("secret-of-" + id + "-0123456789");
    std::vector<float> delta(kDim, value);
    u.set_delta(std::string(reinterpret_cast<const char*>(delta.data()), delta.size() * 4));
    (*u.mutable_metrics())["loss"] = 0.5;
    return u;
  }

  std::vector<v1::ModelVersion> Models(const std::string& task) {
    absl::StatusOr<std::vector<v1::ModelVersion>> m = c_->ListModels(task);
    EXPECT_THAT(m, IsOk());
    return m.ok() ? *m : std::vector<v1::ModelVersion>{};
  }

  std::string BlobOf(const std::string& task, int version) {
    std::string found;
    for (const v1::ModelVersion& m : Models(task)) {
      if (m.version() == version) {
        found = absl::StrCat(dir_, "/blobs/", task, "-c0-v", version, "-", m.sha256().substr(0, 16),
                             ".model");
      }
    }
    return found;
  }

  static constexpr int kDim = 12 * 8 + 8 + 8 * 4 + 4;
  std::string dir_;
  FakeClock clock_{kT0};
  aggregation::SeededRandomSource random_{1};
  FaultInjectionStore* store_ = nullptr;
  std::unique_ptr<Coordinator> c_;
};

TEST_F(CoordinatorTest, HugeExampleCountsAreMalformed) {
  ASSERT_THAT(c_->CreateTask(Config("t", 2)), IsOk());
  const v1::Assignment a = Admit("d1");
  EXPECT_THAT(c_->Upload(Upload(a, "d1", 0.1f, std::numeric_limits<int64_t>::max())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("example_count")));
  EXPECT_THAT(c_->Upload(Upload(a, "d1", 0.1f, 1'000'001)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(c_->Upload(Upload(a, "d1", 0.1f, 1'000'000)), IsOk());
}

TEST_F(CoordinatorTest, NonFiniteAggregateAbandonsTheRoundAndRestartWorks) {
  v1::TaskConfig config = Config("t", 2);
  config.set_max_update_norm(1e30);       // The loosest bound a task may set...
  config.set_server_optimizer("sgd:lr=1e10");  // ...and a step that overflows float.
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  const v1::Assignment a = Admit("d1"), b = Admit("d2");
  ASSERT_THAT(c_->Upload(Upload(a, "d1", 8e28f, 1'000'000)), IsOk());
  ASSERT_THAT(c_->Upload(Upload(b, "d2", 8e28f, 1'000'000)), IsOk());
  absl::StatusOr<v1::RoundInfo> r = c_->GetRound("t", 1);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->state(), v1::ABANDONED);
  EXPECT_THAT(r->reason(), HasSubstr("non-finite"));
  EXPECT_EQ(Models("t").size(), 1u);  // Version 0 only.
  Restart();
  absl::StatusOr<v1::RoundInfo> again = c_->GetRound("t", 1);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(again->reason(), HasSubstr("non-finite"));
  EXPECT_EQ(Admit("d3").bundles(0).version(), 0);
}

TEST_F(CoordinatorTest, NonFiniteStoredModelIsRolledBackAtStartUp) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  const v1::Assignment a = Admit("d1");
  ASSERT_THAT(c_->Upload(Upload(a, "d1", 0.25f)), IsOk());  // Version 1.
  c_.reset();
  // A version 2 of Inf weights, as an older coordinator could commit.
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> sql = SqliteStore::Open(dir_);
    ASSERT_THAT(sql, IsOk());
    absl::StatusOr<std::vector<VersionRow>> latest = (*sql)->LatestVersions("t");
    ASSERT_THAT(latest, IsOk());
    VersionRow bad = latest->at(0);
    v1::Model m;
    ASSERT_TRUE(m.ParseFromString(bad.model));
    m.mutable_head(0)->mutable_weights()->set_values(0, std::numeric_limits<float>::infinity());
    bad.model = m.SerializeAsString();
    absl::StatusOr<Sha256Digest> d = Sha256(bad.model);
    bad.sha256_hex = DigestToHex(*d);
    bad.version = 2;
    bad.parent_version = 1;
    ASSERT_THAT((*sql)->CommitVersions({bad}), IsOk());
  }
  Open();
  const std::vector<v1::ModelVersion> models = Models("t");
  ASSERT_EQ(models.size(), 4u);
  EXPECT_EQ(models.back().version(), 3);
  EXPECT_EQ(models.back().aggregator(), "rollback");
  EXPECT_EQ(models.back().parent_version(), 1);
  EXPECT_EQ(models.back().sha256(), models[1].sha256());  // Version 1's bytes.
  EXPECT_EQ(Admit("d2").bundles(0).version(), 3);
  Restart();  // Idempotent: the rollback is committed, nothing more to do.
  EXPECT_EQ(Models("t").size(), 4u);
}

TEST_F(CoordinatorTest, HugeFiniteUpdatesAreMalformedByDefault) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  const v1::Assignment a = Admit("d1");
  // 1e30 per weight is finite, and would be committed as a garbage model.
  EXPECT_THAT(c_->Upload(Upload(a, "d1", 1e30f)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_update_norm")));
  // Norm sqrt(140) x 800 = 9466 < 10,000: accepted.
  EXPECT_THAT(c_->Upload(Upload(a, "d1", 800.f)), IsOk());
}

TEST_F(CoordinatorTest, DeviceIdsAreBoundToTheirSecretAndTokensNeverReissued) {
  ASSERT_THAT(c_->CreateTask(Config("t", 2)), IsOk());
  const v1::Assignment first = Admit("victim");
  // Another secret with the victim's id gets nothing.
  EXPECT_THAT(c_->CheckIn(CheckIn("victim", "attacker-secret-0123456789")),
              StatusIs(absl::StatusCode::kPermissionDenied));
  v1::CheckInRequest no_secret = CheckIn("victim");
  no_secret.clear_device_secret();
  EXPECT_THAT(c_->CheckIn(no_secret), StatusIs(absl::StatusCode::kInvalidArgument));
  // The victim itself checking in again gets a new token; the old one is dead.
  const v1::Assignment second = Admit("victim");
  EXPECT_EQ(second.round(), first.round());
  EXPECT_NE(second.upload_token(), first.upload_token());
  EXPECT_THAT(c_->Upload(Upload(first, "victim", 0.1f)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A token is bound to its device: the right token with another secret fails.
  v1::UploadRequest stolen = Upload(second, "victim", 0.1f);
  stolen.set_device_secret("attacker-secret-0123456789");
  EXPECT_THAT(c_->Upload(stolen), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(c_->Upload(Upload(second, "victim", 0.1f)), IsOk());
  absl::StatusOr<v1::RoundInfo> r = c_->GetRound("t", 1);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->selected(), 1);
  EXPECT_EQ(r->rejected().at("wrong_device"), 1);
}

TEST_F(CoordinatorTest, MetricsAreBoundedAndOnlyDeclaredNamesKept) {
  ASSERT_THAT(c_->CreateTask(Config("t", 2)), IsOk());
  const v1::Assignment a = Admit("d1");
  v1::UploadRequest bomb = Upload(a, "d1", 0.1f);
  for (int i = 0; i < 17; ++i) (*bomb.mutable_metrics())[absl::StrCat("m", i)] = i;
  EXPECT_THAT(c_->Upload(bomb), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("metrics")));
  v1::UploadRequest long_name = Upload(a, "d1", 0.1f);
  (*long_name.mutable_metrics())[std::string(65, 'x')] = 1;
  EXPECT_THAT(c_->Upload(long_name), StatusIs(absl::StatusCode::kInvalidArgument));
  v1::UploadRequest nan = Upload(a, "d1", 0.1f);
  (*nan.mutable_metrics())["loss"] = std::nan("");
  EXPECT_THAT(c_->Upload(nan), StatusIs(absl::StatusCode::kInvalidArgument));
  v1::UploadRequest extra = Upload(a, "d1", 0.1f);
  (*extra.mutable_metrics())["favourite_colour"] = 3;
  ASSERT_THAT(c_->Upload(extra), IsOk());
  absl::StatusOr<v1::RoundInfo> r = c_->GetRound("t", 1);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->metrics().size(), 1u);
  EXPECT_DOUBLE_EQ(r->metrics().at("loss"), 0.5);
  EXPECT_EQ(r->rejected().at("unknown_metric"), 1);
  EXPECT_EQ(r->rejected().at("malformed"), 3);
}

TEST_F(CoordinatorTest, OldVersionBitFlipsAreFoundAtStartUpAndByVerify) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  ASSERT_THAT(c_->Upload(Upload(Admit("d1"), "d1", 0.25f)), IsOk());  // Version 1.
  const std::string v0 = BlobOf("t", 0);
  ASSERT_FALSE(v0.empty());
  c_.reset();
  {
    std::fstream f(v0, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x5a');
  }
  Open();  // The newest version is intact: the coordinator serves.
  const std::vector<v1::ModelVersion> models = Models("t");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_THAT(models[0].integrity(), HasSubstr("SHA-256"));
  EXPECT_EQ(models[1].integrity(), "ok");
  absl::StatusOr<v1::VerifyResponse> v = c_->Verify("t");
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->checked(), 2);
  ASSERT_EQ(v->bad_size(), 1);
  EXPECT_EQ(v->bad(0).version(), 0);
}

TEST_F(CoordinatorTest, AFailedRoundOpeningOpensNothing) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  store_->fail_writes = true;
  EXPECT_THAT(c_->CheckIn(CheckIn("d1")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(c_->ListRounds("t", -1), IsOk());
  EXPECT_TRUE(c_->ListRounds("t", -1)->empty());
  store_->fail_writes = false;
  EXPECT_EQ(Admit("d1").round(), 1);
  Restart();  // Round 1 was recorded; the next one is 2, never 1 again.
  EXPECT_EQ(Admit("d2").round(), 2);
}

TEST_F(CoordinatorTest, AFailedCommitKeepsMemoryAtTheStoreAndRetries) {
  ASSERT_THAT(c_->CreateTask(Config("t", 2)), IsOk());
  const v1::Assignment a = Admit("d1"), b = Admit("d2");
  ASSERT_THAT(c_->Upload(Upload(a, "d1", 0.5f)), IsOk());
  store_->fail_writes = true;  // The disk fills up.
  ASSERT_THAT(c_->Upload(Upload(b, "d2", 0.5f)), IsOk());  // Goal reached: the commit fails.
  EXPECT_GT(store_->failed_writes.load(), 0);
  EXPECT_EQ(c_->GetTask("t")->committed_rounds(), 0);
  EXPECT_EQ(Models("t").size(), 1u);
  // No new round opens while the last one is unrecorded.
  absl::StatusOr<v1::CheckInResponse> waiting = c_->CheckIn(CheckIn("d3"));
  ASSERT_THAT(waiting, IsOk());
  EXPECT_TRUE(waiting->has_retry());
  c_->Tick();  // Still full: still pending, still nothing.
  EXPECT_EQ(c_->GetTask("t")->committed_rounds(), 0);
  store_->fail_writes = false;  // Space comes back.
  c_->Tick();
  EXPECT_EQ(c_->GetTask("t")->committed_rounds(), 1);
  const std::vector<v1::ModelVersion> models = Models("t");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[1].round(), 1);
  EXPECT_EQ(Admit("d3").round(), 2);
  Restart();
  EXPECT_EQ(c_->GetTask("t")->committed_rounds(), 1);
  EXPECT_EQ(Admit("d4").round(), 3);
}

TEST_F(CoordinatorTest, LateUploadsCountInTheirOwnRound) {
  ASSERT_THAT(c_->CreateTask(Config("t", 2)), IsOk());
  const v1::Assignment a = Admit("d1"), b = Admit("d2"), late = Admit("d3");
  ASSERT_THAT(c_->Upload(Upload(a, "d1", 0.1f)), IsOk());
  ASSERT_THAT(c_->Upload(Upload(b, "d2", 0.1f)), IsOk());  // Round 1 commits.
  EXPECT_EQ(Admit("d4").round(), 2);
  EXPECT_THAT(c_->Upload(Upload(late, "d3", 0.1f)), StatusIs(absl::StatusCode::kDeadlineExceeded));
  absl::StatusOr<v1::RoundInfo> r1 = c_->GetRound("t", 1), r2 = c_->GetRound("t", 2);
  ASSERT_THAT(r1, IsOk());
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r1->rejected().count("late") ? r1->rejected().at("late") : 0, 1);
  EXPECT_EQ(r2->rejected().count("late"), 0u);
}

TEST_F(CoordinatorTest, RetryWindowsForPausedFinishedAndUnknown) {
  v1::TaskConfig config = Config("t", 1);
  config.set_rounds(1);
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  ASSERT_THAT(c_->SetPaused("t", true), IsOk());
  absl::StatusOr<v1::CheckInResponse> r = c_->CheckIn(CheckIn("d1"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->retry().earliest_ms(), 5 * 60'000);
  EXPECT_EQ(r->retry().latest_ms(), 10 * 60'000);
  ASSERT_THAT(c_->SetPaused("t", false), IsOk());
  ASSERT_THAT(c_->Upload(Upload(Admit("d1"), "d1", 0.1f)), IsOk());  // The only round.
  r = c_->CheckIn(CheckIn("d2"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->retry().earliest_ms(), 6 * 3'600'000);
  EXPECT_EQ(r->retry().latest_ms(), 12 * 3'600'000);
  v1::CheckInRequest stranger = CheckIn("d3");
  stranger.set_population("watches");
  r = c_->CheckIn(stranger);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->retry().earliest_ms(), 60'000);
}

TEST_F(CoordinatorTest, TaskConfigBoundsExampleCountsAndMetrics) {
  v1::TaskConfig c = Config("t", 1);
  c.set_max_example_count(-1);
  EXPECT_THAT(c_->CreateTask(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Config("t", 1);
  for (int i = 0; i < 17; ++i) c.add_accepted_metrics(absl::StrCat("m", i));
  EXPECT_THAT(c_->CreateTask(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Config("t", 1);
  c.mutable_plan()->set_epochs(1'000'000);  // Devices would refuse it.
  EXPECT_THAT(c_->CreateTask(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epochs")));
  c = Config("t", 1);
  c.set_over_selection(1.2e24);  // Admitted count would not fit an int.
  EXPECT_THAT(c_->CreateTask(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Config("t", 1);
  c.set_round_deadline_ms(std::numeric_limits<int64_t>::max());
  EXPECT_THAT(c_->CreateTask(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Config("t", 1);
  c.mutable_plan()->set_learning_rate(1e30f);
  EXPECT_THAT(c_->CreateTask(c), StatusIs(absl::StatusCode::kInvalidArgument));
  absl::StatusOr<v1::TaskInfo> ok = c_->CreateTask(Config("t", 1));
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->config().max_example_count(), 1'000'000);
  EXPECT_EQ(ok->config().accepted_metrics_size(), 4);
  EXPECT_EQ(ok->config().accepted_metrics(1), "train_accuracy");
  EXPECT_EQ(ok->config().max_update_norm(), 1e4);
}

}  // namespace
}  // namespace fedtiny::coordinator

namespace fedtiny::coordinator {
namespace {

// A commit blocked inside the store (a slow fsync) must not hold up check-ins:
// another task admits devices, and this task's check-ins are told to come back.
TEST_F(CoordinatorTest, CheckInsAreServedWhileARoundCommits) {
  ASSERT_THAT(c_->CreateTask(Config("slow", 1)), IsOk());
  v1::TaskConfig other = Config("other", 1);
  other.set_population("watches");
  ASSERT_THAT(c_->CreateTask(other), IsOk());
  const v1::Assignment a = Admit("d1");
  absl::Notification entered, release;
  store_->on_close_round = [&] {
    entered.Notify();
    release.WaitForNotification();
  };
  std::thread uploader([&] { EXPECT_THAT(c_->Upload(Upload(a, "d1", 0.1f)), IsOk()); });
  entered.WaitForNotification();
  auto served = std::async(std::launch::async, [&] {
    v1::CheckInRequest w = CheckIn("w1");
    w.set_population("watches");
    absl::StatusOr<v1::CheckInResponse> to_other = c_->CheckIn(w);
    absl::StatusOr<v1::CheckInResponse> to_slow = c_->CheckIn(CheckIn("d2"));
    return std::make_pair(to_other.ok() && to_other->has_assignment(),
                          to_slow.ok() && to_slow->has_retry());
  });
  const bool answered = served.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  EXPECT_TRUE(answered) << "check-ins waited on a commit";
  if (answered) {
    const auto [other_admitted, slow_told_to_retry] = served.get();
    EXPECT_TRUE(other_admitted);
    EXPECT_TRUE(slow_told_to_retry);
  }
  release.Notify();
  uploader.join();
  if (!answered) served.wait();
  store_->on_close_round = nullptr;
  absl::StatusOr<v1::RoundInfo> r = c_->GetRound("slow", a.round());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->state(), v1::COMMITTED);
  EXPECT_EQ(r->versions().at(0), 1);
}

}  // namespace
}  // namespace fedtiny::coordinator

namespace fedtiny::coordinator {
namespace {

TEST_F(CoordinatorTest, FleetCountsFollowThePausedTask) {
  ASSERT_THAT(c_->CreateTask(Config("fleet", 3)), IsOk());
  Admit("f1");
  Admit("f2");
  auto states = [&] {
    std::map<std::string, int64_t> by_state;
    absl::StatusOr<v1::FleetResponse> f = c_->Fleet("fleet");
    EXPECT_THAT(f, IsOk());
    if (f.ok()) {
      for (const v1::FleetCount& n : f->counts()) by_state[n.state()] += n.devices();
    }
    return by_state;
  };
  EXPECT_EQ(states(), (std::map<std::string, int64_t>{{"assigned", 2}}));
  ASSERT_THAT(c_->SetPaused("fleet", true), IsOk());
  EXPECT_EQ(states(), (std::map<std::string, int64_t>{{"paused", 2}}));
  ASSERT_THAT(c_->SetPaused("fleet", false), IsOk());
  EXPECT_EQ(states(), (std::map<std::string, int64_t>{{"assigned", 2}}));
}

}  // namespace
}  // namespace fedtiny::coordinator

namespace fedtiny::coordinator {
namespace {

// Device secrets and upload tokens never reach the log, whatever goes wrong:
// everything the coordinator logs during a hostile session is scanned for them
// (raw, and hex as a careless log line would print them).
TEST_F(CoordinatorTest, SecretsAndTokensAreNeverLogged) {
  logging::SetMinSeverity(logging::Severity::kInfo);
  ::testing::internal::CaptureStderr();
  ASSERT_THAT(c_->CreateTask(Config("quiet", 1)), IsOk());
  const v1::Assignment a = Admit("s1");
  EXPECT_FALSE(c_->CheckIn(CheckIn("s1", "another-secret-0123456789")).ok());
  v1::UploadRequest bad = Upload(a, "s1", 0.1f);
  bad.set_upload_token("not-the-token-0123456789abcdef");
  EXPECT_FALSE(c_->Upload(bad).ok());
  store_->fail_writes = true;
  EXPECT_THAT(c_->Upload(Upload(a, "s1", 0.1f)), IsOk());  // Commit fails: logged, retried.
  store_->fail_writes = false;
  c_->Tick();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("quiet"), std::string::npos) << "the session logged nothing to scan";
  for (const std::string& secret :
       {std::string("secret-of-s1-0123456789"), std::string("another-secret-0123456789"),
        a.upload_token(), std::string("not-the-token-0123456789abcdef")}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
    EXPECT_EQ(log.find(absl::BytesToHexString(secret)), std::string::npos) << secret;
  }
}

}  // namespace
}  // namespace fedtiny::coordinator
