// A thin layer over libpq: one connection, parameterized statements (never SQL
// built from values), binary results, transactions, and one mapping from
// PostgreSQL's SQLSTATE to absl::Status. PostgresStore and the replicas
// (coordinator/replica) share it.
#ifndef FEDTINY_COORDINATOR_PG_CONNECTION_H_
#define FEDTINY_COORDINATOR_PG_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct pg_conn;
struct pg_result;

namespace fedtiny::coordinator {

// The rows of one statement (binary format), freed on destruction. Move-only;
// not thread-safe.
class PgResult {
 public:
  explicit PgResult(pg_result* result);
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  ~PgResult();

  [[nodiscard]] int rows() const;
  [[nodiscard]] bool IsNull(int row, int col) const;
  // Int reads a bool, smallint, integer or bigint column (0 for NULL).
  [[nodiscard]] int64_t Int(int row, int col) const;
  // Bytes reads a text or bytea column ("" for NULL).
  [[nodiscard]] std::string Bytes(int row, int col) const;
  // Affected reports how many rows an INSERT, UPDATE or DELETE changed.
  [[nodiscard]] int64_t Affected() const;

 private:
  pg_result* result_;
};

// Statement parameters, in order ($1, $2, ...): integers travel as text, bytes
// in binary (right for bytea and text alike). Not thread-safe.
class PgParams {
 public:
  PgParams& Add(int64_t v);
  PgParams& Add(absl::string_view bytes);
  PgParams& AddNull();

 private:
  friend class PgConnection;
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<int> binary_;
};

// One connection to PostgreSQL. Not thread-safe: the owner serializes calls
// (PostgresStore behind a mutex). Owns the libpq connection; closes it on
// destruction (which also releases the session's advisory locks).
class PgConnection {
 public:
  // Connects (blocking). kUnavailable when the server cannot be reached (the
  // message names host and database, never a password); kInvalidArgument for a
  // malformed conninfo.
  // `setup` (parameterless statements, e.g. "SET synchronous_commit = off")
  // runs on the new session, and again after every reconnect.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& conninfo,
                                                               std::string setup = "");
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Exec runs one statement (blocking). Codes: kAlreadyExists (a unique or
  // other integrity constraint), kAborted (serialization failure or deadlock:
  // retry), kUnavailable (the connection or the server is gone), kDataLoss
  // (the server reports corrupted data), kInternal otherwise.
  absl::StatusOr<PgResult> Exec(absl::string_view sql, const PgParams& params = PgParams());
  // Script runs several parameterless statements (schema set-up).
  absl::Status Script(const char* sql);

  // Transaction runs `body` between BEGIN and COMMIT (ROLLBACK when it fails).
  // If the connection turns out dead at BEGIN (a restarted server), it
  // reconnects and tries once more: nothing of `body` ran yet, so retrying is
  // safe. A failure at COMMIT is returned as is (the outcome is unknown to
  // the caller only when the connection broke there: kUnavailable).
  absl::Status Transaction(const std::function<absl::Status()>& body,
                           const char* begin = "BEGIN");

  // Reconnects with the same conninfo (blocking). kUnavailable on failure.
  absl::Status Reset();
  [[nodiscard]] bool broken() const;
  // "host=... port=... dbname=...", safe to log.
  [[nodiscard]] const std::string& description() const { return description_; }

 private:
  PgConnection(pg_conn* conn, std::string description, std::string setup)
      : conn_(conn), description_(std::move(description)), setup_(std::move(setup)) {}
  absl::Status ErrorOf(pg_result* result) const;

  pg_conn* conn_;
  const std::string description_;
  const std::string setup_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_PG_CONNECTION_H_
