#include "coordinator/admin_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "coordinator/meter/billing_csv.h"
#include "coordinator/page_size.h"
#include "coordinator/raw_message.h"
#include "coordinator/task_config.h"
#include "coordinator/telemetry/fleet_view.h"
#include "proto/grpc_status.h"
#include "tools/base/constant_time.h"
#include "tools/base/logging.h"

namespace fedtiny::coordinator {

namespace {

template <typename T>
grpc::Status Fill(absl::StatusOr<T> result, T* out) {
  if (result.ok()) *out = *std::move(result);
  return ToGrpcStatus(result.status());
}

// One page of `items` into `out` (a RepeatedPtrField): tokens are offsets into
// the list, so a page is stable while nothing is added at its front.
template <typename T, typename Field>
grpc::Status Page(std::vector<T> items, int page_size, const std::string& page_token,
                  Field* out, std::string* next_page_token) {
  absl::StatusOr<int> checked = PageSize(page_size);
  if (!checked.ok()) return ToGrpcStatus(checked.status());
  const size_t size = static_cast<size_t>(*checked);
  size_t offset = 0;
  if (!page_token.empty() && (!absl::SimpleAtoi(page_token, &offset) || offset > items.size())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "page_token is not one this server gave");
  }
  const size_t end = std::min(items.size(), offset + size);
  for (size_t i = offset; i < end; ++i) *out->Add() = std::move(items[i]);
  next_page_token->assign(end < items.size() ? absl::StrCat(end) : "");
  return grpc::Status::OK;
}

// What the audit log says a request asked for: (task, detail).
std::pair<std::string, std::string> AuditOf(const v1::CreateTaskRequest& r) {
  const v1::TaskConfig& c = r.config();
  return {c.name(), absl::StrCat("rounds=", c.rounds(), " clients_per_round=", c.clients_per_round(),
                                 " aggregator=", c.aggregator(), " clusters=", c.clusters())};
}
std::pair<std::string, std::string> AuditOf(const v1::SetTaskStateRequest& r) { return {r.task(), ""}; }
std::pair<std::string, std::string> AuditOf(const v1::DeleteTaskRequest& r) { return {r.task(), ""}; }
std::pair<std::string, std::string> AuditOf(const v1::UpdateTaskRequest& r) {
  return {r.task(), DescribeEdit(r)};
}
std::pair<std::string, std::string> AuditOf(const v1::RollbackRequest& r) {
  return {r.task(), absl::StrCat("cluster=", r.cluster(), " to_version=", r.to_version())};
}
std::pair<std::string, std::string> AuditOf(const v1::PinRequest& r) {
  return {r.task(), absl::StrCat("cluster=", r.cluster(), " version=", r.version(),
                                 r.pinned() ? " pin" : " unpin")};
}
std::pair<std::string, std::string> AuditOf(const v1::RevokeDeviceRequest& r) {
  return {"", absl::StrCat("device=", r.device_id().substr(0, 128))};
}
std::pair<std::string, std::string> AuditOf(const v1::CutOffDeviceRequest& r) {
  return {"", absl::StrCat("device=", r.device_id().substr(0, 128),
                           r.package().empty() ? "" : " package=", r.package().substr(0, 128),
                           r.restore() ? " restore" : "")};
}
template <typename Request>
std::pair<std::string, std::string> AuditOf(const Request&) { return {"", ""}; }

v1::UsageInfo UsageInfoOf(const meter::DeviceUsage& u) {
  v1::UsageInfo out;
  out.set_device_id(u.device_id);
  out.set_package(u.package);
  out.set_accepted_calls(u.accepted_calls);
  out.set_disputed_calls(u.disputed_calls);
  out.set_syncs(u.syncs);
  out.set_checkpoint_index(u.checkpoint_index);
  for (const auto& [flag, count] : u.flag_counts) {
    // "METER_FLAG_ROLLBACK" -> "rollback".
    std::string name = absl::AsciiStrToLower(meter::MeterFlag_Name(flag));
    (*out.mutable_flags())[std::string(absl::StripPrefix(name, "meter_flag_"))] = count;
  }
  out.set_last_flag(u.last_flag_detail);
  out.set_cut_off(u.cut_off);
  return out;
}

bool ValidTokenName(absl::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '@' || c == '-';
  });
}

}  // namespace

absl::StatusOr<std::vector<NamedToken>> ParseOperatorTokens(absl::string_view file) {
  std::vector<NamedToken> out;
  const std::vector<absl::string_view> lines = absl::StrSplit(file, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    NamedToken t;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      t = {"operator", std::string(line)};
    } else {
      t = {std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))};
    }
    if (!ValidTokenName(t.name)) {
      return absl::InvalidArgumentError(absl::StrCat("token line ", i + 1, ": bad name"));
    }
    if (t.token.size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("token line ", i + 1, ": token shorter than 16 characters"));
    }
    out.push_back(std::move(t));
  }
  if (out.size() > 1 && std::any_of(out.begin(), out.end(), [&](const NamedToken& t) {
        return std::count_if(out.begin(), out.end(), [&](const NamedToken& u) { return u.name == t.name; }) > 1;
      })) {
    return absl::InvalidArgumentError("token names must be unique");
  }
  return out;
}

namespace {

std::vector<NamedToken> TokensOrNone(const std::string& file) {
  absl::StatusOr<std::vector<NamedToken>> tokens = ParseOperatorTokens(file);
  if (!tokens.ok()) {
    FT_LOG(ERROR) << "operator tokens refused (" << tokens.status().message()
                  << "): only client certificates are accepted";
    return {};
  }
  return *std::move(tokens);
}

}  // namespace

AdminService::AdminService(Coordinator* coordinator, const std::string& tokens, bool mtls)
    : coordinator_(coordinator), tokens_(TokensOrNone(tokens)), mtls_(mtls) {}

grpc::Status AdminService::Authorize(const grpc::ServerContextBase* context, std::string* who) const {
  if (mtls_ && context->auth_context() != nullptr && context->auth_context()->IsPeerAuthenticated()) {
    std::string subject;
    for (const char* property : {"x509_subject", "x509_common_name"}) {
      std::vector<grpc::string_ref> v = context->auth_context()->FindPropertyValues(property);
      if (!v.empty()) {
        subject.assign(v.front().data(), v.front().size());
        break;
      }
    }
    *who = absl::StrCat("cert:", subject.empty() ? "unknown subject" : subject);
    return grpc::Status::OK;
  }
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (!tokens_.empty() && it != md.end()) {
    const absl::string_view value(it->second.data(), it->second.size());
    constexpr absl::string_view kBearer = "Bearer ";
    if (absl::StartsWith(value, kBearer)) {
      // Every token is compared (in constant time), whichever matches.
      const NamedToken* match = nullptr;
      for (const NamedToken& t : tokens_) {
        if (ConstantTimeEquals(value.substr(kBearer.size()), t.token)) match = &t;
      }
      if (match != nullptr) {
        *who = match->name;
        return grpc::Status::OK;
      }
    }
  }
  // Never echo what was sent: it may be a secret.
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "operator token missing or wrong (or no verified client certificate)");
}

#define FEDTINY_AUTHORIZE(ctx)                 \
  do {                                         \
    std::string who_;                          \
    grpc::Status auth_ = Authorize(ctx, &who_); \
    if (!auth_.ok()) return auth_;             \
  } while (false)

grpc::Status AdminService::DoCreateTask(const v1::CreateTaskRequest& r, v1::TaskInfo* out) {
  return Fill(c()->CreateTask(r.config()), out);
}

grpc::Status AdminService::DoListTasks(const v1::ListTasksRequest& r, v1::ListTasksResponse* out) {
  return Page(c()->ListTasks(), r.page_size(), r.page_token(), out->mutable_tasks(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoGetTask(const v1::GetTaskRequest& r, v1::TaskInfo* out) {
  return Fill(c()->GetTask(r.task()), out);
}

grpc::Status AdminService::DoPauseTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out) {
  return Fill(c()->SetPaused(r.task(), true), out);
}

grpc::Status AdminService::DoResumeTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out) {
  return Fill(c()->SetPaused(r.task(), false), out);
}

grpc::Status AdminService::DoListRounds(const v1::ListRoundsRequest& r, v1::ListRoundsResponse* out) {
  absl::StatusOr<std::vector<v1::RoundInfo>> rounds = c()->ListRounds(r.task(), r.limit());
  if (!rounds.ok()) return ToGrpcStatus(rounds.status());
  return Page(*std::move(rounds), r.page_size(), r.page_token(), out->mutable_rounds(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoGetRound(const v1::GetRoundRequest& r, v1::RoundInfo* out) {
  return Fill(c()->GetRound(r.task(), r.round()), out);
}

grpc::Status AdminService::WatchRounds(grpc::ServerContext* ctx, const v1::WatchRoundsRequest* r,
                                       grpc::ServerWriter<v1::RoundInfo>* writer) {
  FEDTINY_AUTHORIZE(ctx);
  if (c() == nullptr) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is loading");
  if (!r->task().empty()) {
    absl::Status exists = c()->GetTask(r->task()).status();
    if (!exists.ok()) return ToGrpcStatus(exists);
  }
  // First the latest state already known, then every event as it happens.
  int64_t seq = 0;
  std::vector<v1::RoundInfo> backlog =
      c()->WaitForRoundEvents(r->task(), &seq, absl::ZeroDuration());
  if (!backlog.empty() && !writer->Write(backlog.back())) return grpc::Status::OK;
  while (!ctx->IsCancelled() && !stopping_) {
    for (const v1::RoundInfo& info :
         c()->WaitForRoundEvents(r->task(), &seq, absl::Milliseconds(500))) {
      if (!writer->Write(info)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::DoListModels(const v1::ListModelsRequest& r, v1::ListModelsResponse* out) {
  absl::StatusOr<std::vector<v1::ModelVersion>> models = c()->ListModels(r.task());
  if (!models.ok()) return ToGrpcStatus(models.status());
  absl::StatusOr<StorageUse> use = c()->StorageUsage();
  if (!use.ok()) return ToGrpcStatus(use.status());
  out->set_stored_blobs(use->blobs);
  out->set_stored_bytes(use->bytes);
  return Page(*std::move(models), r.page_size(), r.page_token(), out->mutable_versions(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoFleet(const v1::FleetRequest& r, v1::FleetResponse* out) {
  absl::StatusOr<v1::FleetResponse> fleet = c()->Fleet(r.task());
  if (!fleet.ok()) return ToGrpcStatus(fleet.status());
  std::vector<v1::FleetCount> counts(fleet->counts().begin(), fleet->counts().end());
  return Page(std::move(counts), r.page_size(), r.page_token(), out->mutable_counts(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoVerify(const v1::VerifyRequest& r, v1::VerifyResponse* out) {
  return Fill(c()->Verify(r.task()), out);
}

grpc::Status AdminService::DoRollbackModel(const v1::RollbackRequest& r, v1::ModelVersion* out) {
  return Fill(c()->RollbackModel(r.task(), r.cluster(), r.to_version()), out);
}

grpc::Status AdminService::DoPinModel(const v1::PinRequest& r, v1::ModelVersion* out) {
  return Fill(c()->PinModel(r.task(), r.cluster(), r.version(), r.pinned()), out);
}

grpc::Status AdminService::DoStopTask(const v1::SetTaskStateRequest& r, v1::TaskInfo* out) {
  return Fill(c()->StopTask(r.task()), out);
}

grpc::Status AdminService::DoDeleteTask(const v1::DeleteTaskRequest& r, v1::DeleteTaskResponse*) {
  absl::Status s = c()->DeleteTask(r.task(), r.confirm());
  // A task created again under the name starts without the old telemetry.
  if (s.ok() && telemetry_ != nullptr) s = telemetry_->DropTask(r.task());
  return ToGrpcStatus(s);
}

grpc::Status AdminService::DoUpdateTask(const v1::UpdateTaskRequest& r, v1::TaskInfo* out) {
  return Fill(c()->UpdateTask(r), out);
}

grpc::Status AdminService::DoListAudit(const v1::ListAuditRequest& r, v1::ListAuditResponse* out) {
  absl::StatusOr<std::vector<AuditRow>> rows = c()->ListAudit(r.task(), r.limit());
  if (!rows.ok()) return ToGrpcStatus(rows.status());
  std::vector<v1::AuditEntry> entries;
  for (const AuditRow& a : *rows) {
    v1::AuditEntry e;
    e.set_seq(a.seq);
    e.set_time_ms(a.time_ms);
    e.set_who(a.who);
    e.set_action(a.action);
    e.set_task(a.task);
    e.set_detail(a.detail);
    e.set_outcome(a.outcome);
    entries.push_back(std::move(e));
  }
  return Page(std::move(entries), r.page_size(), r.page_token(), out->mutable_entries(),
              out->mutable_next_page_token());
}

grpc::Status AdminService::DoListDevices(const v1::ListDevicesRequest& r,
                                         v1::ListDevicesResponse* out) {
  return Fill(c()->ListDevices(r), out);
}

grpc::Status AdminService::DoRevokeDevice(const v1::RevokeDeviceRequest& r,
                                          v1::RevokeDeviceResponse*) {
  return ToGrpcStatus(c()->RevokeDevice(r.device_id()));
}

grpc::Status AdminService::DoListUsage(const v1::ListUsageRequest& r, v1::ListUsageResponse* out) {
  if (meter_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "metering not configured");
  }
  std::vector<meter::DeviceUsage> rows;
  for (meter::DeviceUsage& u : meter_->AllUsage()) {
    if (r.device_id().empty() || u.device_id == r.device_id()) rows.push_back(std::move(u));
  }
  for (const meter::DeviceUsage& u : rows) *out->add_usage() = UsageInfoOf(u);
  out->set_billing_csv(meter::BillingCsv(rows));
  return grpc::Status::OK;
}

grpc::Status AdminService::DoCutOffDevice(const v1::CutOffDeviceRequest& r,
                                          v1::CutOffDeviceResponse* out) {
  if (meter_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "metering not configured");
  }
  absl::StatusOr<int> n = meter_->CutOffDevice(r.device_id(), r.package(), !r.restore());
  if (!n.ok()) return ToGrpcStatus(n.status());
  out->set_pairs(*n);
  return grpc::Status::OK;
}

grpc::Status AdminService::DoFleetTelemetry(const v1::TelemetryViewRequest& r,
                                            v1::TelemetryViewResponse* out) {
  if (telemetry_ == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "telemetry not configured");
  }
  absl::StatusOr<v1::TaskInfo> task = c()->GetTask(r.task());
  if (!task.ok()) return ToGrpcStatus(task.status());
  if (!task->config().has_telemetry()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("task ", r.task(), " has no telemetry spec"));
  }
  *out = telemetry::BuildView(task->config().telemetry(), telemetry_->Snapshot(r.task()),
                              r.window_start_unix_s(), nulls_);
  return grpc::Status::OK;
}

grpc::Status AdminService::DoGetModel(const v1::GetModelRequest& r, v1::GetModelResponse* out) {
  return Fill(c()->GetModel(r.task(), r.cluster(), r.version()), out);
}

template <typename Request, typename Response>
grpc::ServerUnaryReactor* AdminService::Serve(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw, grpc::ByteBuffer* response,
    grpc::Status (AdminService::*handler)(const Request&, Response*), const char* action) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string who;
  if (grpc::Status auth = Authorize(context, &who); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  if (c() == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is loading"));
    return reactor;
  }
  Request request;
  grpc::Status s = ParseRaw(*raw, &request);
  Response out;
  if (s.ok()) s = (this->*handler)(request, &out);
  if (action != nullptr) {
    AuditRow row;
    row.who = std::move(who);
    row.action = action;
    std::tie(row.task, row.detail) = AuditOf(request);
    row.outcome = s.ok() ? "ok" : FromGrpcStatus(s).ToString();
    if (absl::Status a = c()->RecordAudit(std::move(row)); !a.ok()) {
      FT_LOG(ERROR) << "audit log: cannot record " << action << ": " << a;
    }
  }
  if (s.ok()) s = SerializeRaw(out, response);
  reactor->Finish(s);
  return reactor;
}

grpc::ServerUnaryReactor* AdminService::CreateTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoCreateTask, "CreateTask");
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
  return Serve(ctx, raw, out, &AdminService::DoPauseTask, "PauseTask");
}

grpc::ServerUnaryReactor* AdminService::ResumeTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoResumeTask, "ResumeTask");
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

grpc::ServerUnaryReactor* AdminService::RollbackModel(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoRollbackModel, "RollbackModel");
}

grpc::ServerUnaryReactor* AdminService::PinModel(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoPinModel, "PinModel");
}

grpc::ServerUnaryReactor* AdminService::StopTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoStopTask, "StopTask");
}

grpc::ServerUnaryReactor* AdminService::DeleteTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoDeleteTask, "DeleteTask");
}

grpc::ServerUnaryReactor* AdminService::UpdateTask(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoUpdateTask, "UpdateTask");
}

grpc::ServerUnaryReactor* AdminService::ListAudit(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoListAudit);
}

grpc::ServerUnaryReactor* AdminService::ListDevices(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* raw, grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoListDevices);
}

grpc::ServerUnaryReactor* AdminService::RevokeDevice(grpc::CallbackServerContext* ctx,
                                                    const grpc::ByteBuffer* raw,
                                                    grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoRevokeDevice, "RevokeDevice");
}

grpc::ServerUnaryReactor* AdminService::ListUsage(grpc::CallbackServerContext* ctx,
                                                 const grpc::ByteBuffer* raw,
                                                 grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoListUsage);
}

grpc::ServerUnaryReactor* AdminService::CutOffDevice(grpc::CallbackServerContext* ctx,
                                                    const grpc::ByteBuffer* raw,
                                                    grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoCutOffDevice, "CutOffDevice");
}

grpc::ServerUnaryReactor* AdminService::FleetTelemetry(grpc::CallbackServerContext* ctx,
                                                      const grpc::ByteBuffer* raw,
                                                      grpc::ByteBuffer* out) {
  return Serve(ctx, raw, out, &AdminService::DoFleetTelemetry);
}

}  // namespace fedtiny::coordinator
