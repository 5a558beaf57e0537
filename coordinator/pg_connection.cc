#include "coordinator/pg_connection.h"

#include <postgresql/libpq-fe.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

constexpr Oid kBoolOid = 16;

std::string Trimmed(const char* message) {
  return std::string(absl::StripTrailingAsciiWhitespace(message != nullptr ? message : ""));
}

std::string Describe(PGconn* conn) {
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  const char* db = PQdb(conn);
  return absl::StrCat("host=", host ? host : "", " port=", port ? port : "",
                      " dbname=", db ? db : "");
}

}  // namespace

PgResult::PgResult(pg_result* result) : result_(result) {}
PgResult::PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}
PgResult::~PgResult() { PQclear(result_); }

int PgResult::rows() const { return PQntuples(result_); }

bool PgResult::IsNull(int row, int col) const { return PQgetisnull(result_, row, col) != 0; }

int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, col));
  const int n = PQgetlength(result_, row, col);
  if (PQftype(result_, col) == kBoolOid) return p[0] != 0;
  // Network byte order; sign-extended from the column's width.
  uint64_t v = (n > 0 && (p[0] & 0x80)) ? ~uint64_t{0} : 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return static_cast<int64_t>(v);
}

std::string PgResult::Bytes(int row, int col) const {
  if (IsNull(row, col)) return std::string();
  return std::string(PQgetvalue(result_, row, col), PQgetlength(result_, row, col));
}

int64_t PgResult::Affected() const {
  const char* n = PQcmdTuples(result_);
  return (n == nullptr || *n == '\0') ? 0 : std::stoll(n);
}

PgParams& PgParams::Add(int64_t v) {
  values_.push_back(std::to_string(v));
  null_.push_back(false);
  binary_.push_back(0);
  return *this;
}

PgParams& PgParams::Add(absl::string_view bytes) {
  values_.emplace_back(bytes);
  null_.push_back(false);
  binary_.push_back(1);
  return *this;
}

PgParams& PgParams::AddNull() {
  values_.emplace_back();
  null_.push_back(true);
  binary_.push_back(0);
  return *this;
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& conninfo,
                                                                    std::string setup) {
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &err);
  if (parsed == nullptr) {
    // libpq's message quotes at most the option name, never its value.
    absl::Status s = absl::InvalidArgumentError(
        absl::StrCat("bad PostgreSQL conninfo: ", Trimmed(err != nullptr ? err : "out of memory")));
    PQfreemem(err);
    return s;
  }
  PQconninfoFree(parsed);
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status s = absl::UnavailableError(absl::StrCat(
        "cannot reach PostgreSQL (", Describe(conn), "): ", Trimmed(PQerrorMessage(conn))));
    PQfinish(conn);
    return s;
  }
  // Notices ("relation ... already exists, skipping") are not errors: dropped.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<PgConnection> c(new PgConnection(conn, Describe(conn), std::move(setup)));
  if (!c->setup_.empty()) RETURN_IF_ERROR(c->Script(c->setup_.c_str()));
  return c;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

absl::Status PgConnection::Reset() {
  PQreset(conn_);
  if (broken()) {
    return absl::UnavailableError(absl::StrCat("cannot reach PostgreSQL (", description_,
                                               "): ", Trimmed(PQerrorMessage(conn_))));
  }
  return setup_.empty() ? absl::OkStatus() : Script(setup_.c_str());
}

absl::Status PgConnection::ErrorOf(pg_result* result) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string code = state != nullptr ? state : "";
  const std::string what = absl::StrCat(
      "postgres: ", Trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_)));
  if (broken() || absl::StartsWith(code, "08") || absl::StartsWith(code, "57P")) {
    return absl::UnavailableError(absl::StrCat(what, " (", description_, ")"));
  }
  if (absl::StartsWith(code, "23")) return absl::AlreadyExistsError(what);
  if (absl::StartsWith(code, "40")) return absl::AbortedError(what);
  if (code == "XX001" || code == "XX002") return absl::DataLossError(what);
  return absl::InternalError(what);
}

absl::StatusOr<PgResult> PgConnection::Exec(absl::string_view sql, const PgParams& params) {
  const int n = static_cast<int>(params.values_.size());
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (int i = 0; i < n; ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
  }
  PGresult* raw = PQexecParams(conn_, std::string(sql).c_str(), n, nullptr, values.data(),
                               lengths.data(), params.binary_.data(), /*resultFormat=*/1);
  PgResult result(raw);
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(raw);
  return result;
}

absl::Status PgConnection::Script(const char* sql) {
  PGresult* raw = PQexec(conn_, sql);
  PgResult result(raw);
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(raw);
  return absl::OkStatus();
}

absl::Status PgConnection::Transaction(const std::function<absl::Status()>& body,
                                       const char* begin) {
  absl::Status started = Exec(begin).status();
  if (started.code() == absl::StatusCode::kUnavailable) {
    // Nothing ran yet: a server that restarted since our last call is retried.
    RETURN_IF_ERROR(Reset());
    started = Exec(begin).status();
  }
  if (!started.ok()) return started;
  absl::Status s = body();
  if (!s.ok()) {
    if (!broken()) (void)Exec("ROLLBACK");
    return s;
  }
  return Exec("COMMIT").status();
}

}  // namespace fedtiny::coordinator
