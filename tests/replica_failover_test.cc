// Coordinator replicas under fire: three replica processes over a throwaway
// PostgreSQL server, a fleet of devices checking in and uploading through one
// gRPC channel that balances round-robin over the three, and the leading
// replica killed with SIGKILL again and again (restarted each time). Bars
// (docs/replicas.md): another replica commits the next round within 10 s of
// each kill; versions stay contiguous; every committed round counts exactly
// the uploads marked used for it; each committed model equals an independent
// FedAvg of the accepted deltas. Prints the takeover times (kill -> next
// commit). FEDTINY_REPLICA_KILLS sets the number of kills (default 20).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/pg_connection.h"
#include "coordinator/postgres_store.h"
#include "coordinator/round_engine.h"
#include "coordinator/testing/pg_server.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/delta_codec.h"
#include "proto/federation.grpc.pb.h"
#include "proto/model_codec.h"
#include "tests/child_process.h"
#include "tests/e2e_data.h"
#include "tools/base/atomic_file.h"

namespace fedtiny {
namespace {

using coordinator::PgConnection;
using coordinator::PgParams;
using coordinator::PgResult;
using coordinator::testing::PgServer;
using testing::ChildProcess;

constexpr int kReplicas = 3;
constexpr int kDevices = 12;
constexpr int kDim = testing::kSmallHeadParams;

int Kills() {
  const char* k = std::getenv("FEDTINY_REPLICA_KILLS");
  return k != nullptr ? std::atoi(k) : 20;
}

// What one device sends: a delta and example count derived from its id.
struct Sent {
  std::vector<float> delta;
  int64_t examples = 0;
};

Sent UpdateOf(const std::string& device_id) {
  const size_t h = std::hash<std::string>()(device_id);
  Sent s;
  s.examples = 1 + static_cast<int64_t>(h % 20);
  const float base = (static_cast<float>(h % 1000) / 1000.0f - 0.5f) * 0.02f;
  for (int i = 0; i < kDim; ++i) s.delta.push_back(base * static_cast<float>(1 + i % 3));
  return s;
}

class ReplicaFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!PgServer::Installed()) GTEST_SKIP() << PgServer::kMissing;
    absl::StatusOr<std::unique_ptr<PgServer>> pg = PgServer::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = *std::move(pg);
    absl::StatusOr<std::string> conninfo = pg_->CreateDatabase("failover");
    ASSERT_TRUE(conninfo.ok()) << conninfo.status();
    conninfo_ = *conninfo;
    absl::StatusOr<std::unique_ptr<PgConnection>> db = PgConnection::Connect(conninfo_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    v1::TaskConfig config = testing::SmallTask("fl", 3, 1'000'000);
    // Slack for admissions that never upload: a replica killed between
    // committing an admission and answering leaves a slot whose token no
    // device holds. Without it a round waits for its deadline (5 s).
    config.set_over_selection(3.0);
    config.set_min_reports(1);
    config.set_round_deadline_ms(5'000);
    std::string text;
    ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
    config_path_ = std::string(std::getenv("TEST_TMPDIR")) + "/fl.textproto";
    ASSERT_TRUE(WriteFileAtomically(config_path_, text).ok());
    ports_.assign(kReplicas, 0);
    for (int i = 0; i < kReplicas; ++i) Spawn(i);
  }

  void Spawn(int i) {
    absl::StatusOr<ChildProcess> p = ChildProcess::Spawn(
        {"coordinator/replica/replica_server", "--postgres=" + conninfo_,
         "--replica_id=r" + std::to_string(i), "--task=fl", "--task_config=" + config_path_,
         "--port=" + std::to_string(ports_[i]), "--connections=3"});
    ASSERT_TRUE(p.ok()) << p.status();
    absl::StatusOr<std::string> line = p->ReadLine(absl::Seconds(30));
    ASSERT_TRUE(line.ok()) << line.status();
    const size_t colon = line->rfind(':');
    ASSERT_NE(colon, std::string::npos) << *line;
    ports_[i] = std::stoi(line->substr(colon + 1));
    if (procs_.size() <= static_cast<size_t>(i)) {
      procs_.push_back(std::make_unique<ChildProcess>(*std::move(p)));
    } else {
      procs_[i] = std::make_unique<ChildProcess>(*std::move(p));
    }
  }

  int64_t Query(const std::string& sql) {
    absl::StatusOr<PgResult> r = db_->Exec(sql, PgParams().Add("fl"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->rows() > 0 ? r->Int(0, 0) : -1;
  }

  // One device's life, over and over until `stop_`: check in, upload once
  // (retrying through the balancer while replicas die), under a fresh id.
  void Device(int index, v1::Federation::Stub& stub) {
    for (int n = 0; !stop_.load(); ++n) {
      const std::string id = absl::StrCat("d", index, "-", n);
      const v1::CheckInRequest ci =
          testing::EligibleCheckIn(id, "secret-" + id + "-0123456789");
      v1::CheckInResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
      if (!stub.CheckIn(&ctx, ci, &resp).ok() || !resp.has_assignment()) {
        absl::SleepFor(absl::Milliseconds(20));
        continue;
      }
      const v1::Assignment& a = resp.assignment();
      const Sent sent = UpdateOf(id);
      {
        absl::MutexLock lock(&mu_);
        sent_[coordinator::SecretKeyOf(a.upload_token())] = sent;
      }
      v1::UploadRequest u;
      u.set_task(a.task());
      u.set_round(a.round());
      u.set_upload_token(a.upload_token());
      u.set_model_version(a.bundles(0).version());
      u.set_example_count(sent.examples);
      u.set_delta(EncodeDelta(sent.delta));
      u.set_device_secret(ci.device_secret());
      for (int attempt = 0; attempt < 20 && !stop_.load(); ++attempt) {
        grpc::ClientContext uctx;
        uctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        v1::UploadResponse ur;
        const grpc::Status s = stub.Upload(&uctx, u, &ur);
        absl::MutexLock lock(&mu_);
        ++outcomes_[s.error_code()];
        if (s.ok()) accepted_.push_back({coordinator::SecretKeyOf(a.upload_token()), a.round()});
        // UNAVAILABLE: the replica died (the upload may or may not have
        // landed: a retry then finds it a duplicate, ALREADY_EXISTS).
        if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      }
    }
  }

  void DumpActivity() {
    absl::StatusOr<PgResult> a = db_->Exec(
        "SELECT pid, state, COALESCE(wait_event_type, ''), COALESCE(wait_event, ''), "
        "(now() - xact_start)::text, left(query, 120) FROM pg_stat_activity WHERE datname = "
        "current_database() AND pid <> pg_backend_pid()");
    if (!a.ok()) return;
    for (int i = 0; i < a->rows(); ++i) {
      std::printf("slow takeover: pid %lld %s %s/%s xact %s: %s\n",
                  static_cast<long long>(a->Int(i, 0)), a->Bytes(i, 1).c_str(), a->Bytes(i, 2).c_str(),
                  a->Bytes(i, 3).c_str(), a->Bytes(i, 4).c_str(), a->Bytes(i, 5).c_str());
    }
    absl::StatusOr<PgResult> r = db_->Exec(
        "SELECT round, open, admitted, cap, deadline_ms FROM replica_rounds WHERE task = $1",
        PgParams().Add("fl"));
    if (r.ok() && r->rows() == 1) {
      std::printf("slow takeover: round %lld open %lld admitted %lld cap %lld\n",
                  static_cast<long long>(r->Int(0, 0)), static_cast<long long>(r->Int(0, 1)),
                  static_cast<long long>(r->Int(0, 2)), static_cast<long long>(r->Int(0, 3)));
    }
    std::fflush(stdout);
  }

  std::unique_ptr<PgServer> pg_;
  std::string conninfo_;
  std::unique_ptr<PgConnection> db_;
  std::string config_path_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ChildProcess>> procs_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::map<std::string, Sent> sent_ ABSL_GUARDED_BY(mu_);  // Token hash -> what was sent.
  std::vector<std::pair<std::string, int64_t>> accepted_ ABSL_GUARDED_BY(mu_);  // OK uploads.
  std::map<int, int> outcomes_ ABSL_GUARDED_BY(mu_);  // gRPC code -> count.
};

std::vector<float> Head(coordinator::PostgresStore& store, const coordinator::VersionRow& v) {
  v1::Model m;
  EXPECT_TRUE(m.ParseFromString(*store.ReadBlob(v)));
  return *HeadParams(m);
}

TEST_F(ReplicaFailoverTest, KillingTheLeaderLosesNothingAndCountsNothingTwice) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  const std::string target = absl::StrCat("ipv4:127.0.0.1:", ports_[0], ",127.0.0.1:", ports_[1],
                                          ",127.0.0.1:", ports_[2]);
  auto stub = v1::Federation::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  std::vector<std::thread> fleet;
  for (int i = 0; i < kDevices; ++i) fleet.emplace_back([this, i, &stub] { Device(i, *stub); });

  constexpr char kNewest[] = "SELECT COALESCE(MAX(version), 0) FROM versions WHERE task = $1";
  std::vector<double> takeover_s;
  for (int k = 0; k < Kills(); ++k) {
    // Kill a leader that is working: it committed since the last takeover.
    const int64_t before = Query(kNewest);
    for (int i = 0; i < 2000 && Query(kNewest) <= before; ++i) absl::SleepFor(absl::Milliseconds(5));
    ASSERT_GT(Query(kNewest), before) << "no commit before kill " << k;
    absl::StatusOr<PgResult> who =
        db_->Exec("SELECT leader, epoch FROM replica_leases WHERE task = $1", PgParams().Add("fl"));
    ASSERT_TRUE(who.ok() && who->rows() == 1);
    const int victim = who->Bytes(0, 0).back() - '0';
    const int64_t epoch = who->Int(0, 1);
    const int64_t newest = Query(kNewest);
    const absl::Time t0 = absl::Now();
    procs_[victim]->Signal(SIGKILL);
    procs_[victim]->Wait();
    // The next commit made after the kill (committed_ms past it), by another replica.
    const std::string after = absl::StrCat(
        "SELECT COUNT(*) FROM versions WHERE task = $1 AND version > ", newest,
        " AND committed_ms >= ", absl::ToUnixMillis(t0));
    bool dumped = false;
    while (Query(after) == 0 && absl::Now() - t0 < absl::Seconds(30)) {
      absl::SleepFor(absl::Milliseconds(5));
      if (!dumped && absl::Now() - t0 > absl::Seconds(2)) {
        dumped = true;  // Slow: say what the sessions are waiting for.
        DumpActivity();
      }
    }
    const absl::Duration took = absl::Now() - t0;
    ASSERT_GT(Query(after), 0) << "no commit within 30 s of kill " << k;
    EXPECT_LT(took, absl::Seconds(10)) << "kill " << k;
    EXPECT_GT(Query("SELECT epoch FROM replica_leases WHERE task = $1"), epoch);
    takeover_s.push_back(absl::ToDoubleSeconds(took));
    Spawn(victim);  // Same port: the balancer finds it again.
  }
  stop_.store(true);
  for (std::thread& t : fleet) t.join();
  for (auto& p : procs_) p->Signal(SIGTERM);
  for (auto& p : procs_) p->Wait();

  // Versions are contiguous, each the child of the one before.
  auto store = *coordinator::PostgresStore::Open(conninfo_);
  const std::vector<coordinator::VersionRow> versions = *store->Versions("fl");
  ASSERT_GE(versions.size(), static_cast<size_t>(Kills() + 1));
  for (size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i].version, static_cast<int64_t>(i));
    if (i > 0) EXPECT_EQ(versions[i].parent_version, static_cast<int64_t>(i - 1));
  }
  // Each committed round counts exactly the uploads marked used for it, and
  // its model is the FedAvg (sgd, lr 1) of exactly those deltas.
  std::map<int64_t, int> used_per_round;
  std::map<int64_t, std::vector<std::string>> used_tokens;
  {
    absl::StatusOr<PgResult> used = db_->Exec(
        "SELECT round, token_hash FROM replica_admissions WHERE task = $1 AND used",
        PgParams().Add("fl"));
    ASSERT_TRUE(used.ok());
    for (int i = 0; i < used->rows(); ++i) {
      ++used_per_round[used->Int(i, 0)];
      used_tokens[used->Int(i, 0)].push_back(used->Bytes(i, 1));
    }
  }
  int64_t counted = 0;
  double worst = 0;
  absl::MutexLock lock(&mu_);
  for (size_t i = 1; i < versions.size(); ++i) {
    const coordinator::VersionRow& v = versions[i];
    EXPECT_EQ(v.participants, used_per_round[v.round]) << "round " << v.round;
    counted += v.participants;
    const std::vector<float> h0 = Head(*store, versions[i - 1]), h1 = Head(*store, v);
    std::vector<double> mean(kDim, 0.0);
    double weight = 0;
    for (const std::string& token : used_tokens[v.round]) {
      ASSERT_TRUE(sent_.count(token)) << "an upload nobody sent was counted";
      const Sent& s = sent_.at(token);
      weight += static_cast<double>(s.examples);
      for (int j = 0; j < kDim; ++j) mean[j] += static_cast<double>(s.examples) * s.delta[j];
    }
    for (int j = 0; j < kDim; ++j) {
      const double expect = h0[j] + mean[j] / weight;
      worst = std::max(worst, std::abs(expect - h1[j]));
      ASSERT_NEAR(h1[j], expect, 1e-5) << "version " << v.version << " parameter " << j;
    }
  }
  const std::vector<coordinator::RoundRow> rounds = *store->Rounds("fl", 0);
  int committed_rounds = 0;
  for (const coordinator::RoundRow& r : rounds) {
    v1::RoundInfo info;
    ASSERT_TRUE(info.ParseFromString(r.info) || r.info.empty());
    if (r.state == coordinator::RoundState::kCommitted) {
      ++committed_rounds;
      EXPECT_EQ(info.reported(), used_per_round[r.round]) << "round " << r.round;
    }
  }
  EXPECT_EQ(committed_rounds, static_cast<int>(versions.size()) - 1);
  // Every upload a device was told was accepted is counted in a committed
  // round, or in the round still open at the end.
  const int64_t last_open = rounds.empty() ? 0 : rounds.front().round;
  std::map<int64_t, coordinator::RoundState> state;
  for (const coordinator::RoundRow& r : rounds) state[r.round] = r.state;
  for (const auto& [token, round] : accepted_) {
    EXPECT_TRUE(state[round] == coordinator::RoundState::kCommitted || round == last_open)
        << "accepted upload of round " << round << " lost";
  }
  std::vector<std::string> each;
  for (double t : takeover_s) each.push_back(absl::StrFormat("%.3f", t));
  std::printf("takeover per kill (s): %s\n", absl::StrJoin(each, " ").c_str());
  std::sort(takeover_s.begin(), takeover_s.end());
  std::vector<std::string> codes;
  for (const auto& [code, n] : outcomes_) codes.push_back(absl::StrCat(code, ":", n));
  std::printf(
      "replica failover: %d kills of the leader, takeover (kill -> next commit) min %.3f s, "
      "median %.3f s, max %.3f s; %zu versions, %lld uploads counted, %zu accepted acks; "
      "upload outcomes (grpc code:count) %s; max |model - recomputation| %.2e\n",
      Kills(), takeover_s.front(), takeover_s[takeover_s.size() / 2], takeover_s.back(),
      versions.size(), static_cast<long long>(counted), accepted_.size(),
      absl::StrJoin(codes, " ").c_str(), worst);
}

}  // namespace
}  // namespace fedtiny
