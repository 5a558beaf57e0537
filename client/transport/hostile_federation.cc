#include "client/transport/hostile_federation.h"

#include <algorithm>

#include "client/transport/model_proto.h"
#include "tools/base/sha256.h"

namespace fedtiny::client::testing {

HostileFederation::HostileFederation(Script script)
    : script_(std::move(script)) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  address_ = "127.0.0.1:" + std::to_string(port);
}

HostileFederation::~HostileFederation() { server_->Shutdown(); }

Seen HostileFederation::seen() const {
  absl::MutexLock lock(&mu_);
  return seen_;
}

grpc::Status HostileFederation::CheckIn(grpc::ServerContext*,
                                        const v1::CheckInRequest*,
                                        v1::CheckInResponse* response) {
  absl::MutexLock lock(&mu_);
  ++seen_.check_ins;
  *response = script_.check_in;
  return grpc::Status::OK;
}

grpc::Status HostileFederation::Download(grpc::ServerContext*,
                                         const v1::DownloadRequest* request,
                                         v1::DownloadResponse* response) {
  {
    absl::MutexLock lock(&mu_);
    ++seen_.downloads;
  }
  if (script_.download_code != grpc::StatusCode::OK) {
    return grpc::Status(script_.download_code, "scripted");
  }
  const std::string& b = script_.bundle;
  const int64_t offset = std::clamp<int64_t>(request->offset(), 0, b.size());
  int64_t n = std::min<int64_t>(request->max_bytes(), b.size() - offset);
  if (script_.max_chunk > 0) n = std::min(n, script_.max_chunk);
  if (script_.empty_chunks) n = 0;
  // The bundle as announced in the assignment, so the device's checks pass.
  for (const v1::ModelBundle& m : script_.check_in.assignment().bundles()) {
    if (m.cluster() == request->cluster()) *response->mutable_bundle() = m;
  }
  response->set_offset(offset);
  response->set_data(b.substr(offset, n));
  return grpc::Status::OK;
}

grpc::Status HostileFederation::Upload(grpc::ServerContext* context,
                                       const v1::UploadRequest* request,
                                       v1::UploadResponse*) {
  std::string previous;
  const auto& meta = context->client_metadata();
  auto it = meta.find("grpc-previous-rpc-attempts");
  if (it != meta.end()) previous.assign(it->second.data(), it->second.size());
  absl::MutexLock lock(&mu_);
  const int i = seen_.uploads++;
  seen_.upload_previous_attempts.push_back(previous);
  seen_.last_upload = *request;
  if (i < static_cast<int>(script_.upload_codes.size()) &&
      script_.upload_codes[i] != grpc::StatusCode::OK) {
    return grpc::Status(script_.upload_codes[i], "scripted");
  }
  return grpc::Status::OK;
}

grpc::Status HostileFederation::ReportFailure(grpc::ServerContext*,
                                              const v1::FailureReport* report,
                                              v1::FailureResponse*) {
  absl::MutexLock lock(&mu_);
  seen_.failure_reasons.push_back(report->reason());
  return grpc::Status::OK;
}

std::string ModelBytes(const std::vector<int64_t>& widths) {
  return ModelToProto(Body(), MakeHead(widths, /*seed=*/7)).SerializeAsString();
}

v1::CheckInResponse AssignmentFor(const std::string& bytes, int bundles) {
  v1::CheckInResponse r;
  v1::Assignment* a = r.mutable_assignment();
  a->set_task("hostile");
  a->set_round(1);
  a->set_upload_token("token");
  a->set_deadline_ms(60000);
  v1::Plan* p = a->mutable_plan();
  p->set_epochs(1);
  p->set_batch_size(4);
  p->set_learning_rate(0.05f);
  const Sha256Digest d = *Sha256(bytes);
  for (int k = 0; k < bundles; ++k) {
    v1::ModelBundle* b = a->add_bundles();
    b->set_task("hostile");
    b->set_cluster(k);
    b->set_version(1);
    b->set_variant("float32");
    b->set_size_bytes(static_cast<int64_t>(bytes.size()));
    b->set_sha256(
        std::string(reinterpret_cast<const char*>(d.data()), d.size()));
  }
  return r;
}

}  // namespace fedtiny::client::testing
