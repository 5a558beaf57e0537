// A fixed set of PostgreSQL connections shared by a replica's request threads.
#ifndef FEDTINY_COORDINATOR_REPLICA_PG_POOL_H_
#define FEDTINY_COORDINATOR_REPLICA_PG_POOL_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/pg_connection.h"

namespace fedtiny::coordinator::replica {

// Thread-safe. Owns its connections; each is used by one thread at a time.
class PgPool {
 public:
  // Opens `size` connections (blocking). PgConnection::Connect's codes.
  static absl::StatusOr<std::unique_ptr<PgPool>> Open(const std::string& conninfo, int size);

  // Transaction borrows a connection (blocking until one is free) and runs
  // `body` in one transaction on it (PgConnection::Transaction).
  absl::Status Transaction(const std::function<absl::Status(PgConnection&)>& body,
                           const char* begin = "BEGIN");

 private:
  PgPool() = default;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_PG_POOL_H_
