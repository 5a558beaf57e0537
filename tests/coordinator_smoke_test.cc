// The walking skeleton end to end: the real coordinator binary, started on
// 127.0.0.1 port 0, called over a real socket by a real gRPC client.
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
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CoordinatorSmokeTest, CheckInGetsRetryWindow) {
  auto stub = fedtiny::v1::Federation::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  fedtiny::v1::CheckInRequest req;
  req.set_device_id("phone-1");
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

TEST_F(CoordinatorSmokeTest, SigtermStopsCleanly) {
  child_->Signal(SIGTERM);
  const int status = child_->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace fedtiny
