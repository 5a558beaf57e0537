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
  // Opens `size` connections (blocking), each with `setup` (PgConnection::
  // Connect). PgConnection::Connect's codes.
  static absl::StatusOr<std::unique_ptr<PgPool>> Open(const std::string& conninfo, int size,
                                                      const std::string& setup = "");

  // Run borrows a connection (blocking until one is free) and runs `body` on
  // it outside any explicit transaction (each statement commits by itself).
  // When the connection turns out dead (a restarted server) it reconnects and
  // runs `body` once more: callers pass bodies whose retry is harmless.
  absl::Status Run(const std::function<absl::Status(PgConnection&)>& body);

  // Transaction borrows a connection (blocking until one is free) and runs
  // `body` in one transaction on it (PgConnection::Transaction).
  absl::Status Transaction(const std::function<absl::Status(PgConnection&)>& body,
                           const char* begin = "BEGIN");

 private:
  PgPool() = default;
  std::unique_ptr<PgConnection> Borrow();
  void Return(std::unique_ptr<PgConnection> conn);
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_PG_POOL_H_
