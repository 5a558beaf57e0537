// Load on the coordinator over real gRPC on loopback: N client threads, each with
// its own connection and `depth` calls in flight, play a fleet of `fleet` devices
// that check in again and again and upload a head-sized update (128-64-10: 8,906
// floats, 35.6 KB) when admitted; rounds close at `goal` reports and commit to
// SQLite (fsync) during the run. Or they only check in while ineligible (the
// pace-steering path). Every row counts after `--warmup` seconds of the same load. Also: the same work called in process (the coordinator's
// own cost), a Federation call answered at once, and gRPC's health check (the
// floor of a unary call here). Prints check-ins/s and uploads/s with MB/s.
//   bazel run -c opt //coordinator:load_benchmark -- --clients=8 --seconds=5
#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "coordinator/coordinator.h"
#include "coordinator/server.h"
#include "proto/admin.grpc.pb.h"
#include "proto/health.grpc.pb.h"
#include "tools/base/cpu_check.h"
#include "proto/federation.grpc.pb.h"

ABSL_FLAG(std::vector<std::string>, clients, std::vector<std::string>({"1", "2", "4"}),
          "Concurrent clients to try.");
ABSL_FLAG(double, seconds, 4, "Seconds per measurement.");
ABSL_FLAG(int, depth, 32, "RPCs in flight per client connection.");
ABSL_FLAG(int, goal, 1000, "Reports per round: rounds close by goal and commit (fsync) during the run.");
ABSL_FLAG(double, warmup, 1, "Seconds of load before each measurement counts.");
ABSL_FLAG(int, fleet, 20000, "Distinct devices in the fleet; each checks in again and again.");
ABSL_FLAG(std::string, data_dir, "/tmp/fedtiny-load-benchmark", "Server state (wiped).");

namespace v1 = fedtiny::v1;

namespace {

constexpr char kToken[] = "load-benchmark-operator-token";

v1::TaskConfig Task() {
  v1::TaskConfig c;
  c.set_name("load");
  c.set_population("load");
  fedtiny::client::Head all = fedtiny::client::MakeHead({784, 128, 64, 10}, 1);
  fedtiny::client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  *c.mutable_model() = fedtiny::client::ModelToProto(fedtiny::client::Body({all.layers[0]}), head);
  c.set_rounds(1000);
  c.set_clients_per_round(absl::GetFlag(FLAGS_goal));  // Rounds close by goal and commit.
  c.set_over_selection(1.0);
  c.set_min_reports(1);
  c.set_round_deadline_ms(3600 * 1000);
  c.mutable_eligibility()->set_min_battery_percent(50);
  return c;
}

struct Result {
  double checkins_per_s, uploads_per_s, mb_per_s;
};

// What the generators count; `checkins` also counts the trivial calls.
struct Counters {
  std::atomic<int64_t> checkins{0}, uploads{0}, bytes{0};
};

// Runs `body(t, counters, stop)` on `clients` threads until `stop`; counts only
// after `--warmup` seconds (steady state: the fleet has checked in before), then
// for `seconds`.
Result Measure(int clients, double seconds,
               const std::function<void(int, Counters&, const std::atomic<bool>&)>& body) {
  Counters n;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) threads.emplace_back([&, t] { body(t, n, stop); });
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_warmup)));
  n.checkins = 0;
  n.uploads = 0;
  n.bytes = 0;
  absl::SleepFor(absl::Seconds(seconds));
  const Result r{n.checkins / seconds, n.uploads / seconds, n.bytes / seconds / 1e6};
  stop = true;
  for (std::thread& t : threads) t.join();
  return r;
}

// A connection of its own (not shared with the other client threads).
std::shared_ptr<grpc::Channel> OwnChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);  // As the server: an upload in one frame.
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Keeps `depth` calls in flight on `cq`: start(s) issues a call tagged s;
// finished(s) handles its completion and returns true when it issued a
// follow-up call on that slot itself. Otherwise the slot starts over until
// `stop`. Returns once every slot has drained.
template <typename Start, typename Finished>
void KeepInFlight(grpc::CompletionQueue& cq, int depth, const std::atomic<bool>& stop, Start start,
                  Finished finished) {
  for (int s = 0; s < depth; ++s) start(s);
  int in_flight = depth;
  void* tag;
  bool ok;
  while (in_flight > 0 && cq.Next(&tag, &ok)) {
    const int s = static_cast<int>(reinterpret_cast<int64_t>(tag));
    if (finished(s)) continue;
    if (stop) {
      --in_flight;
    } else {
      start(s);
    }
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

void* Tag(int s) { return reinterpret_cast<void*>(int64_t{s}); }

// One unary call in flight.
template <typename Request, typename Response>
struct UnarySlot {
  Request req;
  Response resp;
  std::unique_ptr<grpc::ClientContext> ctx;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> rpc;
};

// Device `id` of the fleet checking in; `upload` false: on a metered network,
// so not eligible (the pace-steering path).
v1::CheckInRequest DeviceCheckIn(const std::string& prefix, int64_t id, bool upload) {
  v1::CheckInRequest req;
  req.set_device_id(absl::StrCat(prefix, id));
  req.set_population("load");
  req.set_device_secret(absl::StrCat("load-secret-", id, "-0123456789"));
  req.mutable_capabilities()->set_has_fpu(true);
  req.mutable_state()->set_charging(true);
  req.mutable_state()->set_idle(true);
  req.mutable_state()->set_unmetered_network(upload);
  req.mutable_state()->set_battery_percent(90);
  return req;
}

// The upload of the device that checked in with `req` and got `a`.
v1::UploadRequest DeviceUpload(const v1::CheckInRequest& req, const v1::Assignment& a,
                               const std::string& delta) {
  v1::UploadRequest up;
  up.set_task("load");
  up.set_round(a.round());
  up.set_upload_token(a.upload_token());
  up.set_device_secret(req.device_secret());
  up.set_example_count(10);
  up.set_model_version(a.bundles(0).version());
  up.set_delta(delta);
  return up;
}

const std::string& Delta() {
  static const std::string* delta = new std::string(8906 * sizeof(float), '\0');
  return *delta;
}

// One connection per client thread, `depth` RPCs in flight on it (async
// completion queue), so the generator is not latency-bound: each slot checks a
// device of the fleet in and, when admitted, uploads its delta, then starts over.
Result Run(const std::string& address, int clients, int depth, double seconds, bool upload) {
  const int64_t fleet = absl::GetFlag(FLAGS_fleet);
  return Measure(clients, seconds, [&](int t, Counters& n, const std::atomic<bool>& stop) {
    auto stub = v1::Federation::NewStub(OwnChannel(address));
    grpc::CompletionQueue cq;
    struct Slot {
      int64_t next_device = 0;
      bool uploading = false;
      UnarySlot<v1::CheckInRequest, v1::CheckInResponse> checkin;
      UnarySlot<v1::UploadRequest, v1::UploadResponse> upload;
    };
    std::vector<Slot> slots(depth);
    auto start_checkin = [&](int s) {
      Slot& slot = slots[s];
      const int64_t i = slot.next_device++;
      slot.uploading = false;
      const int64_t id = (static_cast<int64_t>(t) * depth + s + i * clients * depth) % fleet;
      auto& c = slot.checkin;
      c.req = DeviceCheckIn(upload ? "u" : "r", id, upload);
      c.ctx = std::make_unique<grpc::ClientContext>();
      c.rpc = stub->AsyncCheckIn(c.ctx.get(), c.req, &cq);
      c.rpc->Finish(&c.resp, &c.status, Tag(s));
    };
    auto finished = [&](int s) {
      Slot& slot = slots[s];
      if (slot.uploading) {
        if (slot.upload.status.ok()) {
          ++n.uploads;
          n.bytes += static_cast<int64_t>(Delta().size());
        }
        return false;
      }
      if (!slot.checkin.status.ok()) return false;
      ++n.checkins;
      if (stop || !slot.checkin.resp.has_assignment()) return false;
      slot.uploading = true;
      auto& u = slot.upload;
      u.req = DeviceUpload(slot.checkin.req, slot.checkin.resp.assignment(), Delta());
      u.ctx = std::make_unique<grpc::ClientContext>();
      u.rpc = stub->AsyncUpload(u.ctx.get(), u.req, &cq);
      u.rpc->Finish(&u.resp, &u.status, Tag(s));
      return true;
    };
    KeepInFlight(cq, depth, stop, start_checkin, finished);
  });
}

// Calls `call` (a stub's Async method) with the same generator; counts the
// completions `counted` accepts. For the floors: gRPC's own health check (a
// trivial unary call answered by the library), and a Federation call the
// coordinator answers at once (a failure report for an unknown task: NOT_FOUND),
// the cost of the service edge without the round logic.
template <typename Stub, typename Request, typename Response, typename Call>
double RunUnary(const std::string& address, int clients, int depth, double seconds,
                const Request& request, Call call,
                const std::function<bool(const grpc::Status&)>& counted) {
  return Measure(clients, seconds, [&](int, Counters& n, const std::atomic<bool>& stop) {
           auto stub = Stub::NewStub(OwnChannel(address));
           grpc::CompletionQueue cq;
           std::vector<UnarySlot<Request, Response>> slots(depth);
           auto start = [&](int s) {
             auto& c = slots[s];
             c.req = request;
             c.ctx = std::make_unique<grpc::ClientContext>();
             c.rpc = call(*stub, c.ctx.get(), c.req, &cq);
             c.rpc->Finish(&c.resp, &c.status, Tag(s));
           };
           auto finished = [&](int s) {
             if (counted(slots[s].status)) ++n.checkins;
             return false;
           };
           KeepInFlight(cq, depth, stop, start, finished);
         })
      .checkins_per_s;
}

double RunHealth(const std::string& address, int clients, int depth, double seconds) {
  using grpc::health::v1::Health;
  return RunUnary<Health, grpc::health::v1::HealthCheckRequest,
                  grpc::health::v1::HealthCheckResponse>(
      address, clients, depth, seconds, {},
      [](Health::Stub& stub, grpc::ClientContext* ctx,
         const grpc::health::v1::HealthCheckRequest& req, grpc::CompletionQueue* cq) {
        return stub.AsyncCheck(ctx, req, cq);
      },
      [](const grpc::Status& s) { return s.ok(); });
}

double RunTrivial(const std::string& address, int clients, int depth, double seconds) {
  v1::FailureReport report;
  report.set_task("no-such-task");
  return RunUnary<v1::Federation, v1::FailureReport, v1::FailureResponse>(
      address, clients, depth, seconds, report,
      [](v1::Federation::Stub& stub, grpc::ClientContext* ctx, const v1::FailureReport& req,
         grpc::CompletionQueue* cq) { return stub.AsyncReportFailure(ctx, req, cq); },
      [](const grpc::Status& s) { return s.error_code() == grpc::StatusCode::NOT_FOUND; });
}

// The same work without gRPC: `clients` threads call the Coordinator directly,
// so the figure is the coordinator's own cost per check-in (+ upload).
Result RunInProcess(fedtiny::coordinator::Coordinator* c, int clients, double seconds, bool upload) {
  const int64_t fleet = absl::GetFlag(FLAGS_fleet);
  return Measure(clients, seconds, [&](int t, Counters& n, const std::atomic<bool>& stop) {
    for (int64_t i = 0; !stop; ++i) {
      const v1::CheckInRequest req = DeviceCheckIn(upload ? "pu" : "pr", (t + i * clients) % fleet, upload);
      absl::StatusOr<v1::CheckInResponse> resp = c->CheckIn(req);
      if (!resp.ok()) continue;
      ++n.checkins;
      if (!resp->has_assignment()) continue;
      if (c->Upload(DeviceUpload(req, resp->assignment(), Delta())).ok()) {
        ++n.uploads;
        n.bytes += static_cast<int64_t>(Delta().size());
      }
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // As the server binary.
  const std::string dir = absl::GetFlag(FLAGS_data_dir);
  std::system(("rm -rf " + dir).c_str());
  fedtiny::coordinator::Server::Options o;
  o.data_dir = dir;
  o.admin_token = kToken;
  absl::StatusOr<fedtiny::coordinator::Server> server = fedtiny::coordinator::Server::Start(o);
  if (!server.ok()) {
    std::fprintf(stderr, "load_benchmark: %s\n", server.status().ToString().c_str());
    return 1;
  }
  if (!server->coordinator()->CreateTask(Task()).ok()) return 1;
  std::printf("CPU: %s\n", fedtiny::CpuModelName().c_str());
  std::printf("%-8s %-22s %14s %12s %10s\n", "clients", "path", "check-ins/s", "uploads/s", "MB/s");
  for (int clients : {1, 2}) {
    Result up = RunInProcess(server->coordinator(), clients, absl::GetFlag(FLAGS_seconds), true);
    std::printf("%-8d %-22s %14.0f %12.0f %10.1f\n", clients, "in process: both", up.checkins_per_s,
                up.uploads_per_s, up.mb_per_s);
    Result retry = RunInProcess(server->coordinator(), clients, absl::GetFlag(FLAGS_seconds), false);
    std::printf("%-8d %-22s %14.0f %12s %10s\n", clients, "in process: retry", retry.checkins_per_s,
                "-", "-");
  }
  for (const std::string& c : absl::GetFlag(FLAGS_clients)) {
    const int clients = std::stoi(c);
    Result up = Run(server->address(), clients, absl::GetFlag(FLAGS_depth),
                    absl::GetFlag(FLAGS_seconds), true);
    std::printf("%-8d %-22s %14.0f %12.0f %10.1f\n", clients, "check-in + upload", up.checkins_per_s,
                up.uploads_per_s, up.mb_per_s);
    Result retry = Run(server->address(), clients, absl::GetFlag(FLAGS_depth),
                       absl::GetFlag(FLAGS_seconds), false);
    std::printf("%-8d %-22s %14.0f %12s %10s\n", clients, "check-in (retry window)",
                retry.checkins_per_s, "-", "-");
    std::printf("%-8d %-22s %14.0f %12s %10s\n", clients, "failure report (404)",
                RunTrivial(server->address(), clients, absl::GetFlag(FLAGS_depth),
                           absl::GetFlag(FLAGS_seconds)),
                "-", "-");
    std::printf("%-8d %-22s %14.0f %12s %10s\n", clients, "gRPC health check",
                RunHealth(server->address(), clients, absl::GetFlag(FLAGS_depth),
                          absl::GetFlag(FLAGS_seconds)),
                "-", "-");
  }
  return 0;
}
