#include "sim/meter/ledger_link.h"

#include <sys/stat.h>

#include <chrono>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "coordinator/clock.h"
#include "coordinator/server.h"
#include "proto/grpc_status.h"
#include "proto/meter.grpc.pb.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"

namespace fedtiny::meter::sim {
namespace {

class InProcess final : public LedgerLink {
 public:
  InProcess(const LedgerOptions& options, absl::Time start)
      : clock_(start), ledger_(*crypto::EcPrivateKey::Generate(), options, clock_) {}
  absl::StatusOr<Signed> Enroll(const std::string& device_id,
                                std::optional<uint64_t> counter) override {
    return ledger_.Enroll(device_id, "pkg", counter);
  }
  absl::StatusOr<SyncResponse> Sync(const SyncRequest& request) override {
    return ledger_.Sync(request);
  }
  const crypto::EcPublicKey& public_key() const override { return ledger_.public_key(); }
  void Advance(absl::Duration d) override { clock_.Advance(d); }

 private:
  coordinator::FakeClock clock_;
  MeterLedger ledger_;
};

std::string Secret(const std::string& device_id) {
  return absl::StrCat("meter-fleet-secret-", device_id);
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

class OverGrpc final : public LedgerLink {
 public:
  OverGrpc(std::shared_ptr<coordinator::FakeClock> clock, coordinator::Server server,
           crypto::EcPrivateKey key)
      : clock_(std::move(clock)),
        server_(std::move(server)),
        key_(std::move(key)),
        stub_(Metering::NewStub(
            grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials()))) {}
  absl::StatusOr<Signed> Enroll(const std::string& device_id,
                                std::optional<uint64_t> counter) override {
    MeterEnrollRequest request;
    request.set_device_id(device_id);
    request.set_device_secret(Secret(device_id));
    request.set_package("pkg");
    request.set_has_counter(counter.has_value());
    request.set_counter(counter.value_or(0));
    MeterEnrollResponse response;
    RETURN_IF_ERROR(FromGrpcStatus(stub_->EnrollMeter(Context().get(), request, &response)));
    return response.grant();
  }
  absl::StatusOr<SyncResponse> Sync(const SyncRequest& request) override {
    SyncRequest r = request;
    r.set_device_secret(Secret(request.device_id()));
    SyncResponse response;
    RETURN_IF_ERROR(FromGrpcStatus(stub_->SyncUsage(Context().get(), r, &response)));
    return response;
  }
  const crypto::EcPublicKey& public_key() const override { return key_.public_key(); }
  void Advance(absl::Duration d) override { clock_->Advance(d); }

 private:
  std::shared_ptr<coordinator::FakeClock> clock_;
  coordinator::Server server_;
  crypto::EcPrivateKey key_;  // The coordinator's too (read from data_dir).
  std::unique_ptr<Metering::Stub> stub_;
};

}  // namespace

std::unique_ptr<LedgerLink> InProcessLink(const LedgerOptions& options, absl::Time start) {
  return std::make_unique<InProcess>(options, start);
}

absl::StatusOr<std::unique_ptr<LedgerLink>> GrpcLink(const LedgerOptions& options,
                                                     absl::Time start,
                                                     const std::string& data_dir) {
  mkdir(data_dir.c_str(), 0700);
  ASSIGN_OR_RETURN(crypto::EcPrivateKey key, crypto::EcPrivateKey::Generate());
  ASSIGN_OR_RETURN(std::string pem, key.ToPem());
  const std::string key_file = data_dir + "/meter.pem";
  RETURN_IF_ERROR(WriteFileAtomically(key_file, pem, 0600));
  auto clock = std::make_shared<coordinator::FakeClock>(start);
  coordinator::Server::Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.data_dir = data_dir;
  o.clock = clock;
  o.meter_key_file = key_file;
  o.meter_options = options;
  ASSIGN_OR_RETURN(coordinator::Server server, coordinator::Server::Start(o));
  return std::make_unique<OverGrpc>(std::move(clock), std::move(server), std::move(key));
}

}  // namespace fedtiny::meter::sim
