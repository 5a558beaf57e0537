// A coordinator replica (docs/replicas.md): serves the Federation API of one
// task over a PostgreSQL database shared with the task's other replicas, and
// leads the task when it holds the task's lock. Stops on SIGINT or SIGTERM.
//   replica_server --postgres="host=/run/postgresql dbname=fedtiny" --replica_id=r1 \
//           --task=activity --task_config=activity.textproto --port=50061
// Devices balance over the replicas client-side (docs/replicas.md, "Devices").
#include <cstdio>
#include <string>
#include <thread>

#include <google/protobuf/text_format.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/replica/replica.h"
#include "tools/base/atomic_file.h"
#include "tools/base/flags_help.h"
#include "tools/base/logging.h"
#include "tools/base/stop_signal.h"

ABSL_FLAG(std::string, postgres, "",
          "libpq conninfo of the shared database (empty: libpq's PG* environment variables). "
          "Prefer PGPASSFILE to a password here: flags show in `ps`.");
ABSL_FLAG(std::string, replica_id, "", "This replica's name, unique among the task's replicas.");
ABSL_FLAG(std::string, task, "", "The task this replica serves.");
ABSL_FLAG(std::string, task_config, "",
          "TaskConfig in text format: creates the task if it does not exist yet (whichever "
          "replica starts first); empty: the task must exist.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Address to listen on; loopback by default.");
ABSL_FLAG(int, port, 50061, "Port to listen on; 0 picks a free one.");
ABSL_FLAG(int, connections, 4, "PostgreSQL connections for uploads, and as many for check-ins.");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain; enables TLS for the Federation API.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(absl::Duration, full_cache, absl::Milliseconds(100),
          "After seeing a round full (or none open), answer check-ins \"come back later\" "
          "without asking PostgreSQL for this long; 0: always ask.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fedtiny coordinator replica over PostgreSQL");
  fedtiny::ListEveryFlagInHelp();
  absl::ParseCommandLine(argc, argv);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (!fedtiny::InstallStopSignals()) {
    std::fprintf(stderr, "replica: cannot install signal handlers\n");
    return 1;
  }
  fedtiny::coordinator::replica::Replica::Options o;
  o.conninfo = absl::GetFlag(FLAGS_postgres);
  o.replica_id = absl::GetFlag(FLAGS_replica_id);
  o.task = absl::GetFlag(FLAGS_task);
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.connections = absl::GetFlag(FLAGS_connections);
  o.full_cache = absl::GetFlag(FLAGS_full_cache);
  o.tls.cert = absl::GetFlag(FLAGS_tls_cert);
  o.tls.key = absl::GetFlag(FLAGS_tls_key);
  if (o.replica_id.empty() || o.task.empty() || o.connections < 1) {
    std::fprintf(stderr, "replica: --replica_id and --task are required, --connections >= 1\n");
    return 1;
  }
  if (const std::string path = absl::GetFlag(FLAGS_task_config); !path.empty()) {
    absl::StatusOr<std::string> text = fedtiny::ReadFile(path);
    fedtiny::v1::TaskConfig config;
    if (!text.ok() || !google::protobuf::TextFormat::ParseFromString(*text, &config)) {
      std::fprintf(stderr, "replica: %s: not a TaskConfig in text format\n", path.c_str());
      return 1;
    }
    o.create = config;
  }
  absl::StatusOr<fedtiny::coordinator::replica::Replica> replica =
      fedtiny::coordinator::replica::Replica::Start(o);
  if (!replica.ok()) {
    std::fprintf(stderr, "replica: %s\n", replica.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on %s\n", replica->address().c_str());
  std::fflush(stdout);
  std::thread waiter([&replica] {
    const int sig = fedtiny::WaitForStop();
    FT_LOG(INFO) << "signal " << sig << ", shutting down";
    replica->Shutdown();
  });
  replica->Wait();
  waiter.join();
  return 0;
}
