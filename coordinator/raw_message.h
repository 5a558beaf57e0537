// Requests and responses as raw bytes at the service edge: the services take
// their unary calls as grpc::ByteBuffer (gRPC's raw callback methods) so that they,
// not gRPC, decide what bytes that are not the method's message get.
#ifndef FEDTINY_COORDINATOR_RAW_MESSAGE_H_
#define FEDTINY_COORDINATOR_RAW_MESSAGE_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

namespace fedtiny::coordinator {

// Parses all of `raw` into `message`. INVALID_ARGUMENT naming the message type
// when the bytes are not one. Thread-compatible; `raw` is not consumed.
grpc::Status ParseRaw(const grpc::ByteBuffer& raw, google::protobuf::Message* message);

// Serializes `message` into `raw` (replacing its contents).
grpc::Status SerializeRaw(const google::protobuf::Message& message, grpc::ByteBuffer* raw);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_RAW_MESSAGE_H_
