// The walking skeleton end to end: the real coordinator binary, started on
// 127.0.0.1 port 0, called over a real socket by a real gRPC client.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "gtest/gtest.h"
#include "proto/federation.grpc.pb.h"
#include "proto/model.pb.h"
#include "proto/health.grpc.pb.h"
#include "tests/child_process.h"

namespace fedtiny {
namespace {

using ::fedtiny::testing::ChildProcess;

class CoordinatorSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ChildProcess> child =
        ChildProcess::Spawn({"coordinator/coordinator", "--port=0", "--data_dir=" + std::string(std::getenv("TEST_TMPDIR")) + "/smoke"});
    ASSERT_TRUE(child.ok()) << child.status();
    data_dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/smoke";
    child_ = std::make_unique<ChildProcess>(*std::move(child));
    absl::StatusOr<std::string> line = child_->ReadLine(absl::Seconds(30));
    ASSERT_TRUE(line.ok()) << line.status();
    ASSERT_TRUE(absl::StartsWith(*line, "listening on 127.0.0.1:")) << *line;
    address_ = line->substr(std::string("listening on ").size());
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(address_.substr(address_.find(':') + 1), &port));
    ASSERT_GT(port, 0);
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
  }

  std::unique_ptr<ChildProcess> child_;
  std::string data_dir_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CoordinatorSmokeTest, CheckInGetsRetryWindow) {
  auto stub = fedtiny::v1::Federation::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  fedtiny::v1::CheckInRequest req;
  req.set_device_id("phone-1");
  req.set_device_secret("phone-1-secret-0123456789");
  req.mutable_state()->set_charging(true);
  req.mutable_state()->set_battery_percent(90);
  fedtiny::v1::CheckInResponse resp;
  grpc::Status s = stub->CheckIn(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(resp.has_retry());
  EXPECT_GT(resp.retry().earliest_ms(), 0);
  EXPECT_GE(resp.retry().latest_ms(), resp.retry().earliest_ms());
}

TEST_F(CoordinatorSmokeTest, MalformedCheckInIsInvalidArgument) {
  auto stub = fedtiny::v1::Federation::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  fedtiny::v1::CheckInRequest req;  // No device id.
  fedtiny::v1::CheckInResponse resp;
  grpc::Status s = stub->CheckIn(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(s.error_message(), "device_id"));
}

TEST_F(CoordinatorSmokeTest, HealthServiceServes) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest req;  // "" = the whole server.
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// Runs a shell command; returns its exit code and what it printed (both streams).
std::pair<int, std::string> RunShell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (p != nullptr && std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = p == nullptr ? -1 : pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(CoordinatorSmokeTest, ASecondCoordinatorOnTheSameDirectoryExitsClearly) {
  auto [code, out] = RunShell("coordinator/coordinator --port=0 --data_dir=" + data_dir_);
  EXPECT_EQ(code, 1);
  EXPECT_TRUE(absl::StrContains(out, "in use by another coordinator")) << out;
}

TEST_F(CoordinatorSmokeTest, OperatorTokenFileIsPrivate) {
  struct stat st;
  ASSERT_EQ(stat((data_dir_ + "/admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(CoordinatorSmokeTest, FlctlUsesTlsUnlessToldOtherwise) {
  const std::string flctl =
      "coordinator/flctl --deadline_s=5 --token_file=" + data_dir_ + "/admin.token ";
  // This coordinator speaks plaintext: the default (TLS) handshake fails.
  auto [tls_code, tls_out] = RunShell(flctl + "--server=" + address_ + " tasks");
  EXPECT_EQ(tls_code, 1) << tls_out;
  auto [ok_code, ok_out] = RunShell(flctl + "--insecure --server=" + address_ + " tasks");
  EXPECT_EQ(ok_code, 0) << ok_out;
  EXPECT_TRUE(absl::StrContains(ok_out, "TASK")) << ok_out;
  // Plaintext to anything but loopback: refused before any connection is made
  // (192.0.2.1 is a documentation address; nothing is ever sent to it).
  auto [far_code, far_out] = RunShell(flctl + "--insecure --server=192.0.2.1:1 tasks");
  EXPECT_EQ(far_code, 1);
  EXPECT_TRUE(absl::StrContains(far_out, "refusing to send the operator token in plaintext"))
      << far_out;
}

TEST_F(CoordinatorSmokeTest, SigtermStopsCleanly) {
  child_->Signal(SIGTERM);
  const int status = child_->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(CoordinatorSmokeTest, HelpListsEveryBinarysFlags) {
  auto [c_code, c_out] = RunShell("coordinator/coordinator --help");
  EXPECT_TRUE(absl::StrContains(c_out, "--data_dir")) << c_out;
  EXPECT_FALSE(absl::StrContains(c_out, "No flags matched")) << c_out;
  auto [f_code, f_out] = RunShell("coordinator/flctl --help");
  EXPECT_TRUE(absl::StrContains(f_out, "--json")) << f_out;
  EXPECT_TRUE(absl::StrContains(f_out, "--with_weights")) << f_out;
}

// flctl --json as a script reads it: one parseable object per line, zeros
// present, numbers as numbers, lower-case states, no weights unless asked; and
// `rounds --watch --json` ends on SIGTERM with whole lines and exit code 0.
TEST_F(CoordinatorSmokeTest, FlctlJsonScriptsWell) {
  const std::string tmp = std::getenv("TEST_TMPDIR");
  const std::string flctl = "coordinator/flctl --deadline_s=5 --insecure --server=" + address_ +
                            " --token_file=" + data_dir_ + "/admin.token ";
  {
    std::FILE* f = std::fopen((tmp + "/task.textproto").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("name: \"json\"\npopulation: \"phones\"\nclients_per_round: 2\n", f);
    std::fclose(f);
  }
  auto [m_code, m_out] =
      RunShell(flctl + "model init --widths=8,6,4 --body_layers=1 --out=" + tmp + "/m.pb");
  ASSERT_EQ(m_code, 0) << m_out;
  auto [t_code, t_out] = RunShell(flctl + "task create --config=" + tmp + "/task.textproto --model=" +
                                  tmp + "/m.pb");
  ASSERT_EQ(t_code, 0) << t_out;
  auto [j_code, j_out] = RunShell(flctl + "--json tasks");
  ASSERT_EQ(j_code, 0) << j_out;
  const nlohmann::json task = nlohmann::json::parse(j_out.substr(0, j_out.find('\n')));
  EXPECT_EQ(task.at("state"), "running");
  EXPECT_TRUE(task.at("committed_rounds").is_number_integer());
  EXPECT_EQ(task.at("committed_rounds").get<int>(), 0);
  EXPECT_TRUE(task.at("config").at("rounds").is_number_integer());
  EXPECT_FALSE(absl::StrContains(j_out, "\"values\"")) << "weights printed without --with-weights";
  auto [w_code, w_out] = RunShell(flctl + "--json --with_weights tasks");
  EXPECT_TRUE(absl::StrContains(w_out, "\"values\"")) << w_out;

  // models get: the version-0 model as a file, byte for byte the stored blob.
  auto [g_code, g_out] = RunShell(flctl + "--json models get --task=json --model_version=0 --out=" +
                                  tmp + "/v0.pb");
  ASSERT_EQ(g_code, 0) << g_out;
  const nlohmann::json got = nlohmann::json::parse(g_out.substr(0, g_out.find('\n')));
  EXPECT_EQ(got.at("version").get<int64_t>(), 0);
  std::ifstream in(tmp + "/v0.pb", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fedtiny::v1::Model model;
  ASSERT_TRUE(model.ParseFromString(bytes));
  EXPECT_EQ(model.head_size(), 1);  // widths 8,6,4 with one body layer: head 6 -> 4.
  auto [n_code, n_out] =
      RunShell(flctl + "models get --task=json --model_version=7 --out=" + tmp + "/v7.pb");
  EXPECT_EQ(n_code, 1) << n_out;
  EXPECT_TRUE(absl::StrContains(n_out, "no version 7")) << n_out;

  absl::StatusOr<ChildProcess> watch = ChildProcess::Spawn(
      {"coordinator/flctl", "--insecure", "--server=" + address_,
       "--token_file=" + data_dir_ + "/admin.token", "--json", "rounds", "--watch"});
  ASSERT_TRUE(watch.ok()) << watch.status();
  absl::SleepFor(absl::Milliseconds(300));  // The stream is open.
  auto stub = fedtiny::v1::Federation::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  fedtiny::v1::CheckInRequest req;
  req.set_device_id("phone-json");
  req.set_population("phones");
  req.set_device_secret("phone-json-secret-0123456789");
  req.mutable_capabilities()->set_has_fpu(true);
  req.mutable_state()->set_charging(true);
  req.mutable_state()->set_idle(true);
  req.mutable_state()->set_unmetered_network(true);
  req.mutable_state()->set_battery_percent(90);
  fedtiny::v1::CheckInResponse resp;
  ASSERT_TRUE(stub->CheckIn(&ctx, req, &resp).ok());
  ASSERT_TRUE(resp.has_assignment());
  absl::StatusOr<std::string> line = watch->ReadLine(absl::Seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  const nlohmann::json event = nlohmann::json::parse(*line);
  EXPECT_EQ(event.at("state"), "open");
  EXPECT_EQ(event.at("round").get<int64_t>(), 1);
  EXPECT_EQ(event.at("reported").get<int>(), 0);
  watch->Signal(SIGTERM);
  const int status = watch->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace fedtiny
