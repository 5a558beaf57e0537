// TLS on the coordinator: devices over TLS with the SDK's transport, plaintext
// refused, operators authenticated by a client certificate from the configured
// CA (no token needed) or by the token; a certificate from another CA is no key.
#include <cstdlib>
#include <string>

#include <grpcpp/grpcpp.h>

#include "client/core/eligibility.h"
#include "client/transport/model_proto.h"
#include "client/transport/participant.h"
#include "coordinator/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "tools/base/atomic_file.h"

namespace fedtiny {
namespace {

constexpr char kToken[] = "tls-test-operator-token";

std::string Cert(const std::string& name) {
  absl::StatusOr<std::string> s = ReadFile("tests/certs/" + name);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator::Server::Options o;
    o.data_dir = std::string(std::getenv("TEST_TMPDIR")) + "/tls";
    o.tls_cert_file = "tests/certs/server.pem";
    o.tls_key_file = "tests/certs/server.key";
    o.tls_client_ca_file = "tests/certs/ca.pem";
    o.admin_token = kToken;
    absl::StatusOr<coordinator::Server> s = coordinator::Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::make_unique<coordinator::Server>(*std::move(s));
  }

  std::unique_ptr<v1::Admin::Stub> Admin(const std::string& cert, const std::string& key) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Cert("ca.pem");
    if (!cert.empty()) {
      ssl.pem_cert_chain = Cert(cert);
      ssl.pem_private_key = Cert(key);
    }
    return v1::Admin::NewStub(grpc::CreateChannel(server_->address(), grpc::SslCredentials(ssl)));
  }

  grpc::Status ListTasks(v1::Admin::Stub& stub, const std::string& token) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    v1::ListTasksResponse r;
    return stub.ListTasks(&ctx, v1::ListTasksRequest(), &r);
  }

  std::unique_ptr<coordinator::Server> server_;
};

TEST_F(TlsTest, OperatorsByCertificateOrToken) {
  auto with_cert = Admin("operator.pem", "operator.key");
  EXPECT_TRUE(ListTasks(*with_cert, "").ok());
  auto no_cert = Admin("", "");
  EXPECT_EQ(ListTasks(*no_cert, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListTasks(*no_cert, kToken).ok());
  // A self-signed certificate the server's CA did not sign gets nowhere.
  auto rogue = Admin("rogue.pem", "rogue.key");
  EXPECT_FALSE(ListTasks(*rogue, "").ok());
}

// The audit log names who changed state: the certificate's subject over mutual
// TLS, the token's name otherwise; refused calls are recorded too.
TEST_F(TlsTest, TheAuditLogNamesTheCertificateOrTheToken) {
  auto with_cert = Admin("operator.pem", "operator.key");
  auto no_cert = Admin("", "");
  for (auto* stub : {with_cert.get(), no_cert.get()}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (stub == no_cert.get()) ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
    v1::SetTaskStateRequest req;
    req.set_task("nope");
    v1::TaskInfo info;
    EXPECT_EQ(stub->PauseTask(&ctx, req, &info).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListAuditResponse audit;
  ASSERT_TRUE(with_cert->ListAudit(&ctx, v1::ListAuditRequest(), &audit).ok());
  ASSERT_EQ(audit.entries_size(), 2);
  EXPECT_EQ(audit.entries(0).who(), "operator");  // The token, named by default.
  EXPECT_THAT(audit.entries(1).who(), ::testing::StartsWith("cert:"));
  EXPECT_THAT(audit.entries(1).who(), ::testing::HasSubstr("CN=operator"));
  for (const v1::AuditEntry& e : audit.entries()) {
    EXPECT_EQ(e.action(), "PauseTask");
    EXPECT_EQ(e.task(), "nope");
    EXPECT_THAT(e.outcome(), ::testing::HasSubstr("NOT_FOUND"));
  }
}

TEST_F(TlsTest, PlaintextIsRefusedAndDevicesWorkOverTls) {
  auto plain = v1::Admin::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(ListTasks(*plain, kToken).error_code(), grpc::StatusCode::UNAVAILABLE);

  v1::TaskConfig c;
  c.set_name("tls");
  c.set_population("tls");
  client::Head all = client::MakeHead({6, 5, 3}, 1);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  *c.mutable_model() = ModelToProto(client::Body({all.layers[0]}), head);
  c.set_clients_per_round(1);
  c.set_rounds(1);
  v1::CreateTaskRequest req;
  *req.mutable_config() = c;
  v1::TaskInfo info;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  ASSERT_TRUE(Admin("", "")->CreateTask(&ctx, req, &info).ok());

  client::SettableDeviceState plugged({true, true, true, 90, false});
  client::SessionOptions s;
  s.address = server_->address();
  s.tls_root_cert_pem = Cert("ca.pem");
  client::Participant device({"tls-device", "tls"}, s, &plugged,
                             std::string(std::getenv("TEST_TMPDIR")) + "/tls.ckpt");
  client::RowMatrixXf x = client::RowMatrixXf::Ones(8, 6);
  std::vector<int32_t> y = {0, 1, 2, 0, 1, 2, 0, 1};
  client::RoundResult r = device.RunOnce(x, y);
  EXPECT_EQ(r.kind, client::RoundResult::Kind::kUploaded) << r.why;
  // Without the CA, the device cannot verify the server and gets no model.
  client::SessionOptions untrusting = s;
  untrusting.tls_root_cert_pem = Cert("rogue.pem");
  untrusting.attempts = 1;
  client::Participant wary({"wary-device", "tls"}, untrusting, &plugged,
                           std::string(std::getenv("TEST_TMPDIR")) + "/wary.ckpt");
  EXPECT_EQ(wary.RunOnce(x, y).kind, client::RoundResult::Kind::kFailed);
}

}  // namespace
}  // namespace fedtiny
