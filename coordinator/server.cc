#include "coordinator/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "aggregation/random_source.h"
#include "coordinator/admin_service.h"
#include "coordinator/coordinator.h"
#include "coordinator/federation_service.h"
#include "coordinator/sqlite_store.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  return s;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(
    const Server::Options& o) {
  const bool has_cert = !o.tls_cert_file.empty(), has_key = !o.tls_key_file.empty();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
  }
  if (!has_cert) {
    if (!o.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError("client certificates need TLS (--tls_cert, --tls_key)");
    }
    return grpc::InsecureServerCredentials();
  }
  ASSIGN_OR_RETURN(std::string cert, ReadPem(o.tls_cert_file));
  ASSIGN_OR_RETURN(std::string key, ReadPem(o.tls_key_file));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({key, cert});
  if (!o.tls_client_ca_file.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(o.tls_client_ca_file));
    // Devices need no certificate; operators may present one.
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

struct Server::Impl {
  std::string host;
  int port = 0;
  std::shared_ptr<Clock> clock;
  aggregation::OpenSslRandomSource random;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<FederationService> federation;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<grpc::Server> server;
  absl::Notification stop_ticking;
  std::thread ticker;

  ~Impl() {
    if (!stop_ticking.HasBeenNotified()) stop_ticking.Notify();
    if (ticker.joinable()) ticker.join();
  }
};

absl::StatusOr<Server> Server::Start(const Options& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("a data directory is required");
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds, MakeCredentials(options));
  auto impl = std::make_unique<Impl>();
  impl->host = options.host;
  impl->clock = options.clock ? options.clock : std::make_shared<RealClock>();
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(options.data_dir));
  ASSIGN_OR_RETURN(impl->coordinator,
                   Coordinator::Create(std::move(store), impl->clock.get(), &impl->random));
  impl->federation = std::make_unique<FederationService>(impl->coordinator.get());
  impl->admin = std::make_unique<AdminService>(impl->coordinator.get(), options.admin_token,
                                               !options.tls_client_ca_file.empty());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port), creds, &impl->port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // An upload (tens of KB) travels as one HTTP/2 frame instead of several 16 KB
  // ones; the per-stream flow-control window stays gRPC's default.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  builder.RegisterService(impl->federation.get());
  builder.RegisterService(impl->admin.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":", options.port));
  }
  Impl* raw = impl.get();
  const absl::Duration tick = options.tick;
  impl->ticker = std::thread([raw, tick] {
    while (!raw->stop_ticking.WaitForNotificationWithTimeout(tick)) raw->coordinator->Tick();
  });
  return Server(std::move(impl));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::Server(Server&&) noexcept = default;
Server& Server::operator=(Server&& other) noexcept {
  if (this != &other) {
    Shutdown();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Server::~Server() { Shutdown(); }

int Server::port() const { return impl_->port; }
std::string Server::address() const { return absl::StrCat(impl_->host, ":", impl_->port); }
Coordinator* Server::coordinator() const { return impl_->coordinator.get(); }

void Server::Wait() {
  if (impl_ != nullptr && impl_->server != nullptr) impl_->server->Wait();
}

void Server::Shutdown() {
  if (impl_ == nullptr || impl_->server == nullptr) return;
  impl_->admin->StopWatches();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (!impl_->stop_ticking.HasBeenNotified()) impl_->stop_ticking.Notify();
  if (impl_->ticker.joinable()) impl_->ticker.join();
}

}  // namespace fedtiny::coordinator
