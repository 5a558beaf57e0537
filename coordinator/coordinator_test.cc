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
#include <random>
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
#include "tests/small_model.h"
#include "tools/base/logging.h"
#include "tools/base/sha256.h"
#include "tools/base/status_matchers.h"
#include "tools/base/update_codec.h"

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
  *c.mutable_model() = fedtiny::testing::SmallModel();
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

  // The file holding the part of `version`'s model that is its own (the head;
  // the body is shared with the other versions).
  std::string BlobOf(const std::string& task, int version) {
    absl::StatusOr<v1::GetModelResponse> m = c_->GetModel(task, 0, version);
    if (!m.ok()) return "";
    const int64_t prefix = TaskRunner::BodyPrefixBytes(c_->GetTask(task)->config());
    return absl::StrCat(dir_, "/blobs/", DigestToHex(*Sha256(m->model().substr(prefix))), ".blob");
  }

  static constexpr int kDim = fedtiny::testing::kSmallHeadParams;
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

// FedBuff through the whole coordinator: a version per K uploads, tokens valid
// across rounds, and a device re-admitted into the (recorded) round of its token.
TEST_F(CoordinatorTest, AsyncTaskCommitsEveryBufferAcrossRounds) {
  v1::TaskConfig config = Config("a", 2);
  config.mutable_async()->set_concurrency(3);
  config.mutable_async()->set_buffer(2);
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  v1::Assignment a0 = Admit("d0"), a1 = Admit("d1"), a2 = Admit("d2");
  absl::StatusOr<v1::CheckInResponse> full = c_->CheckIn(CheckIn("d3"));
  ASSERT_THAT(full, IsOk());
  EXPECT_FALSE(full->has_assignment());  // Three train already.
  ASSERT_THAT(c_->Upload(Upload(a0, "d0", 1.f)), IsOk());
  ASSERT_THAT(c_->Upload(Upload(a1, "d1", 3.f)), IsOk());
  absl::StatusOr<v1::RoundInfo> r1 = c_->GetRound("a", 1);
  ASSERT_THAT(r1, IsOk());
  EXPECT_EQ(r1->state(), v1::COMMITTED);
  v1::Assignment a3 = Admit("d3");
  EXPECT_EQ(a3.round(), 2);
  EXPECT_EQ(a3.bundles(0).version(), 1);
  // d2 lost its answer and checks in again: a fresh token for round 1, which
  // is recorded already (round 2 is the open one).
  v1::Assignment again = Admit("d2");
  EXPECT_EQ(again.round(), 1);
  EXPECT_NE(again.upload_token(), a2.upload_token());
  v1::UploadRequest stale = Upload(again, "d2", 5.f);
  stale.set_model_version(0);  // Trained from version 0: staleness 1.
  ASSERT_THAT(c_->Upload(stale), IsOk());
  ASSERT_THAT(c_->Upload(Upload(a3, "d3", 1.f)), IsOk());
  absl::StatusOr<v1::RoundInfo> r2 = c_->GetRound("a", 2);
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->state(), v1::COMMITTED);
  EXPECT_EQ(Models("a").size(), 3u);  // Versions 0, 1, 2.
}

// What a restart costs an asynchronous task (docs/protocol.md): its tokens and
// buffered updates (memory only); never a round number or a committed version.
TEST_F(CoordinatorTest, AsyncTaskRestartsWithoutItsTokensAndBuffers) {
  v1::TaskConfig config = Config("a", 2);
  config.mutable_async()->set_concurrency(4);
  config.mutable_async()->set_buffer(2);
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  v1::Assignment a0 = Admit("d0"), a1 = Admit("d1");
  ASSERT_THAT(c_->Upload(Upload(a0, "d0", 1.f)), IsOk());  // Buffered, not committed.
  Restart();
  EXPECT_THAT(c_->Upload(Upload(a1, "d1", 1.f)), StatusIs(absl::StatusCode::kPermissionDenied));
  v1::Assignment b0 = Admit("d0"), b1 = Admit("d1");
  EXPECT_GT(b0.round(), a0.round());  // Round 1 was abandoned at the restart.
  EXPECT_EQ(b0.bundles(0).version(), 0);
  ASSERT_THAT(c_->Upload(Upload(b0, "d0", 1.f)), IsOk());
  ASSERT_THAT(c_->Upload(Upload(b1, "d1", 1.f)), IsOk());
  absl::StatusOr<v1::RoundInfo> r = c_->GetRound("a", b0.round());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->state(), v1::COMMITTED);
  EXPECT_EQ(Models("a").size(), 2u);
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

// Compressed uploads (docs/protocol.md, "Compressed updates"): the spec
// reaches the device in its assignment; the coordinator decodes with it and
// the upload's seed, and refuses anything else as malformed, naming why.
TEST_F(CoordinatorTest, CompressedUploadsDecodeOrAreRefusedByName) {
  v1::TaskConfig config = Config("z", 2);
  config.set_compression("hadamard:bits=8,k=0.5");
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  v1::TaskConfig plain = Config("plain", 1);
  plain.set_population("tablets");
  ASSERT_THAT(c_->CreateTask(plain), IsOk());
  CompressionSpec spec;
  std::string error;
  ASSERT_TRUE(ParseCompressionSpec(config.compression(), &spec, &error));
  const v1::Assignment a = Admit("d1");
  ASSERT_EQ(a.task(), "z");
  EXPECT_EQ(a.compression(), "hadamard:bits=8,k=0.5");
  auto compressed = [&](const v1::Assignment& as, const std::string& id, const CompressionSpec& s,
                        const std::string& token) {
    v1::UploadRequest u = Upload(as, id, 0.01f);
    const std::vector<float> delta(kDim, 0.01f);
    std::string bytes;
    EXPECT_TRUE(EncodeCompressed(delta.data(), kDim, s, CompressionSeed(as.task(), as.round(), token), 7,
                                 &bytes, &error));
    u.clear_delta();
    u.set_compressed_delta(bytes);
    return u;
  };
  auto refused = [&](const v1::UploadRequest& u, const std::string& why) {
    EXPECT_THAT(c_->Upload(u), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)));
  };
  refused(compressed(a, "d1", spec, "another token"), "seed");
  CompressionSpec four = spec;
  four.bits = 4;
  refused(compressed(a, "d1", four, a.upload_token()), "4 bits, the task's compression has 8");
  v1::UploadRequest good = compressed(a, "d1", spec, a.upload_token());
  v1::UploadRequest cut = good;
  cut.mutable_compressed_delta()->pop_back();
  refused(cut, "bytes, expected");
  v1::UploadRequest both = good;
  both.set_delta(Upload(a, "d1", 0.01f).delta());
  refused(both, "exclude each other");
  std::mt19937 g(3);
  for (int i = 0; i < 200; ++i) {  // Header corruptions before the range: refused, never a crash.
    v1::UploadRequest bad = good;
    (*bad.mutable_compressed_delta())[g() % 20] ^= static_cast<char>(1 + g() % 255);
    EXPECT_FALSE(c_->Upload(bad).ok());
  }
  ASSERT_THAT(c_->Upload(good), IsOk());
  // The float32 form stays accepted (devices on nanopb do not compress).
  ASSERT_THAT(c_->Upload(Upload(Admit("d2"), "d2", 0.01f)), IsOk());
  EXPECT_EQ(Models("z").size(), 2u);  // Committed: version 1 beside version 0.
  // A task without compression refuses compressed bytes.
  v1::CheckInRequest tablet = CheckIn("d3");
  tablet.set_population("tablets");
  absl::StatusOr<v1::CheckInResponse> r = c_->CheckIn(tablet);
  ASSERT_THAT(r, IsOk());
  ASSERT_TRUE(r->has_assignment());
  const v1::Assignment p = r->assignment();
  ASSERT_EQ(p.task(), "plain");
  EXPECT_EQ(p.compression(), "");
  refused(compressed(p, "d3", spec, p.upload_token()), "takes float32 deltas");
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


// ------------------------------------------------------- the operator's calls

class OperatorTest : public CoordinatorTest {
 protected:
  // Commits one round of `task` (goal 1) with device `id`.
  void CommitOne(const std::string& task, const std::string& id, float value) {
    const v1::Assignment a = Admit(id);
    ASSERT_EQ(a.task(), task);
    ASSERT_THAT(c_->Upload(Upload(a, id, value)), IsOk());
  }
  std::string CurrentModel(const std::string& task) {
    absl::StatusOr<std::map<int, std::string>> m = c_->CurrentModels(task);
    return m.ok() ? m->at(0) : "";
  }
};

TEST_F(OperatorTest, RollbackMakesAnOldVersionCurrentAsANewVersion) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  const std::string v0 = CurrentModel("t");
  CommitOne("t", "d1", 0.25f);
  CommitOne("t", "d2", 0.5f);
  ASSERT_NE(CurrentModel("t"), v0);
  const v1::Assignment open = Admit("d3");  // Round 3 is open during the rollback.
  EXPECT_THAT(c_->RollbackModel("t", 0, 9), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(c_->RollbackModel("t", 0, 2), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(c_->RollbackModel("t", 3, 0), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<v1::ModelVersion> v = c_->RollbackModel("t", 0, 0);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->version(), 3);
  EXPECT_EQ(v->parent_version(), 0);
  EXPECT_EQ(v->aggregator(), "rollback");
  EXPECT_EQ(CurrentModel("t"), v0);  // Byte for byte.
  // The open round was abandoned, and says why; its upload is late.
  absl::StatusOr<v1::RoundInfo> r3 = c_->GetRound("t", open.round());
  ASSERT_THAT(r3, IsOk());
  EXPECT_EQ(r3->state(), v1::ABANDONED);
  EXPECT_THAT(r3->reason(), HasSubstr("rolled back to version 0"));
  EXPECT_THAT(c_->Upload(Upload(open, "d3", 0.1f)), StatusIs(absl::StatusCode::kDeadlineExceeded));
  // Devices get version 3 and train from it; the lineage is append-only.
  const v1::Assignment next = Admit("d4");
  EXPECT_EQ(next.bundles(0).version(), 3);
  ASSERT_THAT(c_->Upload(Upload(next, "d4", 0.1f)), IsOk());
  EXPECT_EQ(Models("t").size(), 5u);
  EXPECT_EQ(Models("t").back().parent_version(), 3);
  Restart();
  EXPECT_EQ(Models("t").size(), 5u);
  EXPECT_EQ(Admit("d5").bundles(0).version(), 4);
}

TEST_F(OperatorTest, RetentionKeepsTheNewestAndThePinnedAndStoresTheBodyOnce) {
  v1::TaskConfig config = Config("t", 1);
  config.set_keep_versions(2);
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  ASSERT_THAT(c_->PinModel("t", 0, 0, true), IsOk());
  for (int i = 1; i <= 4; ++i) CommitOne("t", absl::StrCat("d", i), 0.1f * i);
  const std::vector<v1::ModelVersion> models = Models("t");
  ASSERT_EQ(models.size(), 5u);  // Every version stays listed.
  for (const v1::ModelVersion& m : models) {
    const bool kept = m.version() == 0 || m.version() >= 3;
    EXPECT_EQ(m.integrity(), kept ? "ok" : "pruned") << m.version();
    EXPECT_EQ(m.pinned(), m.version() == 0) << m.version();
  }
  EXPECT_THAT(c_->GetModel("t", 0, 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(c_->RollbackModel("t", 0, 2), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(c_->GetModel("t", 0, 0), IsOk());
  // Three versions' blobs on disk: one body file, three head files.
  absl::StatusOr<StorageUse> use = c_->StorageUsage();
  ASSERT_THAT(use, IsOk());
  EXPECT_EQ(use->blobs, 4);
  EXPECT_LT(use->bytes, 2 * models.back().size_bytes());
  // Verify checks what is kept and does not call pruned blobs bad.
  absl::StatusOr<v1::VerifyResponse> verify = c_->Verify("t");
  ASSERT_THAT(verify, IsOk());
  EXPECT_EQ(verify->bad_size(), 0);
}

TEST_F(OperatorTest, StopAbandonsTheOpenRoundAndIsFinal) {
  ASSERT_THAT(c_->CreateTask(Config("t", 2)), IsOk());
  const v1::Assignment a = Admit("d1");
  absl::StatusOr<v1::TaskInfo> stopped = c_->StopTask("t");
  ASSERT_THAT(stopped, IsOk());
  EXPECT_EQ(stopped->state(), v1::STOPPED);
  EXPECT_EQ(c_->GetRound("t", a.round())->state(), v1::ABANDONED);
  EXPECT_THAT(c_->SetPaused("t", false), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(c_->StopTask("t"), StatusIs(absl::StatusCode::kFailedPrecondition));
  v1::UpdateTaskRequest edit;
  edit.set_task("t");
  edit.set_rounds(50);
  EXPECT_THAT(c_->UpdateTask(edit), StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::StatusOr<v1::CheckInResponse> r = c_->CheckIn(CheckIn("d2"));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->has_retry());
  EXPECT_EQ(c_->Fleet("t")->counts(0).state(), "stopped");
  Restart();
  EXPECT_EQ(c_->GetTask("t")->state(), v1::STOPPED);
  EXPECT_TRUE(c_->CheckIn(CheckIn("d3"))->has_retry());
}

TEST_F(OperatorTest, EditsApplyAreStoredAndCanRunADoneTaskAgain) {
  v1::TaskConfig config = Config("t", 1);
  config.set_rounds(1);
  ASSERT_THAT(c_->CreateTask(config), IsOk());
  CommitOne("t", "d1", 0.1f);
  ASSERT_EQ(c_->GetTask("t")->state(), v1::DONE);
  v1::UpdateTaskRequest edit;
  edit.set_task("t");
  edit.set_min_reports(5);  // More than the goal (1).
  EXPECT_THAT(c_->UpdateTask(edit), StatusIs(absl::StatusCode::kInvalidArgument));
  edit.Clear();
  edit.set_task("t");
  edit.set_rounds(3);
  edit.set_clients_per_round(2);
  (*edit.mutable_class_quota())["phone"] = 5;
  absl::StatusOr<v1::TaskInfo> info = c_->UpdateTask(edit);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->state(), v1::RUNNING);  // Done no more: two rounds to go.
  EXPECT_EQ(info->config().rounds(), 3);
  EXPECT_EQ(info->config().clients_per_round(), 2);
  EXPECT_EQ(info->config().min_reports(), 1);  // Untouched.
  // The new goal applies: one upload no longer closes the round.
  const v1::Assignment a = Admit("d2"), b = Admit("d3");
  ASSERT_THAT(c_->Upload(Upload(a, "d2", 0.1f)), IsOk());
  EXPECT_EQ(c_->GetTask("t")->committed_rounds(), 1);
  ASSERT_THAT(c_->Upload(Upload(b, "d3", 0.1f)), IsOk());
  EXPECT_EQ(c_->GetTask("t")->committed_rounds(), 2);
  Restart();
  EXPECT_EQ(c_->GetTask("t")->config().clients_per_round(), 2);
  EXPECT_EQ(c_->GetTask("t")->config().class_quota().at("phone"), 5);
  EXPECT_EQ(c_->GetTask("t")->state(), v1::RUNNING);
}

TEST_F(OperatorTest, DeleteNeedsTheNameAndRemovesEverything) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  CommitOne("t", "d1", 0.1f);
  EXPECT_THAT(c_->DeleteTask("t", "not-t"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(c_->GetTask("t")->state(), v1::RUNNING);  // Untouched by the refusal.
  ASSERT_THAT(c_->DeleteTask("t", "t"), IsOk());
  EXPECT_THAT(c_->GetTask("t"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(c_->DeleteTask("t", "t"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(c_->StorageUsage()->blobs, 0);
  Restart();
  EXPECT_TRUE(c_->ListTasks().empty());
  // The name is free again, and the new task starts from round 1.
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  EXPECT_EQ(Admit("d2").round(), 1);
}

TEST_F(OperatorTest, DevicesArePagedWithWhatEachContributed) {
  ASSERT_THAT(c_->CreateTask(Config("t", 1)), IsOk());
  CommitOne("t", "d1", 0.1f);
  const v1::Assignment a = Admit("d2");
  v1::UploadRequest bad = Upload(a, "d2", 0.1f);
  bad.set_example_count(0);  // Malformed: counted against d2.
  EXPECT_THAT(c_->Upload(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  for (int i = 3; i <= 7; ++i) (void)c_->CheckIn(CheckIn(absl::StrCat("d", i)));
  v1::ListDevicesRequest req;
  req.set_task("t");
  req.set_page_size(3);
  std::vector<v1::DeviceInfo> all;
  for (int page = 0; page < 10; ++page) {
    absl::StatusOr<v1::ListDevicesResponse> r = c_->ListDevices(req);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->total(), 7);
    all.insert(all.end(), r->devices().begin(), r->devices().end());
    if (r->next_page_token().empty()) break;
    req.set_page_token(r->next_page_token());
  }
  ASSERT_EQ(all.size(), 7u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].device_id(), absl::StrCat("d", i + 1));
  EXPECT_EQ(all[0].rounds_contributed(), 1);
  EXPECT_EQ(all[0].state(), "assigned");
  EXPECT_EQ(all[0].last_seen_ms(), absl::ToUnixMillis(kT0));
  EXPECT_EQ(all[1].rejections(), 1);
  EXPECT_EQ(all[1].last_rejection(), "malformed");
  req.set_page_token("!!");
  EXPECT_THAT(c_->ListDevices(req), StatusIs(absl::StatusCode::kInvalidArgument));
  req.clear_page_token();
  req.set_state("assigned");
  absl::StatusOr<v1::ListDevicesResponse> assigned = c_->ListDevices(req);
  ASSERT_THAT(assigned, IsOk());
  for (const v1::DeviceInfo& d : assigned->devices()) EXPECT_EQ(d.state(), "assigned");
  ASSERT_THAT(c_->SetPaused("t", true), IsOk());
  req.set_state("paused");
  EXPECT_EQ(c_->ListDevices(req)->total(), 7);
}

TEST_F(OperatorTest, TheAuditLogRecordsWhoDidWhat) {
  ASSERT_THAT(c_->RecordAudit({0, 0, "alice", "PauseTask", "t", "", "ok"}), IsOk());
  clock_.Advance(absl::Seconds(5));
  ASSERT_THAT(c_->RecordAudit({0, 0, "cert:CN=bob", "StopTask", "u", "", "NOT_FOUND: no task"}), IsOk());
  absl::StatusOr<std::vector<AuditRow>> rows = c_->ListAudit("", 0);
  ASSERT_THAT(rows, IsOk());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].who, "cert:CN=bob");
  EXPECT_EQ((*rows)[0].time_ms, absl::ToUnixMillis(kT0 + absl::Seconds(5)));  // Stamped by the clock.
  EXPECT_EQ((*rows)[1].action, "PauseTask");
  Restart();
  EXPECT_EQ(c_->ListAudit("t", 0)->size(), 1u);
}

}  // namespace
}  // namespace fedtiny::coordinator
