// Kills the real coordinator process with SIGKILL at random moments while real
// participants complete rounds over gRPC, restarts it on the same data
// directory, and checks after every restart that no committed model version was
// lost, duplicated or corrupted (the server re-verifies every blob's SHA-256 as
// it loads). FEDTINY_CRASH_ITERATIONS sets the number of kills (default 5; the
// manual crash_soak_test runs 100).
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "client/core/eligibility.h"
#include "client/transport/model_proto.h"
#include "client/transport/participant.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tests/child_process.h"
#include "tools/base/atomic_file.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::ChildProcess;

constexpr char kToken[] = "crash-test-operator-token";

class Coordinator {
 public:
  explicit Coordinator(const std::string& dir) {
    const std::string token_file = dir + "-token";
    EXPECT_TRUE(WriteFileAtomically(token_file, kToken).ok());
    auto child = ChildProcess::Spawn({"coordinator/coordinator", "--port=0", "--data_dir=" + dir,
                                      "--admin_token_file=" + token_file});
    EXPECT_TRUE(child.ok());
    child_ = std::make_unique<ChildProcess>(*std::move(child));
    absl::StatusOr<std::string> line = child_->ReadLine(absl::Seconds(30));
    EXPECT_TRUE(line.ok() && absl::StartsWith(*line, "listening on ")) << line.status();
    address_ = line.ok() ? line->substr(13) : "";
    admin_ = v1::Admin::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }
  void Kill() {
    child_->Signal(SIGKILL);
    child_->Wait();
  }
  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", std::string("Bearer ") + kToken);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }
  const std::string& address() const { return address_; }
  v1::Admin::Stub& admin() { return *admin_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string address_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

v1::TaskConfig Task() {
  v1::TaskConfig c;
  c.set_name("crash");
  c.set_population("crash");
  client::Head all = client::MakeHead({8, 8, 4}, 1);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  *c.mutable_model() = ModelToProto(client::Body({all.layers[0]}), head);
  c.mutable_plan()->set_batch_size(4);
  c.set_rounds(100000);
  c.set_clients_per_round(2);
  c.set_over_selection(1.0);
  c.set_min_reports(2);
  c.set_round_deadline_ms(1000);
  c.mutable_eligibility()->set_min_battery_percent(0);
  return c;
}

// version -> sha256 of cluster 0, as the Admin API lists them.
std::map<int64_t, std::string> Versions(Coordinator& c) {
  v1::ListModelsRequest req;
  req.set_task("crash");
  v1::ListModelsResponse r;
  grpc::Status s = c.admin().ListModels(c.Ctx().get(), req, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  std::map<int64_t, std::string> out;
  for (const v1::ModelVersion& m : r.versions()) {
    EXPECT_EQ(out.count(m.version()), 0u) << "version " << m.version() << " listed twice";
    EXPECT_EQ(m.parent_version(), m.version() == 0 ? 0 : m.version() - 1);
    out[m.version()] = m.sha256();
  }
  return out;
}

TEST(CrashTest, SigkillNeverLosesDuplicatesOrCorruptsCommittedVersions) {
  const char* env = std::getenv("FEDTINY_CRASH_ITERATIONS");
  const int iterations = env != nullptr ? std::atoi(env) : 5;
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/crash-data";
  std::mt19937 rng(12345);
  client::SettableDeviceState plugged(client::DeviceStatus{true, true, true, 90, false});
  client::RowMatrixXf x(16, 8);
  std::vector<int32_t> y(16);
  for (int i = 0; i < 16; ++i) {
    y[i] = i % 4;
    for (int j = 0; j < 8; ++j) x(i, j) = static_cast<float>((i * 7 + j * 3) % 5) - 2.f;
  }
  std::map<int64_t, std::string> committed;  // Everything ever observed committed.
  int created = 0;
  for (int it = 0; it <= iterations; ++it) {
    Coordinator c(dir);
    if (created == 0) {
      v1::CreateTaskRequest req;
      *req.mutable_config() = Task();
      v1::TaskInfo info;
      ASSERT_TRUE(c.admin().CreateTask(c.Ctx().get(), req, &info).ok());
      created = 1;
    }
    // After every restart: all that was seen committed is still there, the same.
    std::map<int64_t, std::string> now = Versions(c);
    for (const auto& [v, sha] : committed) {
      ASSERT_TRUE(now.count(v)) << "version " << v << " lost after kill " << it;
      EXPECT_EQ(now[v], sha) << "version " << v << " changed after kill " << it;
    }
    int64_t expect = 0;
    for (const auto& [v, sha] : now) EXPECT_EQ(v, expect++) << "versions not contiguous";
    committed = now;
    if (it == iterations) break;
    // Participants hammer the server until it is killed at a random moment.
    std::atomic<bool> stop{false};
    std::vector<std::thread> devices;
    for (int d = 0; d < 4; ++d) {
      devices.emplace_back([&, d] {
        client::SessionOptions s;
        s.address = c.address();
        s.insecure = true;
        s.attempts = 1;
        s.call_deadline = absl::Seconds(2);
        client::DeviceProfile p{"dev-" + std::to_string(d) + "-" + std::to_string(it), "crash"};
        client::Participant device(p, s, &plugged,
                                   dir + "-ckpt-" + std::to_string(d) + "-" + std::to_string(it));
        while (!stop) {
          client::RoundResult r = device.RunOnce(x, y);
          if (r.kind == client::RoundResult::Kind::kRetry) absl::SleepFor(absl::Milliseconds(5));
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(200 + rng() % 800));
    c.Kill();
    stop = true;
    for (std::thread& t : devices) t.join();
  }
  EXPECT_GT(committed.size(), 3u) << "rounds should have committed between kills";
}

}  // namespace
}  // namespace fedtiny
