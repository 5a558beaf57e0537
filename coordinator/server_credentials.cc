#include "coordinator/server_credentials.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path) {
  absl::StatusOr<std::string> s = ReadFile(path);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  return s;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsFiles& f) {
  const bool has_cert = !f.cert.empty(), has_key = !f.key.empty();
  if (has_cert != has_key) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
  }
  if (!has_cert) {
    if (!f.client_ca.empty()) {
      return absl::InvalidArgumentError("client certificates need TLS (--tls_cert, --tls_key)");
    }
    return grpc::InsecureServerCredentials();
  }
  ASSIGN_OR_RETURN(std::string cert, ReadPem(f.cert));
  ASSIGN_OR_RETURN(std::string key, ReadPem(f.key));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({key, cert});
  if (!f.client_ca.empty()) {
    ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(f.client_ca));
    // Devices need no certificate; operators may present one.
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace fedtiny::coordinator
