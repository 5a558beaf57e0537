// A throwaway PostgreSQL 15 server for tests: initdb into a fresh directory
// under /tmp, started with pg_ctl on a Unix socket in that directory only
// (listen_addresses = '', no TCP), fsync on. As root (tests and CI run as
// root, and PostgreSQL refuses to) the binaries run as the `postgres` system
// user, and the directory is chowned to it: Bazel's TEST_TMPDIR lives under
// /root, which that user cannot traverse, hence /tmp.
//
//   if (!PgServer::Installed()) GTEST_SKIP() << PgServer::kMissing;
//   ASSIGN_OR_RETURN(std::unique_ptr<PgServer> pg, PgServer::Start());
//   std::string conninfo = *pg->CreateDatabase("t1");
#ifndef FEDTINY_COORDINATOR_TESTING_PG_SERVER_H_
#define FEDTINY_COORDINATOR_TESTING_PG_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace fedtiny::coordinator::testing {

// Not thread-safe. Owns the server process and its directory: the destructor
// stops the server (pg_ctl stop -m fast) and removes the directory.
class PgServer {
 public:
  static constexpr char kMissing[] =
      "PostgreSQL 15 server binaries not installed (/usr/lib/postgresql/15/bin: initdb, "
      "pg_ctl, postgres; Debian package postgresql-15, see tools/setup)";

  // Installed reports whether initdb, pg_ctl and postgres are present.
  static bool Installed();
  // Start runs initdb and pg_ctl start -w (blocking, a few seconds). kInternal
  // with the server's log on failure.
  static absl::StatusOr<std::unique_ptr<PgServer>> Start();
  ~PgServer();

  // CreateDatabase creates database `name` ([a-z0-9_]) and returns its conninfo.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name);
  // The conninfo of database `name` (no password: local trust authentication).
  std::string ConnInfo(const std::string& name) const;
  // Stop stops the server (pg_ctl stop -m fast, blocking); Restart starts it
  // again on the same data.
  absl::Status Stop();
  absl::Status Restart();
  const std::string& dir() const { return dir_; }

 private:
  explicit PgServer(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Ctl(const std::string& action);

  const std::string dir_;  // Socket, data/ and the server's log.
  bool running_ = false;
};

}  // namespace fedtiny::coordinator::testing

#endif  // FEDTINY_COORDINATOR_TESTING_PG_SERVER_H_
