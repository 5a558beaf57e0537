#include "coordinator/admin_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "coordinator/raw_message.h"
#include "proto/grpc_status.h"
#include "tools/base/constant_time.h"

namespace fedtiny::coordinator {

namespace {

template <typename T>
grpc::Status Fill(absl::StatusOr<T> result, T* out) {
  if (result.ok()) *out = *std::move(result);
  return ToGrpcStatus(result.status());
}

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

// One page of `items` into `out` (a RepeatedPtrField): tokens are offsets into
// the list, so a page is stable while nothing is added at its front.
template <typename T, typename Field>
grpc::Status Page(std::vector<T> items, int page_size, const std::string& page_token,
                  Field* out, std::string* next_page_token) {
  if (page_size < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_size must be >= 0");
  }
  const size_t size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  size_t offset = 0;
  if (!page_token.empty() && (!absl::SimpleAtoi(page_token, &offset) || offset > items.size())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token is not one this server gave");
  }
  const size_t end = std::min(items.size(), offset + size);
  for (size_t i = offset; i < end; ++i) *out->Add() = std::move(items[i]);
  next_page_token->assign(end < items.size() ? absl::StrCat(end) : "");
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AdminService::Authorize(const grpc::ServerContextBase* context) const {
  if (mtls_ && context->auth_context() != nullptr && context->auth_context()->IsPeerAuthenticated()) {
    return grpc::Status::OK;
  }
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (!token_.empty() && it != md.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kBearer = "Bearer ";
    if (absl::StartsWith(value, kBearer) &&
        ConstantTimeEquals(value.substr(kBearer.size()), token_)) {
      return grpc::Status::OK;
    }
  }
  // Never echo what was sent: it may be a secret.
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "operator token missing or wrong (or no verified client certificate)");
}

#define FEDTINY_AUTHORIZE(ctx)                 \
  do {                                         \
    grpc::Status auth_ = Authorize(ctx);       \
    if (!auth_.ok()) return auth_;             \
  } while (false)

grpc::Status AdminService::DoCreateTask(const v1::CreateTaskRequest& r, v1::TaskInfo* out) {
  return Fill(coordinator_->CreateTask(r.config()), out);
}

grpc::Status AdminService::DoListTasks(const v1::ListTasksRequest& r, v1::ListTasksResponse* out) {
  return Page(coordinator_->ListTasks(), r.page_size(), r.page_token(), out->mutable_tasks(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoGetTask(const v1::GetTaskRequest& r, v1::TaskInfo* out) {
  return Fill(coordinator_->GetTask(r.task()), out);
}

grpc::Status AdminService::DoPauseTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out) {
  return Fill(coordinator_->SetPaused(r.task(), true), out);
}

grpc::Status AdminService::DoResumeTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out) {
  return Fill(coordinator_->SetPaused(r.task(), false), out);
}

grpc::Status AdminService::DoListRounds(const v1::ListRoundsRequest& r, v1::ListRoundsResponse* out) {
  absl::StatusOr<std::vector<v1::RoundInfo>> rounds = coordinator_->ListRounds(r.task(), r.limit());
  if (!rounds.ok()) return ToGrpcStatus(rounds.status());
  return Page(*std::move(rounds), r.page_size(), r.page_token(), out->mutable_rounds(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoGetRound(const v1::GetRoundRequest& r, v1::RoundInfo* out) {
  return Fill(coordinator_->GetRound(r.task(), r.round()), out);
}

grpc::Status AdminService::WatchRounds(grpc::ServerContext* ctx, const v1::WatchRoundsRequest* r,
                                       grpc::ServerWriter<v1::RoundInfo>* writer) {
  FEDTINY_AUTHORIZE(ctx);
  if (!r->task().empty()) {
    absl::Status exists = coordinator_->GetTask(r->task()).status();
    if (!exists.ok()) return ToGrpcStatus(exists);
  }
  // First the latest state already known, then every event as it happens.
  int64_t seq = 0;
  std::vector<v1::RoundInfo> backlog =
      coordinator_->WaitForRoundEvents(r->task(), &seq, absl::ZeroDuration());
  if (!backlog.empty() && !writer->Write(backlog.back())) return grpc::Status::OK;
  while (!ctx->IsCancelled() && !stopping_) {
    for (const v1::RoundInfo& info :
         coordinator_->WaitForRoundEvents(r->task(), &seq, absl::Milliseconds(500))) {
      if (!writer->Write(info)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::DoListModels(const v1::ListModelsRequest& r, v1::ListModelsResponse* out) {
  absl::StatusOr<std::vector<v1::ModelVersion>> models = coordinator_->ListModels(r.task());
  if (!models.ok()) return ToGrpcStatus(models.status());
  return Page(*std::move(models), r.page_size(), r.page_token(), out->mutable_versions(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoFleet(const v1::FleetRequest& r, v1::FleetResponse* out) {
  absl::StatusOr<v1::FleetResponse> fleet = coordinator_->Fleet(r.task());
  if (!fleet.ok()) return ToGrpcStatus(fleet.status());
  std::vector<v1::FleetCount> counts(fleet->counts().begin(), fleet->counts().end());
  return Page(std::move(counts), r.page_size(), r.page_token(), out->mutable_counts(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoVerify(const v1::VerifyRequest& r, v1::VerifyResponse* out) {
  return Fill(coordinator_->Verify(r.task()), out);
}

grpc::Status AdminService::DoGetModel(const v1::GetModelRequest& r, v1::GetModelResponse* out) {
  return Fill(coordinator_->GetModel(r.task(), r.cluster(), r.version()), out);
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* AdminService::Serve(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw, grpc::ByteBuffer* response,
    grpc::Status (AdminService::*handler)(const Request&, Response*)) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status auth = Authorize(context); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  Request request;
  grpc::Status s = ParseRaw(*raw, &request);
  Response out;
  if (s.ok()) s = (this->*handler)(request, &out);
  if (s.ok()) s = SerializeRaw(out, response);
  reactor->Finish(s);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::CreateTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoCreateTask);
}

grpc::ServerUnaryReactor* AdminService::ListTasks(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoListTasks);
}

grpc::ServerUnaryReactor* AdminService::GetTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoGetTask);
}

grpc::ServerUnaryReactor* AdminService::PauseTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoPauseTask);
}

grpc::ServerUnaryReactor* AdminService::ResumeTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoResumeTask);
}

grpc::ServerUnaryReactor* AdminService::ListRounds(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoListRounds);
}

grpc::ServerUnaryReactor* AdminService::GetRound(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoGetRound);
}

grpc::ServerUnaryReactor* AdminService::ListModels(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoListModels);
}

grpc::ServerUnaryReactor* AdminService::Fleet(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoFleet);
}

grpc::ServerUnaryReactor* AdminService::Verify(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoVerify);
}

grpc::ServerUnaryReactor* AdminService::GetModel(grpc::CallbackServerContext* ctx,
                                                  const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoGetModel);
}

}  // namespace fedtiny::coordinator
