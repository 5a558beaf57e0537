// The simulator, in one process (flags: sim/sim_main.cc; `sim --help`).
#include "sim/sim_main.h"

int main(int argc, char** argv) { return fedtiny::sim::SimMain(argc, argv, nullptr); }
