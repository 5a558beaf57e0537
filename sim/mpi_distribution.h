// The simulator over Open MPI: each rank owns a contiguous shard of the virtual
// population (device ids [r N / R, (r + 1) N / R)) and trains the admitted
// devices of its shard; rank 0 is the leader and runs the real coordinator
// (sim/distribution.h). Per chunk of admitted devices the leader broadcasts the
// devices and the heads they start from (sim/mpi.proto), every rank trains its
// own on its threads, and the uploads are gathered at the leader, which hands
// them to the coordinator in the single-process order. So the coordinator, and
// with it every aggregator (mergeable or robust), sees exactly the uploads of a
// single-process run, in the same order: committed models are bit-identical for
// any number of ranks, and to the plain `sim` binary.
#ifndef FEDTINY_SIM_MPI_DISTRIBUTION_H_
#define FEDTINY_SIM_MPI_DISTRIBUTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/distribution.h"
#include "sim/mpi.pb.h"

namespace fedtiny::sim {

// Borrows MPI_COMM_WORLD: MPI must be initialized before construction and
// finalized after destruction. Used by one thread per rank (MPI is called from
// the driver's thread only; training threads never call it).
class MpiDistribution final : public Distribution {
 public:
  MpiDistribution();

  int rank() const { return rank_; }
  int ranks() const { return ranks_; }
  bool leader() const override { return rank_ == 0; }
  absl::Status Train(const ExperimentConfig& c, const ClientDataSource& data,
                     std::vector<SimDevice*>& devices) override;
  absl::Status EndRun() override;
  absl::Status Serve(const ExperimentConfig& c, const ClientDataSource& data) override;

  // The rank that owns device `id` of a population of `n` over `ranks` ranks.
  static int Owner(int64_t id, int64_t n, int ranks);
  // Devices this rank has trained so far.
  int64_t trained() const { return trained_; }
  // Leader: wall seconds inside Train (its own training, the broadcast, waiting
  // for and reading the others' answers) and bytes broadcast and gathered.
  double train_seconds() const { return train_s_; }
  int64_t bytes_broadcast() const { return bytes_out_; }
  int64_t bytes_gathered() const { return bytes_in_; }
  // Every rank's value at the leader (rank order); empty elsewhere. Collective.
  std::vector<int64_t> GatherInt64(int64_t mine) const;

 private:
  // The leader's `bytes` reach every rank. Collective.
  absl::Status Broadcast(std::string& bytes) const;
  // Every rank's `mine` at the leader, in rank order. Collective.
  absl::StatusOr<std::vector<std::string>> Gather(const std::string& mine) const;
  // Trains the chunk's devices this rank owns (not the leader's).
  absl::StatusOr<mpi::TrainedList> TrainOwned(const ExperimentConfig& c,
                                              const ClientDataSource& data,
                                              const mpi::Chunk& chunk) const;

  int rank_ = 0;
  int ranks_ = 1;
  mutable int64_t trained_ = 0;
  double train_s_ = 0;
  int64_t bytes_out_ = 0;
  int64_t bytes_in_ = 0;
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_MPI_DISTRIBUTION_H_
