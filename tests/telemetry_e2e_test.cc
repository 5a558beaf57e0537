// Fleet telemetry over real gRPC on 127.0.0.1 (issue #15): a task with a
// telemetry spec, anonymous k-RR reports uploaded through a real channel
// (encoded here from the proto's formula), then the Admin view, the real
// flctl binary and /metrics show drift for the class whose devices drifted
// and not for the other; counts survive a restart; malformed reports and a
// flooding peer are refused.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "coordinator/clock.h"
#include "coordinator/server.h"
#include "coordinator/telemetry/krr_encoder_for_test.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/admin.grpc.pb.h"
#include "proto/telemetry.grpc.pb.h"
#include "tests/small_model.h"
#include "tools/base/atomic_file.h"
// Last: its system headers define macros that break Eigen's (client/).
#include <httplib.h>

namespace fedtiny {
namespace {

namespace tm = fedtiny::telemetry;

constexpr char kToken[] = "operator-secret-0123456789";
constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kWindow = kNow - kNow % 86400;
const std::vector<double> kReference = {0.5, 0.3, 0.15, 0.05};

std::string TmpDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

v1::TaskConfig Task(const std::string& name, bool with_spec) {
  v1::TaskConfig c;
  c.set_name(name);
  c.set_population("phones");
  *c.mutable_model() = testing::SmallModel();
  c.set_rounds(1);
  c.set_clients_per_round(1);
  c.set_min_reports(1);
  c.set_round_deadline_ms(60'000);
  if (!with_spec) return c;
  tm::TelemetrySpec* s = c.mutable_telemetry();
  s->set_version(1);
  tm::TelemetryProbe* cls = s->add_probes();
  cls->set_name("predicted_class");
  cls->set_kind(tm::PREDICTED_CLASS);
  cls->mutable_binning()->set_categories(4);
  for (double r : kReference) cls->add_reference(r);
  cls->set_epsilon(2);
  tm::TelemetryProbe* lat = s->add_probes();
  lat->set_name("latency_us");
  lat->set_kind(tm::INFERENCE_LATENCY_US);
  for (double e : {0.0, 1000.0, 2000.0, 4000.0, 8000.0})
    lat->mutable_binning()->add_edges(e);
  lat->set_epsilon(1);
  return c;
}

tm::TelemetryReport Report(const std::string& device_class, int class_bin,
                           int latency_bin,
                           coordinator::telemetry::TestKrrEncoder& enc) {
  tm::TelemetryReport r;
  r.set_task("vision");
  r.set_model_version(0);
  r.set_variant("int8");
  r.set_device_class(device_class);
  r.set_spec_version(1);
  r.set_window_start_unix_s(kWindow);
  r.set_consent_version("consent-1");
  tm::ReportedBin* v = r.add_values();
  v->set_probe("predicted_class");
  v->set_bin(enc.Encode(class_bin, 4, 2));
  v->set_epsilon(2);
  v = r.add_values();
  v->set_probe("latency_us");
  v->set_bin(enc.Encode(latency_bin, 4, 1));
  v->set_epsilon(1);
  return r;
}

std::pair<int, std::string> RunShell(const std::string& command) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  while (p != nullptr && std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
  const int status = p == nullptr ? -1 : pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class TelemetryE2eTest : public ::testing::Test {
 protected:
  coordinator::Server::Options Options(const std::string& dir) {
    coordinator::Server::Options o;
    o.data_dir = TmpDir(dir);
    o.admin_token = kToken;
    o.clock = clock_;
    o.http_port = 0;
    o.telemetry_burst = 100000;
    return o;
  }
  void Start(const coordinator::Server::Options& o) {
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
    channel_ = grpc::CreateChannel(server_->address(),
                                   grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
    telemetry_ = tm::Telemetry::NewStub(channel_);
  }
  void CreateTask(const v1::TaskConfig& config) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::CreateTaskRequest req;
    *req.mutable_config() = config;
    v1::TaskInfo info;
    grpc::Status s = admin_->CreateTask(&ctx, req, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::Status Upload(const tm::TelemetryReport& report) {
    grpc::ClientContext ctx;
    tm::UploadRequest req;
    *req.mutable_report() = report;
    tm::UploadResponse resp;
    return telemetry_->Upload(&ctx, req, &resp);
  }
  grpc::Status View(v1::TelemetryViewResponse* out, bool with_token = true) {
    grpc::ClientContext ctx;
    if (with_token)
      ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::TelemetryViewRequest req;
    req.set_task("vision");
    return admin_->FleetTelemetry(&ctx, req, out);
  }

  std::shared_ptr<coordinator::FakeClock> clock_ =
      std::make_shared<coordinator::FakeClock>(absl::FromUnixSeconds(kNow));
  std::unique_ptr<coordinator::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<tm::Telemetry::Stub> telemetry_;
};

// 600 devices per class; on "m7", 20% predict the rare class 3 (the rest as
// the reference), and all are slower.
void UploadFleet(
    TelemetryE2eTest* t,
    const std::function<grpc::Status(const tm::TelemetryReport&)>& upload) {
  coordinator::telemetry::TestKrrEncoder enc(2026);
  const std::vector<int> reference_devices = {300, 180, 90, 30};
  const std::vector<int> drifted_devices = {240, 144, 72, 144};
  for (const std::string device_class : {"m4", "m7"}) {
    const std::vector<int>& per_bin =
        device_class == "m4" ? reference_devices : drifted_devices;
    int device = 0;
    for (int bin = 0; bin < 4; ++bin) {
      for (int i = 0; i < per_bin[bin]; ++i, ++device) {
        const int latency = device_class == "m4" ? device % 2 : 2 + device % 2;
        grpc::Status s = upload(Report(device_class, bin, latency, enc));
        ASSERT_TRUE(s.ok()) << s.error_message();
      }
    }
  }
}

const v1::TelemetryGroup* Group(const v1::TelemetryViewResponse& v,
                                const std::string& cls) {
  for (const v1::TelemetryGroup& g : v.groups()) {
    if (g.device_class() == cls) return &g;
  }
  return nullptr;
}

TEST_F(TelemetryE2eTest, DriftedClassIsFlaggedEverywhereAndSurvivesARestart) {
  const coordinator::Server::Options options = Options("fleet");
  Start(options);
  CreateTask(Task("vision", true));
  CreateTask(Task("plain", false));

  {  // GetSpec: the validated spec (defaults filled), NOT_FOUND without one.
    grpc::ClientContext ctx;
    tm::GetSpecRequest req;
    req.set_task("vision");
    tm::GetSpecResponse resp;
    ASSERT_TRUE(telemetry_->GetSpec(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.spec().probes_size(), 2);
    EXPECT_EQ(resp.spec().window_s(), 86400);
    grpc::ClientContext ctx2;
    req.set_task("plain");
    EXPECT_EQ(telemetry_->GetSpec(&ctx2, req, &resp).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  UploadFleet(this, [this](const tm::TelemetryReport& r) { return Upload(r); });

  v1::TelemetryViewResponse view;
  EXPECT_EQ(View(&view, false).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(View(&view).ok());
  const v1::TelemetryGroup* m4 = Group(view, "m4");
  const v1::TelemetryGroup* m7 = Group(view, "m7");
  ASSERT_NE(m4, nullptr);
  ASSERT_NE(m7, nullptr);
  EXPECT_EQ(m4->reports(), 600);
  EXPECT_EQ(m4->alert(), "stable");
  EXPECT_EQ(m7->alert(), "drift") << view.DebugString();
  EXPECT_GT(m7->probes(0).psi(), 0.25);
  EXPECT_LT(m4->probes(0).psi(), 0.1);
  // Latency: m4's devices sit in [0, 2000), m7's in [2000, 8000).
  EXPECT_LT(m4->probes(1).p50(), 2000);
  EXPECT_GT(m7->probes(1).p50(), 2000);
  EXPECT_GE(m7->probes(1).p95(), m7->probes(1).p50());

  // The real flctl: drift table and --json.
  const std::string token_file = TmpDir("token");
  ASSERT_TRUE(WriteFileAtomically(token_file, kToken).ok());
  const std::string flctl =
      "coordinator/flctl --deadline_s=10 --insecure --server=" +
      server_->address() + " --token_file=" + token_file + " ";
  auto [code, out] = RunShell(flctl + "drift --task=vision");
  ASSERT_EQ(code, 0) << out;
  bool m4_stable = false, m7_drift = false;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<std::string> cols =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cols.size() < 8 || cols[2] != "predicted_class") continue;
    m4_stable |= cols[1] == "m4" && cols[7] == "stable";
    m7_drift |= cols[1] == "m7" && cols[7] == "drift";
  }
  EXPECT_TRUE(m4_stable && m7_drift) << out;
  auto [tcode, tout] = RunShell(flctl + "telemetry --task=vision");
  EXPECT_EQ(tcode, 0) << tout;
  EXPECT_TRUE(absl::StrContains(tout, "inference_latency_us")) << tout;
  auto [jcode, jout] = RunShell(flctl + "--json drift --task=vision");
  ASSERT_EQ(jcode, 0) << jout;
  std::map<std::string, std::string> alerts;
  for (absl::string_view line : absl::StrSplit(jout, '\n', absl::SkipEmpty())) {
    const nlohmann::json j = nlohmann::json::parse(line);
    alerts[j.at("device_class").get<std::string>()] =
        j.at("alert").get<std::string>();
  }
  EXPECT_EQ(alerts["m4"], "stable") << jout;
  EXPECT_EQ(alerts["m7"], "drift") << jout;

  // /metrics: the alert gauge (3 = drift) and PSI per probe.
  httplib::Client http("127.0.0.1", server_->http_port());
  http.set_read_timeout(5);
  httplib::Result r = http.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_TRUE(
      absl::StrContains(r->body,
                        "fedtiny_telemetry_alert{task=\"vision\",version=\"0\","
                        "class=\"m7\",probe=\"predicted_class\"} 3"))
      << r->body;
  EXPECT_TRUE(
      absl::StrContains(r->body,
                        "fedtiny_telemetry_alert{task=\"vision\",version=\"0\","
                        "class=\"m4\",probe=\"predicted_class\"} 1"));
  EXPECT_TRUE(absl::StrContains(r->body,
                                "fedtiny_telemetry_reports{task=\"vision\","
                                "version=\"0\",class=\"m7\"} 600"));
  // A drifted class is also a shift beyond noise; the clean one is not.
  EXPECT_TRUE(
      absl::StrContains(r->body,
                        "fedtiny_telemetry_shift{task=\"vision\",version=\"0\","
                        "class=\"m7\",probe=\"predicted_class\"} 1"))
      << r->body;
  EXPECT_TRUE(
      absl::StrContains(r->body,
                        "fedtiny_telemetry_shift{task=\"vision\",version=\"0\","
                        "class=\"m4\",probe=\"predicted_class\"} 0"));

  // A restart keeps every counted report.
  server_.reset();
  Start(options);
  v1::TelemetryViewResponse again;
  ASSERT_TRUE(View(&again).ok());
  ASSERT_EQ(again.groups_size(), 2);
  EXPECT_EQ(again.SerializeAsString(), view.SerializeAsString());

  // Deleting the task drops its counts: created again, it starts empty.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::DeleteTaskRequest del;
    del.set_task("vision");
    del.set_confirm("vision");
    v1::DeleteTaskResponse resp;
    ASSERT_TRUE(admin_->DeleteTask(&ctx, del, &resp).ok());
  }
  CreateTask(Task("vision", true));
  v1::TelemetryViewResponse fresh;
  ASSERT_TRUE(View(&fresh).ok());
  EXPECT_EQ(fresh.groups_size(), 0);
}

TEST_F(TelemetryE2eTest, MalformedReportsAreRefusedClearly) {
  Start(Options("malformed"));
  CreateTask(Task("vision", true));
  coordinator::telemetry::TestKrrEncoder enc(1);
  auto expect = [this](tm::TelemetryReport r, const std::string& words) {
    grpc::Status s = Upload(r);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << words;
    EXPECT_TRUE(absl::StrContains(s.error_message(), words))
        << s.error_message();
  };
  tm::TelemetryReport r = Report("m4", 0, 0, enc);
  r.set_task("nope");
  expect(r, "unknown task 'nope'");
  r = Report("m4", 0, 0, enc);
  r.mutable_values(0)->set_bin(4);
  expect(r, "bin 4 is not below k = 4");
  r = Report("m4", 0, 0, enc);
  r.set_window_start_unix_s(kWindow + 86400);
  expect(r, "in the future");
  r = Report("m4", 0, 0, enc);
  r.set_model_version(1);
  expect(r, "model_version 1");
  r = Report("m4", 0, 0, enc);
  r.mutable_values(1)->set_epsilon(2);
  expect(r, "epsilon 2 is not the spec's 1");
  r = Report("m4", 0, 0, enc);
  r.mutable_values(1)->set_probe("predicted_class");
  expect(r, "more than one value");
  // Bytes that are no report at all: gRPC's parse fails, the server lives on.
  grpc::GenericStub generic(channel_);
  grpc::ClientContext ctx;
  const std::string junk = "\xff\xff\xff\xff\x0f garbage";
  grpc::Slice slice(junk);
  grpc::ByteBuffer in(&slice, 1), out;
  grpc::Status junk_status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  generic.UnaryCall(&ctx, "/fedtiny.telemetry.Telemetry/Upload",
                    grpc::StubOptions(), &in, &out, [&](grpc::Status s) {
                      std::lock_guard<std::mutex> l(mu);
                      junk_status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> l(mu);
  cv.wait(l, [&] { return done; });
  EXPECT_FALSE(junk_status.ok());
  EXPECT_TRUE(Upload(Report("m4", 0, 0, enc)).ok());
  v1::TelemetryViewResponse view;
  ASSERT_TRUE(View(&view).ok());
  ASSERT_EQ(view.groups_size(), 1);
  EXPECT_EQ(view.groups(0).reports(), 1);
  EXPECT_EQ(view.groups(0).alert(), "insufficient_data");
}

TEST_F(TelemetryE2eTest, OnePeerIsRateLimited) {
  coordinator::Server::Options o = Options("flood");
  o.telemetry_burst = 3;
  o.telemetry_reports_per_minute = 1;
  Start(o);
  CreateTask(Task("vision", true));
  coordinator::telemetry::TestKrrEncoder enc(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Upload(Report("m4", 0, 0, enc)).ok());
  EXPECT_EQ(Upload(Report("m4", 0, 0, enc)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  clock_->Advance(absl::Minutes(1));
  EXPECT_TRUE(Upload(Report("m4", 0, 0, enc)).ok());
}

}  // namespace
}  // namespace fedtiny
