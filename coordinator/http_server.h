// The coordinator's HTTP listener (cpp-httplib): Prometheus metrics at
// /metrics, readiness at /healthz, the live dashboard at / and /dashboard and
// its data at /api/dashboard. HTTPS with the gRPC port's certificate when one
// is given. Only GET (httplib answers other methods 400, unknown paths 404).
#ifndef FEDTINY_COORDINATOR_HTTP_SERVER_H_
#define FEDTINY_COORDINATOR_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace fedtiny::coordinator {

// HttpServer serves on its own threads (httplib's pool) from Start until
// Stop or destruction, which blocks until they finish. Thread-safe: the
// handlers are called concurrently and must be thread-safe. Owns the handlers.
class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;  // 0 picks a free one.
    // PEM files; both set: HTTPS.
    std::string tls_cert_file;
    std::string tls_key_file;
  };
  struct Handlers {
    std::function<std::string()> metrics;         // Prometheus text.
    std::function<absl::Status()> health;         // OK, or why not ready.
    std::function<std::string()> dashboard_json;  // /api/dashboard.
  };

  // Start binds and serves. kInvalidArgument when the certificate or key cannot
  // be loaded, kUnavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const Options& options,
                                                           Handlers handlers);
  ~HttpServer();

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] bool tls() const { return tls_; }
  // Stop ends serving and joins the listener thread. Blocks; idempotent.
  void Stop();

 private:
  HttpServer(std::unique_ptr<httplib::Server> server, Handlers handlers, int port, bool tls);
  void Route();

  const std::unique_ptr<httplib::Server> server_;
  const Handlers handlers_;
  const int port_;
  const bool tls_;
  std::thread listener_;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_HTTP_SERVER_H_
