// The simulator over Open MPI: the same flags as `sim`, the population sharded
// over the ranks (sim/mpi_distribution.h). Rank 0 runs the coordinator and
// prints and writes what `sim` does; committed models are bit-identical to a
// `sim` run with the same flags, for any number of ranks.
//   mpirun -np 4 bazel-bin/sim/sim_mpi --dataset=synthetic --clients=1000000 ...
// As root, Open MPI also needs --allow-run-as-root; on one machine with fewer
// cores than ranks, --oversubscribe.
#include <mpi.h>
#include <sys/resource.h>

#include <cstdio>
#include <vector>

#include "sim/mpi_distribution.h"
#include "tools/base/cpu_check.h"
#include "sim/sim_main.h"

int main(int argc, char** argv) {
  int provided = 0;
  // Training threads never call MPI; the driver's thread does.
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int code = 0;
  {
    fedtiny::sim::MpiDistribution mpi;
    code = fedtiny::sim::SimMain(argc, argv, &mpi);
    if (code != 0 && mpi.ranks() > 1) {
      // Other ranks may be waiting in a collective for this one.
      std::fprintf(stderr, "sim_mpi: rank %d failed; aborting the job\n", mpi.rank());
      MPI_Abort(MPI_COMM_WORLD, code);
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    const std::vector<int64_t> rss = mpi.GatherInt64(usage.ru_maxrss);  // KiB
    const std::vector<int64_t> trained = mpi.GatherInt64(mpi.trained());
    if (mpi.leader()) {
      std::printf("ranks: %d; peak memory per rank (MB):", mpi.ranks());
      for (int64_t kib : rss) std::printf(" %.0f", kib / 1024.0);
      std::printf("; devices trained per rank:");
      for (int64_t n : trained) std::printf(" %lld", static_cast<long long>(n));
      std::printf("\n");
      std::printf("leader: %.2f s in chunk training and exchange; %.1f MB broadcast, %.1f MB "
                  "gathered; cpu %s (%s)\n",
                  mpi.train_seconds(), mpi.bytes_broadcast() / 1e6, mpi.bytes_gathered() / 1e6,
                  fedtiny::CpuModelName().c_str(), fedtiny::BuildInstructionSets().c_str());
      std::fflush(stdout);
    }
  }
  MPI_Finalize();
  return code;
}
