// The coordinator's gRPC server: the Federation and Admin services, the gRPC
// health service and server reflection, on one port, over durable state in a
// data directory.
#ifndef FEDTINY_COORDINATOR_SERVER_H_
#define FEDTINY_COORDINATOR_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "coordinator/clock.h"

namespace fedtiny::coordinator {

class Coordinator;

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
    // Where tasks, rounds and models persist (created if absent). Required.
    std::string data_dir;
    // Operator token for the Admin API ("" = mutual TLS only).
    std::string admin_token;
    // Largest message accepted from a client.
    int max_receive_message_bytes = 16 * 1024 * 1024;
    // Null: the wall clock. Tests inject a FakeClock.
    std::shared_ptr<Clock> clock;
    // How often rounds past their deadline are closed.
    absl::Duration tick = absl::Milliseconds(250);
  };

  // Start opens the state, binds and serves. kInvalidArgument for bad options
  // (one TLS file without the other, unreadable files, no data_dir),
  // kUnavailable when the address cannot be bound, kDataLoss/kInternal when the
  // state cannot be loaded.
  static absl::StatusOr<Server> Start(const Options& options);

  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  ~Server();

  int port() const;
  std::string address() const;  // "host:port"
  Coordinator* coordinator() const;
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
