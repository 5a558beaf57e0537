// gRPC server credentials from PEM files, shared by the coordinator's server
// and the replicas (coordinator/replica/): TLS when a certificate and key are
// given, optionally asking clients (operators) for a certificate signed by a
// CA; plaintext otherwise (loopback defaults). Free functions; thread-safe.
#ifndef FEDTINY_COORDINATOR_SERVER_CREDENTIALS_H_
#define FEDTINY_COORDINATOR_SERVER_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace fedtiny::coordinator {

struct TlsFiles {
  std::string cert;       // PEM certificate chain; with `key`, enables TLS.
  std::string key;        // PEM private key for `cert`.
  std::string client_ca;  // PEM CA bundle; clients may present a certificate it signed.
};

// kInvalidArgument when only one of cert and key is set, a client CA is given
// without TLS, or a file cannot be read (naming the path, never its contents).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& f);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_SERVER_CREDENTIALS_H_
