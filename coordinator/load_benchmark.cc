// Load on the coordinator over real gRPC on loopback: N client threads, each with
// its own connection and `depth` calls in flight, play a fleet of `fleet` devices
// that check in again and again and upload a head-sized update (128-64-10: 8,906
// floats, 35.6 KB) when admitted; rounds close at `goal` reports and commit to
// SQLite (fsync) during the run. Or they only check in while ineligible (the
// pace-steering path). Also: the same work called in process (the coordinator's
// own cost), a Federation call answered at once, and gRPC's health check (the
// floor of a unary call here). Prints check-ins/s and uploads/s with MB/s.
//   bazel run -c opt //coordinator:load_benchmark -- --clients=8 --seconds=5
#include <atomic>
#include <cstdio>
#include <fstream>
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

// The "model name" line of /proc/cpuinfo (benchmarks print what they ran on).
std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

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

// One connection per client thread, `depth` RPCs in flight on it (async
// completion queue), so the generator is not latency-bound: each slot checks a
// fresh device in and, when admitted, uploads its delta, then starts over.
Result Run(const std::string& address, int clients, int depth, double seconds, bool upload) {
  const int64_t fleet = absl::GetFlag(FLAGS_fleet);
  std::atomic<int64_t> checkins{0}, uploads{0}, bytes{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const std::string delta(8906 * sizeof(float), '\0');
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);  // A connection per client.
      args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
      auto stub = v1::Federation::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
      grpc::CompletionQueue cq;
      struct Slot {
        int64_t next_device = 0;
        bool uploading = false;
        v1::CheckInRequest req;
        v1::CheckInResponse resp;
        v1::UploadRequest up;
        v1::UploadResponse ur;
        std::unique_ptr<grpc::ClientContext> ctx;
        grpc::Status status;
        std::unique_ptr<grpc::ClientAsyncResponseReader<v1::CheckInResponse>> checkin_rpc;
        std::unique_ptr<grpc::ClientAsyncResponseReader<v1::UploadResponse>> upload_rpc;
      };
      std::vector<Slot> slots(depth);
      auto start_checkin = [&](int s) {
        Slot& slot = slots[s];
        const int64_t i = slot.next_device++;
        slot.uploading = false;
        slot.req.Clear();
        const int64_t id = (static_cast<int64_t>(t) * depth + s + i * clients * depth) % fleet;
        slot.req.set_device_id(absl::StrCat(upload ? "u" : "r", id));
        slot.req.set_population("load");
        slot.req.set_device_secret(absl::StrCat("load-secret-", id, "-0123456789"));
        slot.req.mutable_capabilities()->set_has_fpu(true);
        slot.req.mutable_state()->set_charging(true);
        slot.req.mutable_state()->set_idle(true);
        slot.req.mutable_state()->set_unmetered_network(upload);  // Metered: not eligible.
        slot.req.mutable_state()->set_battery_percent(90);
        slot.ctx = std::make_unique<grpc::ClientContext>();
        slot.checkin_rpc = stub->AsyncCheckIn(slot.ctx.get(), slot.req, &cq);
        slot.checkin_rpc->Finish(&slot.resp, &slot.status, reinterpret_cast<void*>(int64_t{s}));
      };
      auto start_upload = [&](int s) {
        Slot& slot = slots[s];
        slot.uploading = true;
        slot.up.set_task("load");
        slot.up.set_round(slot.resp.assignment().round());
        slot.up.set_upload_token(slot.resp.assignment().upload_token());
        slot.up.set_device_secret(slot.req.device_secret());
        slot.up.set_example_count(10);
        slot.up.set_model_version(slot.resp.assignment().bundles(0).version());
        slot.up.set_delta(delta);
        slot.ctx = std::make_unique<grpc::ClientContext>();
        slot.upload_rpc = stub->AsyncUpload(slot.ctx.get(), slot.up, &cq);
        slot.upload_rpc->Finish(&slot.ur, &slot.status, reinterpret_cast<void*>(int64_t{s}));
      };
      for (int s = 0; s < depth; ++s) start_checkin(s);
      int in_flight = depth;
      void* tag;
      bool ok;
      while (in_flight > 0 && cq.Next(&tag, &ok)) {
        const int s = static_cast<int>(reinterpret_cast<int64_t>(tag));
        Slot& slot = slots[s];
        if (!slot.uploading) {
          if (slot.status.ok()) ++checkins;
          if (!stop && slot.status.ok() && slot.resp.has_assignment()) {
            start_upload(s);
            continue;
          }
        } else if (slot.status.ok()) {
          ++uploads;
          bytes += static_cast<int64_t>(delta.size());
        }
        if (stop) {
          --in_flight;
        } else {
          start_checkin(s);
        }
      }
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  // Steady state: the fleet has checked in before (warm-up), then count.
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_warmup)));
  checkins = 0;
  uploads = 0;
  bytes = 0;
  absl::SleepFor(absl::Seconds(seconds));
  const Result r{checkins / seconds, uploads / seconds, bytes / seconds / 1e6};
  stop = true;
  for (std::thread& t : threads) t.join();
  return r;
}

// The floor: gRPC's own health check (a trivial unary call answered by the
// library) with the same generator, for the cost of gRPC itself here.
double RunHealth(const std::string& address, int clients, int depth, double seconds) {
  std::atomic<int64_t> calls{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      auto stub = grpc::health::v1::Health::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
      grpc::CompletionQueue cq;
      struct Slot {
        grpc::health::v1::HealthCheckRequest req;
        grpc::health::v1::HealthCheckResponse resp;
        std::unique_ptr<grpc::ClientContext> ctx;
        grpc::Status status;
        std::unique_ptr<grpc::ClientAsyncResponseReader<grpc::health::v1::HealthCheckResponse>> rpc;
      };
      std::vector<Slot> slots(depth);
      auto start = [&](int s) {
        slots[s].ctx = std::make_unique<grpc::ClientContext>();
        slots[s].rpc = stub->AsyncCheck(slots[s].ctx.get(), slots[s].req, &cq);
        slots[s].rpc->Finish(&slots[s].resp, &slots[s].status, reinterpret_cast<void*>(int64_t{s}));
      };
      for (int s = 0; s < depth; ++s) start(s);
      int in_flight = depth;
      void* tag;
      bool ok;
      while (in_flight > 0 && cq.Next(&tag, &ok)) {
        const int s = static_cast<int>(reinterpret_cast<int64_t>(tag));
        if (slots[s].status.ok()) ++calls;
        if (stop) {
          --in_flight;
        } else {
          start(s);
        }
      }
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  return calls / seconds;
}

// A Federation call the coordinator answers at once (a failure report for an
// unknown task: NOT_FOUND): the cost of the service edge without the round logic.
double RunTrivial(const std::string& address, int clients, int depth, double seconds) {
  std::atomic<int64_t> calls{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      grpc::ChannelArguments args;
      args.SetInt("grpc.use_local_subchannel_pool", 1);
      auto stub = v1::Federation::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
      grpc::CompletionQueue cq;
      struct Slot {
        v1::FailureReport req;
        v1::FailureResponse resp;
        std::unique_ptr<grpc::ClientContext> ctx;
        grpc::Status status;
        std::unique_ptr<grpc::ClientAsyncResponseReader<v1::FailureResponse>> rpc;
      };
      std::vector<Slot> slots(depth);
      auto start = [&](int s) {
        slots[s].req.set_task("no-such-task");
        slots[s].ctx = std::make_unique<grpc::ClientContext>();
        slots[s].rpc = stub->AsyncReportFailure(slots[s].ctx.get(), slots[s].req, &cq);
        slots[s].rpc->Finish(&slots[s].resp, &slots[s].status, reinterpret_cast<void*>(int64_t{s}));
      };
      for (int s = 0; s < depth; ++s) start(s);
      int in_flight = depth;
      void* tag;
      bool ok;
      while (in_flight > 0 && cq.Next(&tag, &ok)) {
        const int s = static_cast<int>(reinterpret_cast<int64_t>(tag));
        if (slots[s].status.error_code() == grpc::StatusCode::NOT_FOUND) ++calls;
        if (stop) {
          --in_flight;
        } else {
          start(s);
        }
      }
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (std::thread& t : threads) t.join();
  return calls / seconds;
}

// The same work without gRPC: `clients` threads call the Coordinator directly,
// so the figure is the coordinator's own cost per check-in (+ upload).
Result RunInProcess(fedtiny::coordinator::Coordinator* c, int clients, double seconds, bool upload) {
  const int64_t fleet = absl::GetFlag(FLAGS_fleet);
  std::atomic<int64_t> checkins{0}, uploads{0}, bytes{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const std::string delta(8906 * sizeof(float), '\0');
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      for (int64_t i = 0; !stop; ++i) {
        v1::CheckInRequest req;
        const int64_t id = (t + i * clients) % fleet;
        req.set_device_id(absl::StrCat(upload ? "pu" : "pr", id));
        req.set_population("load");
        req.set_device_secret(absl::StrCat("load-secret-", id, "-0123456789"));
        req.mutable_capabilities()->set_has_fpu(true);
        req.mutable_state()->set_charging(true);
        req.mutable_state()->set_idle(true);
        req.mutable_state()->set_unmetered_network(upload);
        req.mutable_state()->set_battery_percent(90);
        absl::StatusOr<v1::CheckInResponse> resp = c->CheckIn(req);
        if (!resp.ok()) continue;
        ++checkins;
        if (!resp->has_assignment()) continue;
        v1::UploadRequest up;
        up.set_task("load");
        up.set_round(resp->assignment().round());
        up.set_upload_token(resp->assignment().upload_token());
        up.set_device_secret(req.device_secret());
        up.set_example_count(10);
        up.set_model_version(resp->assignment().bundles(0).version());
        up.set_delta(delta);
        if (c->Upload(up).ok()) {
          ++uploads;
          bytes += static_cast<int64_t>(delta.size());
        }
      }
    });
  }
  // Steady state: the fleet has checked in before (warm-up), then count.
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_warmup)));
  checkins = 0;
  uploads = 0;
  bytes = 0;
  absl::SleepFor(absl::Seconds(seconds));
  const Result r{checkins / seconds, uploads / seconds, bytes / seconds / 1e6};
  stop = true;
  for (std::thread& t : threads) t.join();
  return r;
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
  std::printf("CPU: %s\n", CpuModel().c_str());
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
