#include "coordinator/federation_service.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "coordinator/raw_message.h"
#include "proto/grpc_status.h"

namespace fedtiny::coordinator {

namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const grpc::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(s);
  return reactor;
}

template <typename Response>
absl::StatusOr<Response> Empty(const absl::Status& s) {
  if (!s.ok()) return s;
  return Response();
}

std::string CheckInOutcome(const absl::StatusOr<v1::CheckInResponse>& r) {
  if (!r.ok()) return absl::AsciiStrToLower(absl::StatusCodeToString(r.status().code()));
  return r->has_assignment() ? "assigned" : "retry";
}

}  // namespace

template <typename Request, typename Handler>
grpc::ServerUnaryReactor* FederationService::Serve(const char* method,
                                                   grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* raw,
                                                   grpc::ByteBuffer* response, Handler handler) {
  // Latency is a duration on this machine, not protocol time: the monotonic
  // clock, not the injected one (which tests freeze).
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status;
  Request request;
  Coordinator* coordinator = coordinator_.load();
  if (coordinator == nullptr) {
    status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is loading");
  } else if (status = ParseRaw(*raw, &request); status.ok()) {
    auto result = handler(*coordinator, request);
    status = result.ok() ? SerializeRaw(*result, response) : ToGrpcStatus(result.status());
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics_->RecordRpc(method, static_cast<absl::StatusCode>(status.error_code()), raw->Length(),
                      status.ok() ? response->Length() : 0, took.count());
  return Finish(context, status);
}

grpc::ServerUnaryReactor* FederationService::CheckIn(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return Serve<v1::CheckInRequest>(
      "CheckIn", context, request, response, [this](Coordinator& c, const auto& r) {
        absl::StatusOr<v1::CheckInResponse> out = c.CheckIn(r);
        metrics_->RecordCheckIn(CheckInOutcome(out));
        if (out.ok() && out->has_assignment() && out->assignment().bundles_size() > 0) {
          metrics_->RecordAssignment(out->assignment().task(),
                                     out->assignment().bundles(0).variant());
        }
        return out;
      });
}

grpc::ServerUnaryReactor* FederationService::Download(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return Serve<v1::DownloadRequest>("Download", context, request, response,
                                    [](Coordinator& c, const auto& r) { return c.Download(r); });
}

grpc::ServerUnaryReactor* FederationService::Upload(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) {
  return Serve<v1::UploadRequest>(
      "Upload", context, request, response, [this](Coordinator& c, const auto& r) {
        absl::Status s = c.Upload(r);
        metrics_->RecordUpload(s);
        return Empty<v1::UploadResponse>(s);
      });
}

grpc::ServerUnaryReactor* FederationService::ReportFailure(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return Serve<v1::FailureReport>("ReportFailure", context, request, response,
                                  [](Coordinator& c, const auto& r) {
                                    return Empty<v1::FailureResponse>(c.ReportFailure(r));
                                  });
}

grpc::ServerUnaryReactor* FederationService::GetMetadata(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Serve<v1::MetadataRequest>("GetMetadata", context, request, response,
                                    [](Coordinator& c, const auto& r) { return c.GetMetadata(r); });
}

grpc::ServerUnaryReactor* FederationService::Enroll(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) {
  return Serve<v1::EnrollRequest>("Enroll", context, request, response,
                                  [](Coordinator& c, const auto& r) { return c.Enroll(r); });
}

}  // namespace fedtiny::coordinator
