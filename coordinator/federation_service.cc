#include "coordinator/federation_service.h"

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include "coordinator/grpc_status.h"

namespace fedtiny::coordinator {

namespace {

grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const grpc::Status& s) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(s);
  return reactor;
}

// Parses `raw` as a Request: the whole buffer, and nothing but the message.
template <typename Request>
grpc::Status Parse(const grpc::ByteBuffer* raw, Request* request) {
  grpc::ByteBuffer copy(*raw);  // The reader consumes its buffer.
  grpc::ProtoBufferReader reader(&copy);
  if (!request->ParseFromZeroCopyStream(&reader)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string("request is not a valid ") + Request::descriptor()->name());
  }
  return grpc::Status::OK;
}

// Parses, calls `handler(request) -> StatusOr<Response>`, serializes the answer.
template <typename Request, typename Handler>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
                                grpc::ByteBuffer* response, Handler handler) {
  Request request;
  if (grpc::Status parsed = Parse(raw, &request); !parsed.ok()) return Finish(context, parsed);
  auto result = handler(request);
  if (!result.ok()) return Finish(context, ToGrpcStatus(result.status()));
  bool own = false;
  grpc::Status s = grpc::GenericSerialize<grpc::ProtoBufferWriter, typename decltype(result)::value_type>(
      *result, response, &own);
  return Finish(context, s);
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
