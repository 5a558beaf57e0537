#include "coordinator/raw_message.h"

#include <string>

#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_writer.h>

namespace fedtiny::coordinator {

grpc::Status ParseRaw(const grpc::ByteBuffer& raw, google::protobuf::Message* message) {
  grpc::ByteBuffer copy(raw);  // The reader consumes its buffer.
  grpc::ProtoBufferReader reader(&copy);
  if (!message->ParseFromZeroCopyStream(&reader)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "request is not a valid " + message->GetDescriptor()->name());
  }
  return grpc::Status::OK;
}

grpc::Status SerializeRaw(const google::protobuf::Message& message, grpc::ByteBuffer* raw) {
  bool own_buffer = false;
  return grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(message, raw,
                                                                                   &own_buffer);
}

}  // namespace fedtiny::coordinator
