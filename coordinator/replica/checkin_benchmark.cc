// Check-ins per second through 1, 2 and 3 replicas over one PostgreSQL server:
// `--threads` client threads, each a blocking CheckIn loop with a fresh device
// per call, over one channel balancing round-robin over the replicas. Two paths:
// "admit", every check-in an admission (a round with room for all: goal 10^6,
// deadline 1 h): two statements (read the round, then reserve a slot and insert
// the hashed token); "full", a round whose one slot is taken: "come back
// later", mostly from the replica's memory (Replica::Options::full_cache).
// Replicas run in this process,
// each with its own gRPC server and connections; PostgreSQL is a throwaway
// server (coordinator/testing/pg_server.h), so this binary is testonly.
//   bazel run -c opt //coordinator/replica:checkin_benchmark -- --seconds=5 --threads=8
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "coordinator/replica/replica.h"
#include "coordinator/testing/pg_server.h"
#include "proto/federation.grpc.pb.h"
#include "tests/e2e_data.h"
#include "tools/base/cpu_check.h"

ABSL_FLAG(std::string, replicas, "1,2,3", "Replica counts to measure.");
ABSL_FLAG(std::string, paths, "admit,full", "Check-in paths to measure (admit, full).");
ABSL_FLAG(int, threads, 8, "Client threads (blocking calls).");
ABSL_FLAG(double, seconds, 5, "Measured seconds per row (after 1 s of warm-up).");
ABSL_FLAG(int, connections, 4, "PostgreSQL connections per replica.");

namespace fedtiny::coordinator::replica {
namespace {

v1::CheckInRequest CheckInOf(const std::string& id) {
  return ::fedtiny::testing::EligibleCheckIn(id, "secret-of-" + id + "-0123456789");
}

struct Row {
  double per_second = 0;
  int64_t admitted = 0, calls = 0, errors = 0;
};

Row Measure(testing::PgServer& pg, int replicas, const std::string& path) {
  const std::string db = absl::StrCat("bench", replicas, "_", path);
  const std::string conninfo = *pg.CreateDatabase(db);
  v1::TaskConfig config = ::fedtiny::testing::SmallTask("bench", path == "full" ? 1 : 1'000'000, 10);
  config.set_round_deadline_ms(3'600'000);
  std::vector<Replica> running;
  std::string target = "ipv4:";
  for (int i = 0; i < replicas; ++i) {
    Replica::Options o;
    o.conninfo = conninfo;
    o.replica_id = absl::StrCat("r", i);
    o.task = "bench";
    o.create = config;
    o.connections = absl::GetFlag(FLAGS_connections);
    absl::StatusOr<Replica> r = Replica::Start(o);
    if (!r.ok()) {
      std::fprintf(stderr, "replica: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
    absl::StrAppend(&target, i ? "," : "", r->address());
    running.push_back(*std::move(r));
  }
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  auto stub = v1::Federation::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  std::atomic<bool> counting{false}, stop{false};
  std::atomic<int64_t> admitted{0}, calls{0}, errors{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
    clients.emplace_back([&, t] {
      for (int64_t n = 0; !stop.load(); ++n) {
        grpc::ClientContext ctx;
        v1::CheckInResponse resp;
        const grpc::Status s = stub->CheckIn(&ctx, CheckInOf(absl::StrCat("d", t, "-", n)), &resp);
        if (!counting.load()) continue;
        ++calls;
        if (!s.ok()) ++errors;
        if (resp.has_assignment()) ++admitted;
      }
    });
  }
  absl::SleepFor(absl::Seconds(1));  // Warm-up: the first round opens, connections settle.
  counting.store(true);
  const absl::Time t0 = absl::Now();
  absl::SleepFor(absl::Seconds(absl::GetFlag(FLAGS_seconds)));
  counting.store(false);
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - t0);
  stop.store(true);
  for (std::thread& c : clients) c.join();
  Row row;
  row.admitted = admitted.load();
  row.calls = calls.load();
  row.errors = errors.load();
  row.per_second = static_cast<double>(row.calls) / elapsed;
  return row;
}

}  // namespace
}  // namespace fedtiny::coordinator::replica

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using fedtiny::coordinator::testing::PgServer;
  if (!PgServer::Installed()) {
    std::fprintf(stderr, "%s\n", PgServer::kMissing);
    return 1;
  }
  absl::StatusOr<std::unique_ptr<PgServer>> pg = PgServer::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "postgres: %s\n", pg.status().ToString().c_str());
    return 1;
  }
  std::printf("CPU: %s (%u hardware threads)\n", fedtiny::CpuModelName().c_str(),
              std::thread::hardware_concurrency());
  std::printf("path   replicas  client threads  check-ins/s  admitted  errors\n");
  const std::vector<std::string> paths = absl::StrSplit(absl::GetFlag(FLAGS_paths), ',');
  for (const std::string& path : paths) {
    for (absl::string_view n : absl::StrSplit(absl::GetFlag(FLAGS_replicas), ',')) {
      int replicas = 0;
      if (!absl::SimpleAtoi(n, &replicas) || replicas < 1) continue;
      const fedtiny::coordinator::replica::Row row =
          fedtiny::coordinator::replica::Measure(**pg, replicas, path);
      std::printf("%-6s %-9d %-15d %-12.0f %-9lld %lld\n", path.c_str(), replicas,
                  absl::GetFlag(FLAGS_threads), row.per_second,
                  static_cast<long long>(row.admitted), static_cast<long long>(row.errors));
      std::fflush(stdout);
    }
  }
  return 0;
}
