// The Federation API (proto/federation.proto) that devices call: a thin edge
// that converts between gRPC and the Coordinator's absl::Status.
//
// Every call is counted in ServerMetrics (code, bytes, latency; check-ins by
// outcome, uploads by rejection reason). Until the server has loaded the store
// and attached the Coordinator, calls get UNAVAILABLE "coordinator is loading".
//
// Requests arrive as raw bytes and are parsed here, so bytes that are not the
// method's message get INVALID_ARGUMENT (gRPC's own parser would answer
// UNIMPLEMENTED or INTERNAL, which tells a device nothing true).
#ifndef FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
#define FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>

#include "coordinator/coordinator.h"
#include "coordinator/server_metrics.h"
#include "proto/federation.grpc.pb.h"

namespace fedtiny::coordinator {

using RawFederationService = v1::Federation::WithRawCallbackMethod_CheckIn<
    v1::Federation::WithRawCallbackMethod_Download<v1::Federation::WithRawCallbackMethod_Upload<
        v1::Federation::WithRawCallbackMethod_ReportFailure<
            v1::Federation::WithRawCallbackMethod_GetMetadata<
                v1::Federation::WithRawCallbackMethod_Enroll<v1::Federation::Service>>>>>>;

// Thread-safe (the Coordinator is). Borrows the metrics and the Coordinator,
// which must outlive it.
class FederationService final : public RawFederationService {
 public:
  explicit FederationService(ServerMetrics* metrics) : metrics_(metrics) {}

  // Attach starts serving `coordinator` (once loaded); until then every call is
  // answered UNAVAILABLE.
  void Attach(Coordinator* coordinator) { coordinator_.store(coordinator); }

  grpc::ServerUnaryReactor* CheckIn(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Download(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Upload(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReportFailure(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetMetadata(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;

 private:
  // Parses, calls `handler(coordinator, request) -> StatusOr<Response>`,
  // serializes the answer and records the call as `method`.
  template <typename Request, typename Handler>
  grpc::ServerUnaryReactor* Serve(const char* method, grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* raw, grpc::ByteBuffer* response,
                                  Handler handler);

  ServerMetrics* const metrics_;
  std::atomic<Coordinator*> coordinator_{nullptr};
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_FEDERATION_SERVICE_H_
