// The coordinator binary: serves the Federation and Admin APIs until SIGINT or
// SIGTERM.
//   coordinator --data_dir=/var/lib/fedtiny              # 127.0.0.1:50051
//   coordinator --data_dir=d --host=0.0.0.0 --port=8443 --tls_cert=c.pem --tls_key=k.pem
//   coordinator --data_dir=d --http_port=9090   # + /metrics, /healthz, /dashboard
//   coordinator --data_dir=d --postgres="host=/run/postgresql dbname=fedtiny"
// The operator token is read from --admin_token_file (one token, or "name:token"
// lines), or created on first start
// in <data_dir>/admin.token (mode 0600). It is never printed.
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "aggregation/random_source.h"
#include "absl/strings/str_cat.h"
#include "coordinator/admin_service.h"
#include "coordinator/meter/meter_ledger.h"
#include "coordinator/server.h"
#include "tools/base/atomic_file.h"
#include "tools/base/flags_help.h"
#include "tools/base/logging.h"
#include "tools/base/status_macros.h"
#include "tools/base/stop_signal.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on; loopback by default.");
ABSL_FLAG(std::string, log_format, "text",
          "text (RFC 3339 UTC time, severity, file:line, message) or json (one object per line).");
ABSL_FLAG(int, port, 50051, "Port to listen on (flctl's default target); 0 picks a free one.");
ABSL_FLAG(int, http_port, -1,
          "HTTP port on --host for /metrics, /healthz and the dashboard (HTTPS with --tls_cert); "
          "-1 off, 0 picks a free one.");
ABSL_FLAG(std::string, data_dir, "coordinator-data", "Where state persists.");
ABSL_FLAG(std::string, postgres, "",
          "libpq conninfo (e.g. \"host=/run/postgresql dbname=fedtiny\"): keep tasks, rounds "
          "and models in that PostgreSQL database instead of SQLite under --data_dir (which "
          "still holds the token, trust, metering and telemetry files). Prefer PGPASSFILE to a "
          "password here: flags show in `ps`.");
ABSL_FLAG(std::string, admin_token_file, "",
          "File holding the operator token; default <data_dir>/admin.token (created).");
ABSL_FLAG(std::string, trust_dir, "",
          "Model trust: the operator's trust directory (flctl keys init; its metadata/ and "
          "online/ keys). Empty: bundles are not signed and devices requiring trust refuse them.");
ABSL_FLAG(std::string, meter_key, "",
          "PEM P-256 private key that signs metering grants and checkpoints (docs/metering.md); "
          "empty: metering is off.");
// The ledger's settings (meter::LedgerOptions, docs/metering.md "Grants"),
// signed into every grant: a change applies fleet-wide at each device's next
// sync. Defaults are LedgerOptions' own.
ABSL_FLAG(uint64_t, meter_grant_calls, fedtiny::meter::LedgerOptions().grant_calls,
          "With --meter_key: metered calls per grant (at least 1).");
ABSL_FLAG(absl::Duration, meter_grant_validity, fedtiny::meter::LedgerOptions().grant_validity,
          "With --meter_key: how long a grant is valid from its issue (e.g. 24h; positive).");
ABSL_FLAG(absl::Duration, meter_grace, fedtiny::meter::LedgerOptions().grace,
          "With --meter_key: offline grace after a grant's validity (e.g. 72h; 0 for none).");
ABSL_FLAG(uint64_t, meter_grace_calls, fedtiny::meter::LedgerOptions().grace_calls,
          "With --meter_key: at most this many calls in the grace (0: none).");
ABSL_FLAG(uint64_t, meter_counter_every, fedtiny::meter::LedgerOptions().counter_every,
          "With --meter_key: B, calls between monotonic-counter bindings on devices with a "
          "counter (at least 1; a multiple of the devices' persist_every, 64 by default).");
ABSL_FLAG(absl::Duration, meter_clock_skew, fedtiny::meter::LedgerOptions().clock_skew,
          "With --meter_key: how far ahead of the coordinator a device's record times may be "
          "before METER_FLAG_CLOCK_BACK.");
ABSL_FLAG(bool, meter_cut_off_on_flag, fedtiny::meter::LedgerOptions().cut_off_on_flag,
          "With --meter_key: stop granting to a device and package after any flag (an "
          "operator restores it with flctl meter cutoff --restore).");
ABSL_FLAG(int64_t, meter_checkpoints_kept,
          static_cast<int64_t>(fedtiny::meter::LedgerOptions().checkpoints_kept),
          "With --meter_key: checkpoints remembered per device and package (at least 1); a "
          "sync from an older one is refused as a rollback.");
ABSL_FLAG(bool, encrypt_bundles, true,
          "With --trust_dir: serve bundles encrypted, their keys wrapped to each device's "
          "enrolled key (devices must enroll). --noencrypt_bundles: signed plain bundles.");
ABSL_FLAG(double, telemetry_reports_per_minute, 60,
          "Telemetry reports one peer address may upload per minute (after a burst of "
          "--telemetry_burst); reports are anonymous, so this is per address (docs/observability.md).");
ABSL_FLAG(double, telemetry_burst, 120, "Telemetry reports a peer address may upload at once.");
ABSL_FLAG(int64_t, telemetry_max_reports_per_window, 1000000,
          "Telemetry reports a task takes per window; more are refused (RESOURCE_EXHAUSTED).");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; enables TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; operators with a client certificate it signed need no token.");

namespace {

absl::StatusOr<std::string> OperatorToken(const std::string& data_dir) {
  std::string path = absl::GetFlag(FLAGS_admin_token_file);
  const bool given = !path.empty();
  if (!given) path = data_dir + "/admin.token";
  absl::StatusOr<std::string> token = fedtiny::ReadFile(path);
  if (token.ok()) {
    std::string t(absl::StripAsciiWhitespace(*token));
    // One token, or "name:token" lines (the audit log records the name).
    absl::Status parsed = fedtiny::coordinator::ParseOperatorTokens(t).status();
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", parsed.message()));
    return t;
  }
  if (given || token.status().code() != absl::StatusCode::kNotFound) return token.status();
  uint64_t words[2];
  fedtiny::aggregation::OpenSslRandomSource().Fill(absl::MakeSpan(words, 2));
  const std::string fresh = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(words), sizeof(words)));
  mkdir(data_dir.c_str(), 0755);
  // Created 0600 from the first byte (never 0644 then chmod'ed).
  absl::Status s = fedtiny::WriteFileAtomically(path, fresh + "\n", 0600);
  if (!s.ok()) return s;
  std::fprintf(stderr, "created an operator token in %s\n", path.c_str());
  return fresh;
}

// The ledger's settings from the --meter_* flags; an error names the flag.
absl::StatusOr<fedtiny::meter::LedgerOptions> MeterOptions(bool metering_on) {
  const std::vector<const absl::CommandLineFlag*> flags = {
      &absl::GetFlagReflectionHandle(FLAGS_meter_grant_calls),
      &absl::GetFlagReflectionHandle(FLAGS_meter_grant_validity),
      &absl::GetFlagReflectionHandle(FLAGS_meter_grace),
      &absl::GetFlagReflectionHandle(FLAGS_meter_grace_calls),
      &absl::GetFlagReflectionHandle(FLAGS_meter_counter_every),
      &absl::GetFlagReflectionHandle(FLAGS_meter_clock_skew),
      &absl::GetFlagReflectionHandle(FLAGS_meter_cut_off_on_flag),
      &absl::GetFlagReflectionHandle(FLAGS_meter_checkpoints_kept)};
  for (const absl::CommandLineFlag* f : flags) {
    // (Abseil 20220623 keeps IsSpecifiedOnCommandLine private: a value other
    // than the default is what shows the operator meant metering.)
    if (!metering_on && f->CurrentValue() != f->DefaultValue()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", f->Name(), " needs --meter_key (metering is off without it)"));
    }
  }
  fedtiny::meter::LedgerOptions o;
  o.grant_calls = absl::GetFlag(FLAGS_meter_grant_calls);
  o.grant_validity = absl::GetFlag(FLAGS_meter_grant_validity);
  o.grace = absl::GetFlag(FLAGS_meter_grace);
  o.grace_calls = absl::GetFlag(FLAGS_meter_grace_calls);
  o.counter_every = absl::GetFlag(FLAGS_meter_counter_every);
  o.clock_skew = absl::GetFlag(FLAGS_meter_clock_skew);
  o.cut_off_on_flag = absl::GetFlag(FLAGS_meter_cut_off_on_flag);
  const int64_t kept = absl::GetFlag(FLAGS_meter_checkpoints_kept);
  if (kept < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--meter_checkpoints_kept is ", kept, "; it must be at least 1"));
  }
  o.checkpoints_kept = static_cast<size_t>(kept);
  RETURN_IF_ERROR(fedtiny::meter::ValidateLedgerOptions(o, "--meter_"));
  return o;
}

void ServeUntilSignal(fedtiny::coordinator::Server& server) {
  std::thread waiter([&server] {
    const int sig = fedtiny::WaitForStop();
    FT_LOG(INFO) << "signal " << sig << ", shutting down";
    server.Shutdown();
  });
  server.Wait();
  waiter.join();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fedtiny coordinator: serves the Federation and Admin APIs");
  fedtiny::ListEveryFlagInHelp();
  absl::ParseCommandLine(argc, argv);
  // absl::Mutex's deadlock detection (a debug aid, on in Debian's abseil) builds a
  // lock graph on every lock and mutex destruction, gRPC's included: off in the
  // server binary; tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (absl::GetFlag(FLAGS_log_format) != "text" && absl::GetFlag(FLAGS_log_format) != "json") {
    std::fprintf(stderr, "coordinator: --log_format must be text or json\n");
    return 1;
  }
  fedtiny::logging::SetFormat(absl::GetFlag(FLAGS_log_format) == "json"
                                  ? fedtiny::logging::Format::kJson
                                  : fedtiny::logging::Format::kText);
  if (!fedtiny::InstallStopSignals()) {
    std::fprintf(stderr, "coordinator: cannot install signal handlers\n");
    return 1;
  }

  fedtiny::coordinator::Server::Options options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.http_port = absl::GetFlag(FLAGS_http_port);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.postgres = absl::GetFlag(FLAGS_postgres);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.trust_dir = absl::GetFlag(FLAGS_trust_dir);
  options.encrypt_bundles = absl::GetFlag(FLAGS_encrypt_bundles);
  options.meter_key_file = absl::GetFlag(FLAGS_meter_key);
  absl::StatusOr<fedtiny::meter::LedgerOptions> meter = MeterOptions(!options.meter_key_file.empty());
  if (!meter.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", std::string(meter.status().message()).c_str());
    return 1;
  }
  options.meter_options = *meter;
  options.telemetry_reports_per_minute = absl::GetFlag(FLAGS_telemetry_reports_per_minute);
  options.telemetry_burst = absl::GetFlag(FLAGS_telemetry_burst);
  options.telemetry_max_reports_per_window = absl::GetFlag(FLAGS_telemetry_max_reports_per_window);
  absl::StatusOr<std::string> token = OperatorToken(options.data_dir);
  if (!token.ok()) {
    std::fprintf(stderr, "coordinator: operator token: %s\n", token.status().ToString().c_str());
    return 1;
  }
  options.admin_token = *token;
  absl::StatusOr<fedtiny::coordinator::Server> server = fedtiny::coordinator::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", server->address().c_str());
  if (server->http_port() >= 0) {
    std::printf("metrics and dashboard on %s://%s:%d/\n",
                options.tls_cert_file.empty() ? "http" : "https", options.host.c_str(),
                server->http_port());
  }
  std::fflush(stdout);
  ServeUntilSignal(*server);
  return 0;
}
