// The coordinator's gRPC server: the Federation service, the gRPC health service
// and server reflection, on one port.
#ifndef FEDTINY_COORDINATOR_SERVER_H_
#define FEDTINY_COORDINATOR_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace fedtiny::coordinator {

// Server is a move-only handle on a running gRPC server; the destructor shuts it
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
    // Largest message accepted from a client.
    int max_receive_message_bytes = 16 * 1024 * 1024;
  };

  // Start binds and starts serving. Returns kInvalidArgument for bad options
  // (one TLS file without the other, unreadable files) and kUnavailable when the
  // address cannot be bound.
  static absl::StatusOr<Server> Start(const Options& options);

  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  ~Server();

  // The bound port.
  int port() const;
  // "host:port" of the bound address.
  std::string address() const;
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
