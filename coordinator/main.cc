// The coordinator binary: serves the Federation API until SIGINT or SIGTERM.
//   coordinator --port=0            # loopback, a free port, printed on stdout
//   coordinator --host=0.0.0.0 --port=8443 --tls_cert=c.pem --tls_key=k.pem
#include <csignal>
#include <cstdio>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "coordinator/server.h"
#include "tools/base/logging.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on; loopback by default.");
ABSL_FLAG(int, port, 0, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; enables TLS.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");

namespace {

// Blocks SIGINT/SIGTERM in every thread, then waits for one on a helper thread
// and shuts the server down.
void ServeUntilSignal(fedtiny::coordinator::Server& server) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  std::thread waiter([&server, set] {
    int sig = 0;
    sigwait(&set, &sig);
    FT_LOG(INFO) << "signal " << sig << ", shutting down";
    server.Shutdown();
  });
  server.Wait();
  waiter.join();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fedtiny coordinator: serves the Federation API");
  absl::ParseCommandLine(argc, argv);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // Inherited by gRPC's threads.

  fedtiny::coordinator::Server::Options options;
  options.host = absl::GetFlag(FLAGS_host);
  options.port = absl::GetFlag(FLAGS_port);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  absl::StatusOr<fedtiny::coordinator::Server> server =
      fedtiny::coordinator::Server::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", server->address().c_str());
  std::fflush(stdout);
  ServeUntilSignal(*server);
  return 0;
}
