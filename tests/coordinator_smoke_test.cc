// The walking skeleton end to end: the real coordinator binary, started on
// 127.0.0.1 port 0, called over a real socket by a real gRPC client.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "proto/federation.grpc.pb.h"
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

}  // namespace
}  // namespace fedtiny
