#include "coordinator/replica/pg_pool.h"

#include "tools/base/status_macros.h"

namespace fedtiny::coordinator::replica {

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Open(const std::string& conninfo, int size,
                                                     const std::string& setup) {
  std::unique_ptr<PgPool> pool(new PgPool);
  absl::MutexLock lock(&pool->mu_);
  for (int i = 0; i < size; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> c, PgConnection::Connect(conninfo, setup));
    pool->free_.push_back(std::move(c));
  }
  return pool;
}

std::unique_ptr<PgConnection> PgPool::Borrow() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<PgConnection>>* f) { return !f->empty(); }, &free_));
  std::unique_ptr<PgConnection> conn = std::move(free_.back());
  free_.pop_back();
  return conn;
}

void PgPool::Return(std::unique_ptr<PgConnection> conn) {
  absl::MutexLock lock(&mu_);
  free_.push_back(std::move(conn));
}

absl::Status PgPool::Transaction(const std::function<absl::Status(PgConnection&)>& body,
                                 const char* begin) {
  std::unique_ptr<PgConnection> conn = Borrow();
  absl::Status s = conn->Transaction([&] { return body(*conn); }, begin);
  Return(std::move(conn));
  return s;
}

absl::Status PgPool::Run(const std::function<absl::Status(PgConnection&)>& body) {
  std::unique_ptr<PgConnection> conn = Borrow();
  absl::Status s = body(*conn);
  if (!s.ok() && conn->broken()) {
    s = conn->Reset();
    if (s.ok()) s = body(*conn);
  }
  Return(std::move(conn));
  return s;
}

}  // namespace fedtiny::coordinator::replica
