#include "client/transport/session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tools/base/constant_time.h"
#include "tools/base/sha256.h"

namespace fedtiny::client {

namespace {

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

bool Transient(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE ||
         s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

}  // namespace

FederationSession::FederationSession(const SessionOptions& options)
    : options_(options),
      rng_(options.seed != 0 ? options.seed
                             : static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()))) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls_root_cert_pem.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_root_cert_pem;
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.chunk_bytes + (1 << 20));
  stub_ = v1::Federation::NewStub(grpc::CreateCustomChannel(options.address, creds, args));
}

template <typename Call>
grpc::Status FederationSession::WithRetries(Call call) {
  absl::Duration delay = options_.backoff;
  grpc::Status s;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.call_deadline)));
    s = call(ctx);
    if (s.ok() || !Transient(s) || attempt == options_.attempts) return s;
    // Full jitter: sleep uniformly in [0, delay], then double the ceiling.
    std::uniform_real_distribution<double> u(0, absl::ToDoubleMilliseconds(delay));
    absl::SleepFor(absl::Milliseconds(u(rng_)));
    delay *= 2;
  }
  return s;
}

absl::StatusOr<v1::CheckInResponse> FederationSession::CheckIn(const v1::CheckInRequest& request) {
  v1::CheckInResponse response;
  grpc::Status s = WithRetries([&](grpc::ClientContext& ctx) {
    return stub_->CheckIn(&ctx, request, &response);
  });
  if (!s.ok()) return FromGrpc(s);
  return response;
}

absl::StatusOr<std::string> FederationSession::DownloadBundle(const v1::Assignment& a,
                                                              const v1::ModelBundle& bundle,
                                                              int64_t held_version) {
  if (bundle.version() < held_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing model version ", bundle.version(), ": this device holds ", held_version));
  }
  if (bundle.size_bytes() < 0 || bundle.size_bytes() > (int64_t{1} << 30)) {
    return absl::DataLossError("bundle size is implausible");
  }
  std::string bytes;
  bytes.reserve(bundle.size_bytes());
  while (static_cast<int64_t>(bytes.size()) < bundle.size_bytes()) {
    v1::DownloadRequest req;
    req.set_task(a.task());
    req.set_round(a.round());
    req.set_upload_token(a.upload_token());
    req.set_cluster(bundle.cluster());
    req.set_variant(bundle.variant());
    req.set_offset(static_cast<int64_t>(bytes.size()));  // Resume where we are.
    req.set_max_bytes(options_.chunk_bytes);
    v1::DownloadResponse resp;
    grpc::Status s = WithRetries([&](grpc::ClientContext& ctx) {
      return stub_->Download(&ctx, req, &resp);
    });
    if (!s.ok()) return FromGrpc(s);
    if (resp.offset() != static_cast<int64_t>(bytes.size()) || resp.data().empty() ||
        resp.bundle().version() != bundle.version() ||
        resp.bundle().size_bytes() != bundle.size_bytes()) {
      return absl::DataLossError("download: the server sent a chunk that does not continue the bundle");
    }
    bytes += resp.data();
  }
  if (static_cast<int64_t>(bytes.size()) != bundle.size_bytes()) {
    return absl::DataLossError("download: size differs from the bundle's");
  }
  absl::StatusOr<Sha256Digest> d = Sha256(bytes);
  if (!d.ok()) return d.status();
  if (!ConstantTimeEquals(absl::string_view(reinterpret_cast<const char*>(d->data()), d->size()),
                          bundle.sha256())) {
    return absl::DataLossError("download: SHA-256 mismatch; the bundle is corrupt or altered");
  }
  return bytes;
}

absl::Status FederationSession::Upload(const v1::UploadRequest& request) {
  v1::UploadResponse response;
  return FromGrpc(WithRetries([&](grpc::ClientContext& ctx) {
    return stub_->Upload(&ctx, request, &response);
  }));
}

absl::Status FederationSession::ReportFailure(const v1::FailureReport& report) {
  v1::FailureResponse response;
  return FromGrpc(WithRetries([&](grpc::ClientContext& ctx) {
    return stub_->ReportFailure(&ctx, report, &response);
  }));
}

absl::Duration FederationSession::JitteredDelay(const v1::RetryWindow& w) {
  const int64_t lo = std::max<int64_t>(0, w.earliest_ms());
  const int64_t hi = std::max(lo, w.latest_ms());
  std::uniform_int_distribution<int64_t> u(lo, hi);
  return absl::Milliseconds(u(rng_));
}

}  // namespace fedtiny::client
