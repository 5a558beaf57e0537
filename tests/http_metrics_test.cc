// The coordinator's HTTP port over real sockets on 127.0.0.1: /metrics moves by
// exactly what real gRPC check-ins and uploads did, /healthz and gRPC health
// say NOT_SERVING while the store loads and while the data directory takes no
// writes, and SERVING otherwise.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/core/eligibility.h"
#include "client/transport/model_proto.h"
#include "client/transport/participant.h"
#include "coordinator/clock.h"
#include "coordinator/server.h"
#include "gtest/gtest.h"
#include "tests/e2e_data.h"
#include "tests/small_model.h"
#include "proto/admin.grpc.pb.h"
#include "proto/federation.grpc.pb.h"
#include "proto/health.grpc.pb.h"
// Last: its system headers define macros that break Eigen's (client/).
#include <httplib.h>

namespace fedtiny {
namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr char kToken[] = "operator-secret-0123456789";

using testing::SmallTask;

std::string TmpDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

// Parses the text exposition into "name{labels}" -> value, checking every
// sample line's shape and that each family has HELP and TYPE before its samples.
std::map<std::string, double> ParseExposition(const std::string& text) {
  std::map<std::string, double> out;
  std::map<std::string, int> headers;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ") || absl::ConsumePrefix(&line, "# TYPE ")) {
      ++headers[std::string(line.substr(0, line.find(' ')))];
      continue;
    }
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, absl::string_view::npos) << line;
    const std::string series(line.substr(0, space));
    double v = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &v)) << line;
    std::string family = series.substr(0, series.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!headers.count(family) && absl::EndsWith(family, suffix)) {
        family.resize(family.size() - std::strlen(suffix));
      }
    }
    EXPECT_EQ(headers[family], 2) << "no HELP/TYPE before " << series;
    EXPECT_EQ(out.count(series), 0u) << "duplicate " << series;
    out[series] = v;
  }
  return out;
}

class HttpMetricsTest : public ::testing::Test {
 protected:
  coordinator::Server::Options Options(const std::string& dir) {
    coordinator::Server::Options o;
    o.data_dir = TmpDir(dir);
    o.admin_token = kToken;
    o.clock = clock_;
    o.http_port = 0;
    o.tick = absl::Milliseconds(50);
    return o;
  }

  void Start(const coordinator::Server::Options& o) {
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    ASSERT_GT(server_->http_port(), 0);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  }

  httplib::Result Get(int http_port, const std::string& path) {
    httplib::Client http("127.0.0.1", http_port);
    http.set_read_timeout(5);
    return http.Get(path.c_str());
  }

  std::map<std::string, double> Scrape() {
    httplib::Result r = Get(server_->http_port(), "/metrics");
    EXPECT_TRUE(r) << "no answer from /metrics";
    if (!r) return {};
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return ParseExposition(r->body);
  }

  std::shared_ptr<coordinator::FakeClock> clock_ =
      std::make_shared<coordinator::FakeClock>(absl::FromUnixSeconds(1'800'000'000));
  std::unique_ptr<coordinator::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

HealthCheckResponse::ServingStatus Health(const std::string& address) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  HealthCheckResponse resp;
  grpc::Status s = stub->Check(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.status();
}

TEST_F(HttpMetricsTest, CountersMoveByWhatRealCallsDid) {
  Start(Options("metrics"));
  const std::map<std::string, double> before = Scrape();
  EXPECT_EQ(before.at("fedtiny_ready"), 1);
  EXPECT_EQ(before.count("fedtiny_uploads_accepted_total"), 0u);

  auto admin = v1::Admin::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  v1::CreateTaskRequest create;
  *create.mutable_config() = SmallTask("activity", 2, 3);
  v1::TaskInfo info;
  ASSERT_TRUE(admin->CreateTask(&ctx, create, &info).ok());

  // Two real devices complete round 1 (the goal closes it).
  client::SettableDeviceState plugged(client::DeviceStatus{true, true, true, 90, false});
  std::mt19937 rng(7);
  std::normal_distribution<float> g;
  client::RowMatrixXf x(40, 16);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = g(rng);
  std::vector<int32_t> y(40);
  for (int i = 0; i < 40; ++i) y[i] = i % 4;
  for (int d = 0; d < 2; ++d) {
    client::SessionOptions so;
    so.address = server_->address();
    so.insecure = true;
    so.seed = d + 1;
    client::DeviceProfile p{"device-" + std::to_string(d), "phones"};
    p.device_class = d == 0 ? "phone" : "watch";
    client::Participant device(p, so, &plugged, TmpDir("ckpt-" + std::to_string(d)));
    client::RoundResult r = device.RunOnce(x, y);
    ASSERT_EQ(r.kind, client::RoundResult::Kind::kUploaded) << r.why;
  }
  // One late upload (round 1 has closed) and one malformed check-in.
  auto federation = v1::Federation::NewStub(channel_);
  {
    grpc::ClientContext c;
    v1::UploadRequest up;
    up.set_task("activity");
    up.set_round(1);
    up.set_upload_token("0123456789abcdef0123456789abcdef");
    up.set_device_secret("secret-device-0-0123456789abcdef");
    v1::UploadResponse resp;
    EXPECT_EQ(federation->Upload(&c, up, &resp).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {
    grpc::ClientContext c;
    v1::CheckInRequest ci;  // No device id.
    v1::CheckInResponse resp;
    EXPECT_EQ(federation->CheckIn(&c, ci, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }

  // Round events reach the metrics through their own thread: wait for the commit.
  std::map<std::string, double> m;
  for (int i = 0; i < 100; ++i) {
    m = Scrape();
    if (m["fedtiny_rounds_committed_total{task=\"activity\"}"] == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(m["fedtiny_rounds_committed_total{task=\"activity\"}"], 1);
  EXPECT_EQ(m["fedtiny_rounds_opened_total{task=\"activity\"}"], 1);
  EXPECT_EQ(m["fedtiny_round_reports_total{task=\"activity\"}"], 2);
  // Every task's round counters are exported, zeros included.
  ASSERT_EQ(m.count("fedtiny_rounds_abandoned_total{task=\"activity\"}"), 1u);
  EXPECT_EQ(m["fedtiny_rounds_abandoned_total{task=\"activity\"}"], 0);
  EXPECT_EQ(m["fedtiny_checkins_total{outcome=\"assigned\"}"], 2);
  EXPECT_EQ(m["fedtiny_checkins_total{outcome=\"invalid_argument\"}"], 1);
  EXPECT_EQ(m["fedtiny_assignments_total{task=\"activity\",variant=\"float32\"}"], 2);
  EXPECT_EQ(m["fedtiny_uploads_accepted_total"], 2);
  EXPECT_EQ(m["fedtiny_uploads_rejected_total{reason=\"late\"}"], 1);
  EXPECT_EQ(m["fedtiny_rpcs_total{method=\"Upload\",code=\"OK\"}"], 2);
  EXPECT_EQ(m["fedtiny_rpcs_total{method=\"Upload\",code=\"DEADLINE_EXCEEDED\"}"], 1);
  EXPECT_EQ(m["fedtiny_rpcs_total{method=\"CheckIn\",code=\"OK\"}"], 2);
  EXPECT_EQ(m["fedtiny_rpc_duration_seconds_count{method=\"CheckIn\"}"], 3);
  EXPECT_EQ(m["fedtiny_rpc_duration_seconds_bucket{method=\"Upload\",le=\"+Inf\"}"], 3);
  EXPECT_GE(m["fedtiny_rpc_duration_seconds_count{method=\"Download\"}"], 2);
  // Each upload carries the head's delta: 12*8+8 + 8*4+4 floats.
  EXPECT_GT(m["fedtiny_rpc_received_bytes_total{method=\"Upload\"}"], 2 * 140 * 4);
  EXPECT_GT(m["fedtiny_rpc_sent_bytes_total{method=\"Download\"}"], 0);
  EXPECT_EQ(m["fedtiny_model_versions{task=\"activity\"}"], 2);  // Version 0 and round 1.
  EXPECT_GT(m["fedtiny_model_bytes{task=\"activity\"}"], 0);
  EXPECT_GT(m["fedtiny_data_dir_bytes"], m["fedtiny_model_bytes{task=\"activity\"}"]);
  EXPECT_EQ(m["fedtiny_tasks{state=\"running\"}"], 1);
  double phones = 0, watches = 0;
  for (const auto& [series, v] : m) {
    if (!absl::StartsWith(series, "fedtiny_fleet_devices{task=\"activity\"")) continue;
    if (absl::StrContains(series, "device_class=\"phone\"")) phones += v;
    if (absl::StrContains(series, "device_class=\"watch\"")) watches += v;
  }
  EXPECT_EQ(phones, 1);
  EXPECT_EQ(watches, 1);
}

TEST_F(HttpMetricsTest, NotServingWhileLoadingThenServing) {
  coordinator::Server::Options o = Options("loading");
  bool observed = false;
  o.loading_hook = [&](int port, int http_port) {
    const std::string address = "127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(Health(address), HealthCheckResponse::NOT_SERVING);
    httplib::Result h = Get(http_port, "/healthz");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 503);
    EXPECT_EQ(h->body, "not ready: store is loading\n");
    httplib::Result m = Get(http_port, "/metrics");
    ASSERT_TRUE(m);
    EXPECT_TRUE(absl::StrContains(m->body, "\nfedtiny_ready 0\n"));
    auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    grpc::ClientContext c1, c2;
    v1::CheckInResponse ci;
    grpc::Status s = v1::Federation::NewStub(channel)->CheckIn(&c1, v1::CheckInRequest(), &ci);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(s.error_message(), "coordinator is loading");
    v1::ListTasksResponse tasks;
    c2.AddMetadata("authorization", std::string("Bearer ") + kToken);
    s = v1::Admin::NewStub(channel)->ListTasks(&c2, v1::ListTasksRequest(), &tasks);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    observed = true;
  };
  Start(o);
  EXPECT_TRUE(observed);
  EXPECT_EQ(Health(server_->address()), HealthCheckResponse::SERVING);
  httplib::Result h = Get(server_->http_port(), "/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok\n");
}

// Works as root too: the probe file's path is taken by a directory, so creating
// the probe fails whatever the permissions.
TEST_F(HttpMetricsTest, NotServingWhileTheDataDirectoryTakesNoWrites) {
  coordinator::Server::Options o = Options("unwritable");
  Start(o);
  ASSERT_EQ(Health(server_->address()), HealthCheckResponse::SERVING);
  const std::string probe = o.data_dir + "/.writable-probe";
  ASSERT_EQ(mkdir(probe.c_str(), 0755), 0);
  auto wait_for = [&](int code) {
    for (int i = 0; i < 100; ++i) {
      httplib::Result h = Get(server_->http_port(), "/healthz");
      if (i == 99 || (h && h->status == code)) return h;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Get(server_->http_port(), "/healthz");
  };
  httplib::Result h = wait_for(503);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503);
  EXPECT_TRUE(absl::StrContains(h->body, "data directory not writable")) << h->body;
  EXPECT_EQ(Health(server_->address()), HealthCheckResponse::NOT_SERVING);
  ASSERT_EQ(rmdir(probe.c_str()), 0);
  h = wait_for(200);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(Health(server_->address()), HealthCheckResponse::SERVING);
}

TEST_F(HttpMetricsTest, ServesHttpsWithTheGrpcCertificate) {
  const std::string certs = std::string(std::getenv("TEST_SRCDIR")) + "/" +
                            std::getenv("TEST_WORKSPACE") + "/tests/certs/";
  coordinator::Server::Options o = Options("https");
  o.tls_cert_file = certs + "server.pem";
  o.tls_key_file = certs + "server.key";
  absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
  ASSERT_TRUE(s.ok()) << s.status();
  httplib::SSLClient https("127.0.0.1", s->http_port());
  https.set_ca_cert_path((certs + "ca.pem").c_str());
  https.enable_server_certificate_verification(true);
  httplib::Result h = https.Get("/healthz");
  ASSERT_TRUE(h) << httplib::to_string(h.error());
  EXPECT_EQ(h->status, 200);
  httplib::Client plain("127.0.0.1", s->http_port());
  plain.set_read_timeout(2);
  httplib::Result p = plain.Get("/healthz");
  EXPECT_FALSE(p && p->status == 200);  // Plain HTTP gets no answer from HTTPS.
}

}  // namespace
}  // namespace fedtiny
