#include "client/transport/session.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "proto/grpc_status.h"
#include "tools/base/constant_time.h"
#include "tools/base/sha256.h"

namespace fedtiny::client {

namespace {

// gRPC's retry policy (gRFC A6) for every method of `service`: UNAVAILABLE
// only. DEADLINE_EXCEEDED is final (a late upload stays late), and gRPC never
// retries past the call's own deadline. Empty when there is nothing to retry.
std::string RetryServiceConfig(const SessionOptions& o, const std::string& service) {
  if (o.attempts < 2) return "";
  const double initial = std::max(0.001, absl::ToDoubleSeconds(o.backoff));
  return absl::StrFormat(
      R"({"methodConfig": [{"name": [{"service": "%s"}], "retryPolicy": {)"
      R"("maxAttempts": %d, "initialBackoff": "%.3fs", "maxBackoff": "%.3fs", )"
      R"("backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]})",
      service, std::min(o.attempts, 5), initial, initial * 16);
}

std::shared_ptr<grpc::ChannelCredentials> Credentials(const SessionOptions& o) {
  if (o.insecure && o.tls_root_cert_pem.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = o.tls_root_cert_pem;  // Empty: the system's trusted roots.
  return grpc::SslCredentials(ssl);
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeSessionChannel(const SessionOptions& options,
                                                  const std::string& service) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.chunk_bytes + (1 << 20));
  const std::string retry = RetryServiceConfig(options, service);
  if (!retry.empty()) {
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    args.SetServiceConfigJSON(retry);
    // A message larger than the retry buffer commits its call on the first
    // attempt; uploads are about a model's head, so allow up to a bundle's size.
    args.SetInt(GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE,
                static_cast<int>(std::clamp<int64_t>(options.max_bundle_bytes, 256 << 10,
                                                     std::numeric_limits<int>::max())));
  }
  // The policy is ours: a name resolver (DNS TXT records) may not replace it.
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  return grpc::CreateCustomChannel(options.address, Credentials(options), args);
}

FederationSession::FederationSession(const SessionOptions& options)
    : options_(options),
      rng_(options.seed != 0 ? options.seed
                             : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()))) {
  stub_ = v1::Federation::NewStub(
      MakeSessionChannel(options, v1::Federation::service_full_name()));
}

template <typename Call>
grpc::Status FederationSession::Within(absl::Duration deadline, Call call) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + std::max(deadline, absl::ZeroDuration())));
  return call(ctx);
}

absl::StatusOr<v1::CheckInResponse> FederationSession::CheckIn(const v1::CheckInRequest& request) {
  v1::CheckInResponse response;
  grpc::Status s = Within(options_.call_deadline, [&](grpc::ClientContext& ctx) {
    return stub_->CheckIn(&ctx, request, &response);
  });
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::Status FederationSession::CheckPace(absl::Time start, int64_t got) const {
  const absl::Duration elapsed = absl::Now() - start;
  if (elapsed >= options_.download_deadline) {
    return absl::DeadlineExceededError(absl::StrCat(
        "download: ", got, " bytes after ", absl::FormatDuration(elapsed),
        "; giving up at the download_deadline"));
  }
  if (elapsed > options_.slow_download_grace &&
      got < options_.min_download_bytes_per_second * absl::ToDoubleSeconds(elapsed)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "download: too slow, ", got, " bytes in ", absl::FormatDuration(elapsed),
        "; the minimum is ", options_.min_download_bytes_per_second, " bytes/s"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FederationSession::DownloadBundle(const v1::Assignment& a,
                                                              const v1::ModelBundle& bundle,
                                                              int64_t held_version) {
  std::string bytes;  // Grows as chunks arrive; nothing is reserved on the server's word.
  absl::StatusOr<Sha256Digest> digest =
      DownloadBundleTo(a, bundle, held_version, [&bytes](absl::string_view chunk) {
        bytes.append(chunk.data(), chunk.size());
        return absl::OkStatus();
      });
  if (!digest.ok()) return digest.status();
  return bytes;
}

absl::StatusOr<Sha256Digest> FederationSession::DownloadBundleTo(
    const v1::Assignment& a, const v1::ModelBundle& bundle, int64_t held_version,
    const std::function<absl::Status(absl::string_view chunk)>& sink) {
  if (bundle.version() < held_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing model version ", bundle.version(), ": this device holds ", held_version));
  }
  const int64_t size = bundle.size_bytes();
  if (size < 0) return absl::DataLossError("download: negative bundle size");
  if (size > options_.max_bundle_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "download: the bundle has ", size, " bytes, over this device's max_bundle_bytes (",
        options_.max_bundle_bytes, ")"));
  }
  const absl::Time start = absl::Now();
  int64_t received = 0;
  Sha256Hasher hasher;
  while (received < size) {
    absl::Status pace = CheckPace(start, received);
    if (!pace.ok()) return pace;
    v1::DownloadRequest req;
    req.set_task(a.task());
    req.set_round(a.round());
    req.set_upload_token(a.upload_token());
    req.set_cluster(bundle.cluster());
    req.set_variant(bundle.variant());
    req.set_offset(received);  // Resume where we are.
    req.set_max_bytes(options_.chunk_bytes);
    v1::DownloadResponse resp;
    const absl::Duration left = start + options_.download_deadline - absl::Now();
    grpc::Status s = Within(std::min(options_.call_deadline, left), [&](grpc::ClientContext& ctx) {
      return stub_->Download(&ctx, req, &resp);
    });
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      absl::Status pace = CheckPace(start, received);  // Say which deadline ran out.
      if (!pace.ok()) return pace;
    }
    if (!s.ok()) return FromGrpcStatus(s);
    const int64_t missing = size - received;
    if (resp.offset() != received || resp.data().empty() ||
        static_cast<int64_t>(resp.data().size()) > missing ||
        resp.bundle().version() != bundle.version() || resp.bundle().size_bytes() != size) {
      return absl::DataLossError("download: the server sent a chunk that does not continue the bundle");
    }
    if (absl::Status h = hasher.Update(resp.data()); !h.ok()) return h;
    if (absl::Status k = sink(resp.data()); !k.ok()) return k;
    received += static_cast<int64_t>(resp.data().size());
  }
  absl::StatusOr<Sha256Digest> d = hasher.Finish();
  if (!d.ok()) return d.status();
  if (!ConstantTimeEquals(absl::string_view(reinterpret_cast<const char*>(d->data()), d->size()),
                          bundle.sha256())) {
    return absl::DataLossError("download: SHA-256 mismatch; the bundle is corrupt or altered");
  }
  return *d;
}

absl::Status FederationSession::Upload(const v1::UploadRequest& request) {
  v1::UploadResponse response;
  return FromGrpcStatus(Within(options_.call_deadline, [&](grpc::ClientContext& ctx) {
    return stub_->Upload(&ctx, request, &response);
  }));
}

absl::Status FederationSession::ReportFailure(const v1::FailureReport& report) {
  v1::FailureResponse response;
  return FromGrpcStatus(Within(options_.call_deadline, [&](grpc::ClientContext& ctx) {
    return stub_->ReportFailure(&ctx, report, &response);
  }));
}

absl::StatusOr<std::string> FederationSession::GetMetadata(const std::string& path,
                                                           size_t max_bytes,
                                                           absl::Duration timeout) {
  v1::MetadataRequest request;
  request.set_path(path);
  request.set_max_bytes(static_cast<int64_t>(std::min<size_t>(max_bytes, 4 << 20)));
  v1::MetadataResponse response;
  grpc::Status s = Within(std::min(timeout, options_.call_deadline), [&](grpc::ClientContext& ctx) {
    return stub_->GetMetadata(&ctx, request, &response);
  });
  if (!s.ok()) return FromGrpcStatus(s);
  std::string data = std::move(*response.mutable_data());
  if (data.size() > max_bytes + 1) data.resize(max_bytes + 1);
  return data;
}

absl::StatusOr<v1::EnrollResponse> FederationSession::Enroll(const v1::EnrollRequest& request) {
  v1::EnrollResponse response;
  grpc::Status s = Within(options_.call_deadline, [&](grpc::ClientContext& ctx) {
    return stub_->Enroll(&ctx, request, &response);
  });
  if (!s.ok()) return FromGrpcStatus(s);
  return response;
}

absl::Duration FederationSession::JitteredDelay(const v1::RetryWindow& w) {
  // A server cannot park a device for longer than a day (the longest window the
  // protocol uses is 6-12 h), nor ask for a negative delay.
  constexpr int64_t kMaxMs = 24 * 3600 * 1000;
  const int64_t lo = std::clamp<int64_t>(w.earliest_ms(), 0, kMaxMs);
  const int64_t hi = std::clamp<int64_t>(w.latest_ms(), lo, kMaxMs);
  std::uniform_int_distribution<int64_t> u(lo, hi);
  return absl::Milliseconds(u(rng_));
}

}  // namespace fedtiny::client
