// One coordinator replica: the Federation API for one task (frontend.h) on a
// gRPC server, and a candidate for the task's leadership (leader.h), over one
// PostgreSQL database shared with the other replicas. Replicas keep no state of
// their own: any may be killed at any time and started again.
//
//   auto r = Replica::Start({.conninfo = "host=/run/postgresql dbname=fl",
//                            .replica_id = "r1", .task = "mnist", .port = 50061});
#ifndef FEDTINY_COORDINATOR_REPLICA_REPLICA_H_
#define FEDTINY_COORDINATOR_REPLICA_REPLICA_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "coordinator/server_credentials.h"
#include "proto/admin.pb.h"

namespace fedtiny::coordinator::replica {

class Leader;

// Move-only handle; the destructor shuts the replica down (its leadership, if
// any, is released at once). Thread-safe.
class Replica {
 public:
  struct Options {
    std::string conninfo;    // libpq conninfo of the shared database. Never logged.
    std::string replica_id;  // Unique among the task's replicas, e.g. "r1".
    std::string task;
    // When set and the task does not exist yet, it is created from this config.
    std::optional<v1::TaskConfig> create;
    std::string host = "127.0.0.1";
    int port = 0;         // 0 picks a free one.
    int connections = 4;  // PostgreSQL connections for uploads, and as many for check-ins.
    absl::Duration leader_retry = absl::Milliseconds(200);
    absl::Duration leader_tick = absl::Milliseconds(50);
    bool lead = true;  // false: never a leader candidate (benchmarks).
    // After seeing no room for admissions, answer check-ins "come back later"
    // from memory for this long (Frontend); 0: always ask PostgreSQL.
    absl::Duration full_cache = absl::Milliseconds(100);
    std::shared_ptr<Clock> clock;  // Null: the wall clock.
    // TLS for the Federation API (coordinator/server_credentials.h); empty:
    // plaintext, for loopback.
    TlsFiles tls;
  };

  // Connects, creates the schema and (with `create`) the task, binds and
  // serves (blocking until serving). kUnavailable when PostgreSQL or the port
  // cannot be reached, kNotFound for an unknown task, kInvalidArgument for a
  // bad config.
  static absl::StatusOr<Replica> Start(Options options);

  Replica(Replica&&) noexcept;
  Replica& operator=(Replica&&) noexcept;
  ~Replica();

  int port() const;
  std::string address() const;  // "host:port"
  bool leading() const;
  // Blocks until Shutdown() is called from another thread.
  void Wait();
  void Shutdown();

 private:
  struct Impl;
  explicit Replica(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedtiny::coordinator::replica

#endif  // FEDTINY_COORDINATOR_REPLICA_REPLICA_H_
