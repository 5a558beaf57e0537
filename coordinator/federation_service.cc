#include "coordinator/federation_service.h"

#include "coordinator/raw_message.h"
#include "proto/grpc_status.h"

namespace fedtiny::coordinator {

namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const grpc::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(s);
  return reactor;
}

// Parses, calls `handler(request) -> StatusOr<Response>`, serializes the answer.
template <typename Request, typename Handler>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
                                grpc::ByteBuffer* response, Handler handler) {
  Request request;
  if (grpc::Status parsed = ParseRaw(*raw, &request); !parsed.ok()) return Finish(context, parsed);
  auto result = handler(request);
  if (!result.ok()) return Finish(context, ToGrpcStatus(result.status()));
  return Finish(context, SerializeRaw(*result, response));
}

template <typename Response>
absl::StatusOr<Response> Empty(const absl::Status& s) {
  if (!s.ok()) return s;
  return Response();
}

}  // namespace

grpc::ServerUnaryReactor* FederationService::CheckIn(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return Serve<v1::CheckInRequest>(context, request, response, [this](const auto& r) {
    return coordinator_->CheckIn(r);
  });
}

grpc::ServerUnaryReactor* FederationService::Download(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return Serve<v1::DownloadRequest>(context, request, response, [this](const auto& r) {
    return coordinator_->Download(r);
  });
}

grpc::ServerUnaryReactor* FederationService::Upload(grpc::CallbackServerContext* context,
                                                    const grpc::ByteBuffer* request,
                                                    grpc::ByteBuffer* response) {
  return Serve<v1::UploadRequest>(context, request, response, [this](const auto& r) {
    return Empty<v1::UploadResponse>(coordinator_->Upload(r));
  });
}

grpc::ServerUnaryReactor* FederationService::ReportFailure(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request,
                                                           grpc::ByteBuffer* response) {
  return Serve<v1::FailureReport>(context, request, response, [this](const auto& r) {
    return Empty<v1::FailureResponse>(coordinator_->ReportFailure(r));
  });
}

}  // namespace fedtiny::coordinator
