// The simulator's command line (flags in sim/sim_main.cc), shared by the
// single-process binary (sim/main.cc) and the MPI one (sim/mpi_main.cc).
#ifndef FEDTINY_SIM_SIM_MAIN_H_
#define FEDTINY_SIM_SIM_MAIN_H_

namespace fedtiny::sim {

class Distribution;

// Parses the flags and runs the experiment they describe; returns the exit
// code. `distribution` (borrowed; null: this process alone) spreads the
// devices' training; only its leader prints and writes outputs.
int SimMain(int argc, char** argv, Distribution* distribution);

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_SIM_MAIN_H_
