#include "sim/experiment_types.h"

namespace fedtiny::sim {

v1::TaskConfig DefaultExperimentTask() {
  v1::TaskConfig t;
  t.set_rounds(50);
  t.set_clients_per_round(100);
  t.set_over_selection(1.3);
  t.set_round_deadline_ms(900'000);
  t.mutable_plan()->set_epochs(1);
  t.mutable_plan()->set_batch_size(10);
  t.mutable_plan()->set_learning_rate(0.05f);
  t.set_aggregator("fedavg");
  t.set_server_optimizer("sgd");
  t.set_clusters(1);
  t.set_int8_below_ram_bytes(int64_t{2} << 20);
  // Present and all off: the population's availability windows decide.
  t.mutable_eligibility()->set_min_battery_percent(0);
  return t;
}

}  // namespace fedtiny::sim
