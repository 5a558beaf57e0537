#include "coordinator/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "aggregation/random_source.h"
#include "coordinator/admin_service.h"
#include "coordinator/coordinator.h"
#include "coordinator/dashboard_data.h"
#include "coordinator/federation_service.h"
#include "coordinator/http_server.h"
#include "coordinator/meter/durable_ledger.h"
#include "coordinator/metering_service.h"
#include "coordinator/server_credentials.h"
#include "coordinator/server_metrics.h"
#include "coordinator/postgres_store.h"
#include "coordinator/sqlite_store.h"
#include "coordinator/telemetry/aggregates.h"
#include "coordinator/telemetry_service.h"
#include "tools/base/atomic_file.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/logging.h"
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
  return MakeServerCredentials({o.tls_cert_file, o.tls_key_file, o.tls_client_ca_file});
}

// Readiness: NOT_SERVING with a reason until loaded, then whatever the
// data-directory probe says. Thread-safe.
class Readiness {
 public:
  explicit Readiness(ServerMetrics* metrics) : metrics_(metrics) {}
  // Set records `status` and, on a change, tells gRPC health and logs it.
  void Set(grpc::Server* server, absl::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (status == status_) return;
    if (status.ok()) {
      FT_LOG(INFO) << "ready: serving";
    } else if (!IsLoading(status)) {
      FT_LOG(WARNING) << "not ready: " << status.message();
    }
    status_ = std::move(status);
    server->GetHealthCheckService()->SetServingStatus(status_.ok());
    metrics_->SetReady(status_.ok());
  }
  absl::Status Get() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return status_;
  }
  static absl::Status Loading() { return absl::UnavailableError("store is loading"); }

 private:
  static bool IsLoading(const absl::Status& s) { return s == Loading(); }
  ServerMetrics* const metrics_;
  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_) = Loading();
};

// Creates and removes a probe file in `dir`: OK when the directory takes writes.
absl::Status ProbeWritable(const std::string& dir) {
  const std::string path = dir + "/.writable-probe";
  int err = 0;
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    err = errno;
  } else {
    if (write(fd, "1", 1) != 1) err = errno ? errno : EIO;
    if (close(fd) != 0 && err == 0) err = errno;
    unlink(path.c_str());
  }
  if (err == 0) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("data directory not writable: ", path, ": ", std::strerror(err)));
}

}  // namespace

// Members are destroyed in reverse order: the HTTP server (its handlers use the
// rest) first, the gRPC server before the services it calls.
struct Server::Impl {
  std::string host;
  std::string data_dir;
  int port = 0;
  std::shared_ptr<Clock> clock;
  aggregation::OpenSslRandomSource random;
  ServerMetrics metrics;
  Readiness readiness{&metrics};
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<meter::DurableLedger> meter_ledger;  // Null without a meter key.
  std::atomic<Coordinator*> loaded{nullptr};  // `coordinator` once loaded, for HTTP threads.
  FederationService federation{&metrics};
  MeteringService metering;
  std::unique_ptr<telemetry::Aggregates> telemetry_counts;
  std::unique_ptr<TelemetryService> telemetry;  // Registered before the store loads.
  std::unique_ptr<AdminService> admin;  // Registered before the store loads.
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HttpServer> http;
  absl::Notification stop_ticking;
  std::thread ticker;

  ~Impl() { StopThreads(); }
  void StopThreads() {
    if (!stop_ticking.HasBeenNotified()) stop_ticking.Notify();
    if (ticker.joinable()) ticker.join();
  }
  absl::Status BindGrpc(const Options& options, std::shared_ptr<grpc::ServerCredentials> creds);
  absl::Status BindHttp(const Options& options);
  absl::Status Load(const Options& options);
  void Run(absl::Duration tick);
};

absl::Status Server::Impl::BindGrpc(const Options& options,
                                    std::shared_ptr<grpc::ServerCredentials> creds) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port), creds, &port);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // An upload (tens of KB) travels as one HTTP/2 frame instead of several 16 KB
  // ones; the per-stream flow-control window stays gRPC's default.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  builder.RegisterService(&federation);
  builder.RegisterService(&metering);
  telemetry = std::make_unique<TelemetryService>(telemetry::RateLimiter::Options{
      options.telemetry_reports_per_minute, options.telemetry_burst});
  builder.RegisterService(telemetry.get());
  admin = std::make_unique<AdminService>(nullptr, options.admin_token,
                                         !options.tls_client_ca_file.empty());
  builder.RegisterService(admin.get());
  server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":", options.port));
  }
  // gRPC's default health service starts SERVING: say otherwise at once.
  server->GetHealthCheckService()->SetServingStatus(false);
  return absl::OkStatus();
}

absl::Status Server::Impl::BindHttp(const Options& options) {
  if (options.http_port < 0) return absl::OkStatus();
  HttpServer::Options o{options.host, options.http_port, options.tls_cert_file,
                        options.tls_key_file};
  HttpServer::Handlers h;
  h.metrics = [this] {
    Coordinator* c = loaded.load();
    return metrics.Expose(c, data_dir, c != nullptr ? telemetry_counts.get() : nullptr);
  };
  h.health = [this] { return readiness.Get(); };
  h.dashboard_json = [this] {
    return DashboardJson(loaded.load(), readiness.Get(), clock->Now());
  };
  ASSIGN_OR_RETURN(http, HttpServer::Start(o, std::move(h)));
  return absl::OkStatus();
}

absl::Status Server::Impl::Load(const Options& options) {
  std::unique_ptr<Store> store;
  if (options.postgres.empty()) {
    ASSIGN_OR_RETURN(store, SqliteStore::Open(options.data_dir));
  } else {
    ASSIGN_OR_RETURN(store, PostgresStore::Open(options.postgres));
  }
  TrustOptions trust;
  trust.enrollment_path = options.data_dir + "/enrolled.pb";
  if (!options.trust_dir.empty()) {
    TrustRepository::Options t;
    t.trust_dir = options.trust_dir;
    t.state_path = options.data_dir + "/trust.pb";
    ASSIGN_OR_RETURN(trust.repository, TrustRepository::Open(t, clock.get()));
    trust.encrypt_bundles = options.encrypt_bundles;
    trust.model_keys_path = options.data_dir + "/model_keys.pb";
  }
  if (!options.meter_key_file.empty()) {
    ASSIGN_OR_RETURN(std::string pem, ReadPem(options.meter_key_file));
    ASSIGN_OR_RETURN(crypto::EcPrivateKey key, crypto::EcPrivateKey::FromPem(pem));
    ASSIGN_OR_RETURN(meter_ledger,
                     meter::DurableLedger::Open(std::move(key), options.meter_options, *clock,
                                                options.data_dir + "/meter_ledger.pb"));
  }
  telemetry::Aggregates::Options counts;
  counts.path = options.data_dir + "/telemetry.pb";
  counts.max_reports_per_window = options.telemetry_max_reports_per_window;
  ASSIGN_OR_RETURN(telemetry_counts, telemetry::Aggregates::Open(counts));
  ASSIGN_OR_RETURN(coordinator, Coordinator::Create(std::move(store), clock.get(), &random,
                                                    std::move(trust)));
  admin->AttachTelemetry(telemetry_counts.get());
  telemetry->Attach(coordinator.get(), telemetry_counts.get(), clock.get());
  loaded.store(coordinator.get());
  admin->Attach(coordinator.get(), meter_ledger.get());
  federation.Attach(coordinator.get());
  metering.Attach(coordinator.get(), meter_ledger.get());
  readiness.Set(server.get(), ProbeWritable(data_dir));
  return absl::OkStatus();
}

void Server::Impl::Run(absl::Duration tick) {
  ticker = std::thread([this, tick] {
    while (!stop_ticking.WaitForNotificationWithTimeout(tick)) {
      coordinator->Tick();
      readiness.Set(server.get(), ProbeWritable(data_dir));
    }
  });
}

absl::StatusOr<Server> Server::Start(const Options& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("a data directory is required");
  if (!options.meter_key_file.empty()) {
    RETURN_IF_ERROR(meter::ValidateLedgerOptions(options.meter_options, "meter_options."));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds, MakeCredentials(options));
  auto impl = std::make_unique<Impl>();
  impl->host = options.host;
  impl->data_dir = options.data_dir;
  impl->clock = options.clock ? options.clock : std::make_shared<RealClock>();
  RETURN_IF_ERROR(impl->BindGrpc(options, std::move(creds)));
  RETURN_IF_ERROR(impl->BindHttp(options));
  if (options.loading_hook) {
    options.loading_hook(impl->port, impl->http ? impl->http->port() : -1);
  }
  RETURN_IF_ERROR(impl->Load(options));
  impl->Run(options.tick);
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
int Server::http_port() const { return impl_->http ? impl_->http->port() : -1; }
std::string Server::address() const { return absl::StrCat(impl_->host, ":", impl_->port); }
Coordinator* Server::coordinator() const { return impl_->coordinator.get(); }
meter::DurableLedger* Server::meter_ledger() const { return impl_->meter_ledger.get(); }
telemetry::Aggregates* Server::telemetry() const { return impl_->telemetry_counts.get(); }

void Server::Wait() {
  if (impl_ != nullptr && impl_->server != nullptr) impl_->server->Wait();
}

void Server::Shutdown() {
  if (impl_ == nullptr || impl_->server == nullptr) return;
  if (impl_->http) impl_->http->Stop();
  if (impl_->admin) impl_->admin->StopWatches();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  impl_->StopThreads();
}

}  // namespace fedtiny::coordinator
