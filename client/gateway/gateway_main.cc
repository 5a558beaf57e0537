// fedtiny_gateway: relays a microcontroller's Federation calls from a serial
// link (a UART, a BLE serial profile, a QEMU serial port or a pty) to the
// coordinator. See client/gateway/gateway.h and docs/protocol.md, "Device link".
//   fedtiny_gateway --link=/dev/ttyACM0 --baud=115200 --server=coord.example:8443 --tls_ca=ca.pem
//   fedtiny_gateway --link=/dev/pts/7 --server=127.0.0.1:50051 --insecure
//   fedtiny_gateway --link=unix:/tmp/qemu-uart0.sock --server=127.0.0.1:50051 --insecure
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "client/gateway/gateway.h"
#include "client/gateway/link.h"
#include "tools/base/atomic_file.h"
#include "tools/base/flags_help.h"

ABSL_FLAG(std::string, link, "",
          "The device's link: a tty or pty path, or unix:PATH (a listening stream\n"
          "socket, e.g. QEMU's -serial unix:PATH,server=on).");
ABSL_FLAG(int, baud, 115200, "Line speed when the link is a serial port.");
ABSL_FLAG(std::string, server, "127.0.0.1:50051", "Coordinator address.");
ABSL_FLAG(bool, insecure, false, "Plaintext to the coordinator (loopback development).");
ABSL_FLAG(std::string, tls_ca, "", "PEM roots to verify the coordinator (default: the system's).");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fedtiny_gateway --link=/dev/ttyX --server=HOST:PORT [--insecure|--tls_ca=F]");
  fedtiny::ListEveryFlagInHelp();
  absl::ParseCommandLine(argc, argv);
  const std::string link = absl::GetFlag(FLAGS_link);
  if (link.empty()) {
    std::fprintf(stderr, "fedtiny_gateway: --link is required\n");
    return 1;
  }
  absl::StatusOr<int> opened = fedtiny::gateway::OpenLink(link, absl::GetFlag(FLAGS_baud));
  if (!opened.ok()) {
    std::fprintf(stderr, "fedtiny_gateway: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  const int fd = *opened;
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (absl::GetFlag(FLAGS_insecure)) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
      absl::StatusOr<std::string> roots = fedtiny::ReadFile(absl::GetFlag(FLAGS_tls_ca));
      if (!roots.ok()) {
        std::fprintf(stderr, "fedtiny_gateway: %s\n", roots.status().ToString().c_str());
        return 1;
      }
      ssl.pem_root_certs = *roots;
    }
    creds = grpc::SslCredentials(ssl);
  }
  fedtiny::gateway::Gateway gateway(grpc::CreateChannel(absl::GetFlag(FLAGS_server), creds), {});
  const absl::Status s = gateway.Serve(fd);
  const auto& st = gateway.stats();
  std::fprintf(stderr,
               "fedtiny_gateway: link closed: %llu frames in, %llu out (%llu errors), %llu bytes dropped\n",
               static_cast<unsigned long long>(st.frames_in), static_cast<unsigned long long>(st.frames_out),
               static_cast<unsigned long long>(st.errors_out),
               static_cast<unsigned long long>(st.dropped_bytes));
  close(fd);
  if (!s.ok()) {
    std::fprintf(stderr, "fedtiny_gateway: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
