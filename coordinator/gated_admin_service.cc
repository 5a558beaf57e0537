#include "coordinator/gated_admin_service.h"

namespace fedtiny::coordinator {

namespace {

const grpc::Status& Loading() {
  static const auto* s = new grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is loading");
  return *s;
}

grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(Loading());
  return reactor;
}

}  // namespace

grpc::ServerUnaryReactor* GatedAdminService::CreateTask(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->CreateTask(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::ListTasks(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->ListTasks(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::GetTask(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->GetTask(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::PauseTask(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->PauseTask(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::ResumeTask(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->ResumeTask(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::ListRounds(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->ListRounds(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::GetRound(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->GetRound(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::ListModels(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->ListModels(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::Fleet(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->Fleet(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::Verify(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->Verify(c, in, out) : Refuse(c);
}

grpc::ServerUnaryReactor* GatedAdminService::GetModel(grpc::CallbackServerContext* c,
    const grpc::ByteBuffer* in, grpc::ByteBuffer* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->GetModel(c, in, out) : Refuse(c);
}

grpc::Status GatedAdminService::WatchRounds(grpc::ServerContext* c,
                                            const v1::WatchRoundsRequest* in,
                                            grpc::ServerWriter<v1::RoundInfo>* out) {
  AdminService* admin = admin_.load();
  return admin != nullptr ? admin->WatchRounds(c, in, out) : Loading();
}

}  // namespace fedtiny::coordinator
