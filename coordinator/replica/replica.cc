#include "coordinator/replica/replica.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "aggregation/random_source.h"
#include "coordinator/postgres_store.h"
#include "coordinator/replica/federation_service.h"
#include "coordinator/replica/frontend.h"
#include "coordinator/replica/leader.h"
#include "coordinator/replica/pg_pool.h"
#include "coordinator/replica/schema.h"
#include "coordinator/replica/task_model.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::replica {

// Destroyed in reverse order: the server stops before what it calls.
struct Replica::Impl {
  std::shared_ptr<Clock> clock;
  aggregation::OpenSslRandomSource random;
  std::unique_ptr<PostgresStore> store;         // The frontend's model loads.
  std::unique_ptr<PostgresStore> leader_store;  // The leader's, on its own connection.
  std::unique_ptr<PgPool> pool;
  std::unique_ptr<PgPool> admissions;
  std::unique_ptr<Frontend> frontend;
  std::unique_ptr<FederationService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<Leader> leader;
  std::string host;
  int port = 0;

  void Shutdown() {
    if (leader) leader->Stop();  // Releases the leadership first.
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
};

absl::StatusOr<Replica> Replica::Start(Options options) {
  auto impl = std::make_unique<Impl>();
  impl->clock = options.clock ? options.clock : std::make_shared<RealClock>();
  impl->host = options.host;
  ASSIGN_OR_RETURN(impl->store, PostgresStore::Open(options.conninfo));
  {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> c, PgConnection::Connect(options.conninfo));
    RETURN_IF_ERROR(CreateReplicaSchema(*c));
  }
  if (options.create) {
    absl::Status s = CreateTask(*impl->store, *options.create, *impl->clock, impl->random);
    if (!s.ok() && s.code() != absl::StatusCode::kAlreadyExists) return s;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const TaskModel> model, TaskModel::Load(*impl->store, options.task));
  if (model->engine.async.has_value() || model->engine.cluster_warmup) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task ", options.task, ": replicas serve synchronous tasks without cluster warm-up"));
  }
  ASSIGN_OR_RETURN(impl->pool, PgPool::Open(options.conninfo, options.connections));
  ASSIGN_OR_RETURN(impl->admissions, PgPool::Open(options.conninfo, options.connections,
                                                  "SET synchronous_commit = off"));
  impl->frontend = std::make_unique<Frontend>(options.task, options.replica_id, impl->pool.get(),
                                              impl->admissions.get(), impl->store.get(),
                                              impl->clock.get(), &impl->random, std::move(model),
                                              options.full_cache);
  impl->service = std::make_unique<FederationService>(impl->frontend.get());
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   MakeServerCredentials(options.tls));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat(options.host, ":", options.port), credentials,
                           &impl->port);
  builder.RegisterService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.host, ":", options.port));
  }
  if (options.lead) {
    // The leader's store connection is its own: its model loads never wait
    // behind the requests'.
    Leader::Options lo;
    lo.task = options.task;
    lo.replica_id = options.replica_id;
    lo.conninfo = options.conninfo;
    lo.retry = options.leader_retry;
    lo.tick = options.leader_tick;
    ASSIGN_OR_RETURN(impl->leader_store, PostgresStore::Open(options.conninfo));
    impl->leader = std::make_unique<Leader>(lo, impl->leader_store.get(), impl->clock.get());
    impl->leader->Start();
  }
  return Replica(std::move(impl));
}

Replica::Replica(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replica::Replica(Replica&&) noexcept = default;
Replica& Replica::operator=(Replica&& other) noexcept {
  if (this != &other) {
    Shutdown();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Replica::~Replica() { Shutdown(); }

int Replica::port() const { return impl_->port; }
std::string Replica::address() const { return absl::StrCat(impl_->host, ":", impl_->port); }
bool Replica::leading() const { return impl_->leader != nullptr && impl_->leader->leading(); }

void Replica::Wait() {
  if (impl_ != nullptr && impl_->server != nullptr) impl_->server->Wait();
}

void Replica::Shutdown() {
  if (impl_ != nullptr) impl_->Shutdown();
}

}  // namespace fedtiny::coordinator::replica
