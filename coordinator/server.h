// The coordinator's gRPC server: the Federation, Metering, Telemetry and Admin services, the gRPC
// health service and server reflection, on one port, over durable state in a
// data directory; optionally an HTTP(S) port with /metrics, /healthz and the
// live dashboard (coordinator/http_server.h, docs/metrics.md).
//
// Readiness: the ports are bound first and gRPC health says NOT_SERVING (and
// /healthz 503) while the store loads; calls meanwhile get UNAVAILABLE
// "coordinator is loading". Once loaded and the data directory is writable,
// health says SERVING; the directory's writability is re-checked every tick
// (a probe file created and removed), and health follows it.
#ifndef FEDTINY_COORDINATOR_SERVER_H_
#define FEDTINY_COORDINATOR_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"
#include "coordinator/meter/meter_ledger.h"

namespace fedtiny::coordinator {

class Coordinator;
}  // namespace fedtiny::coordinator
namespace fedtiny::meter {
class DurableLedger;
}  // namespace fedtiny::meter
namespace fedtiny::coordinator::telemetry {
class Aggregates;
}  // namespace fedtiny::coordinator::telemetry
namespace fedtiny::coordinator {

// Server is a move-only handle on a running server; the destructor shuts it
// down and waits for in-flight calls. Thread-safe: Shutdown() and Wait() may be
// called from any thread.
class Server {
 public:
  struct Options {
    // Address to bind. The default listens on loopback only; operators pass
    // "0.0.0.0" (or "[::]") explicitly to serve a network.
    std::string host = "127.0.0.1";
    // 0 picks a free port; port() tells which.
    int port = 0;
    // PEM files. Both empty: plaintext. Both set: TLS.
    std::string tls_cert_file;
    std::string tls_key_file;
    // PEM CA bundle: client certificates signed by it are verified when
    // presented, and such clients may call the Admin API without a token.
    std::string tls_client_ca_file;
    // Where tasks, rounds and models persist (created if absent). Required:
    // with `postgres`, it still holds the files beside the store (operator
    // token, trust state, model keys, metering ledger, telemetry counts).
    std::string data_dir;
    // A libpq conninfo ("host=/run/postgresql dbname=fedtiny"): tasks, rounds
    // and models persist in that PostgreSQL database (PostgresStore) instead
    // of SQLite under data_dir. Never logged (it may hold a password).
    std::string postgres;
    // Operator token(s) for the Admin API: one token, or "name:token" lines
    // (ParseOperatorTokens in admin_service.h); "" = mutual TLS only.
    std::string admin_token;
    // The operator's trust directory (flctl keys init): its online keys sign
    // every committed version's bundles, and GetMetadata serves them. "":
    // bundles are served unsigned and no metadata is served, so devices that
    // require model trust refuse every bundle.
    std::string trust_dir;
    // With a trust_dir: serve every bundle encrypted, its model key wrapped at
    // check-in to the device's enrolled key (docs/security.md); devices must
    // enroll first. Model keys persist in <data_dir>/model_keys.pb (0600).
    // The coordinator binary turns it on (--encrypt_bundles, default true).
    bool encrypt_bundles = false;
    // PEM P-256 private key that signs metering grants and checkpoints
    // (docs/metering.md); the ledger persists in <data_dir>/meter_ledger.pb.
    // "": metering calls get FAILED_PRECONDITION "metering not configured".
    std::string meter_key_file;
    // The ledger's grant size, validity, grace, counter period and cut-off
    // policy (docs/metering.md); checked by ValidateLedgerOptions (an error
    // names the field as "meter_options.<field>").
    meter::LedgerOptions meter_options;
    // Telemetry (docs/observability.md): report counts persist in
    // <data_dir>/telemetry.pb. Each peer address may upload `per_minute`
    // reports a minute after a burst of `burst`; a task takes at most
    // `telemetry_max_reports_per_window` reports per window.
    double telemetry_reports_per_minute = 60;
    double telemetry_burst = 120;
    int64_t telemetry_max_reports_per_window = 1'000'000;
    // Largest message accepted from a client.
    int max_receive_message_bytes = 16 * 1024 * 1024;
    // Null: the wall clock. Tests inject a FakeClock.
    std::shared_ptr<Clock> clock;
    // How often rounds past their deadline are closed and the data directory's
    // writability is checked.
    absl::Duration tick = absl::Milliseconds(250);
    // The HTTP port (metrics, health, dashboard) on `host`: -1 off, 0 picks a
    // free one (http_port() tells which). HTTPS with the TLS files when given.
    int http_port = -1;
    // Tests: called after the ports are bound and before the store loads, with
    // the gRPC and HTTP ports, to observe the loading state.
    std::function<void(int port, int http_port)> loading_hook;
  };

  // Start binds and serves (NOT_SERVING), loads the state, then serves it.
  // Blocks until loaded. kInvalidArgument for bad options (one TLS file without
  // the other, unreadable files, no data_dir), kUnavailable when an address
  // cannot be bound, kDataLoss/kInternal when the state cannot be loaded.
  static absl::StatusOr<Server> Start(const Options& options);

  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  ~Server();

  int port() const;
  int http_port() const;  // -1 when off.
  std::string address() const;  // "host:port"
  Coordinator* coordinator() const;
  // The meter ledger, or null without a meter key.
  meter::DurableLedger* meter_ledger() const;
  // The telemetry report counts.
  telemetry::Aggregates* telemetry() const;
  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Stops accepting calls and cancels in-flight ones after a short grace period.
  void Shutdown();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_SERVER_H_
