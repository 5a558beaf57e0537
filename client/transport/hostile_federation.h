// A Federation server for tests that plays the hostile coordinator: it answers
// with whatever its Script says (huge announced sizes, 1-byte or empty chunks,
// absurd plans, DEADLINE_EXCEEDED or UNAVAILABLE uploads) and counts what the
// device sent. Plaintext on 127.0.0.1, port picked by the kernel.
#ifndef FEDTINY_CLIENT_TRANSPORT_HOSTILE_FEDERATION_H_
#define FEDTINY_CLIENT_TRANSPORT_HOSTILE_FEDERATION_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/core/model.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::client::testing {

struct Script {
  v1::CheckInResponse check_in;  // Every CheckIn gets this.
  std::string bundle;     // The bytes Download serves (for every bundle).
  int64_t max_chunk = 0;  // > 0: at most this many bytes per chunk (1: drip).
  bool empty_chunks = false;  // Every chunk carries no data.
  grpc::StatusCode download_code =
      grpc::StatusCode::OK;  // Non-OK: Download fails.
  // Upload i answers upload_codes[i]; OK past the end.
  std::vector<grpc::StatusCode> upload_codes;
};

// What the server saw. A snapshot.
struct Seen {
  int check_ins = 0;
  int downloads = 0;
  int uploads = 0;
  std::vector<std::string> failure_reasons;
  // The "grpc-previous-rpc-attempts" header of each Upload ("" when absent):
  // gRPC's retry policy sets it on its retries.
  std::vector<std::string> upload_previous_attempts;
  v1::UploadRequest last_upload;  // The newest Upload's request.
};

// Thread-safe (gRPC's threads call it). Owns its server; the destructor stops
// it.
class HostileFederation final : public v1::Federation::Service {
 public:
  explicit HostileFederation(Script script);
  ~HostileFederation() override;

  std::string address() const { return address_; }
  Seen seen() const;

  grpc::Status CheckIn(grpc::ServerContext*, const v1::CheckInRequest*,
                       v1::CheckInResponse* response) override;
  grpc::Status Download(grpc::ServerContext*,
                        const v1::DownloadRequest* request,
                        v1::DownloadResponse* response) override;
  grpc::Status Upload(grpc::ServerContext* context, const v1::UploadRequest*,
                      v1::UploadResponse*) override;
  grpc::Status ReportFailure(grpc::ServerContext*,
                             const v1::FailureReport* report,
                             v1::FailureResponse*) override;

 private:
  const Script script_;
  mutable absl::Mutex mu_;
  Seen seen_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

// A valid serialized Model with no body and a head of `widths` (e.g. {6, 3}).
std::string ModelBytes(const std::vector<int64_t>& widths);

// An assignment with `bundles` bundles of `bytes` (announced size and SHA-256
// as given), a sane plan, and the upload token "token".
v1::CheckInResponse AssignmentFor(const std::string& bytes, int bundles = 1);

}  // namespace fedtiny::client::testing

#endif  // FEDTINY_CLIENT_TRANSPORT_HOSTILE_FEDERATION_H_
