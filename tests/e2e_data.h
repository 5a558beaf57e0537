// What the end-to-end tests feed a federated task on tests/small_model.h: a
// task config with one-epoch plans, and separable local data (class c's
// examples lean on every feature j with j % classes == c).
#ifndef FEDTINY_TESTS_E2E_DATA_H_
#define FEDTINY_TESTS_E2E_DATA_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "client/core/model.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"
#include "tests/small_model.h"

namespace fedtiny::testing {

struct LocalData {
  client::RowMatrixXf x;
  std::vector<int32_t> y;
};

// `n` examples of `width` features and `classes` labels, from `seed`.
inline LocalData SeparableData(int n, uint32_t seed, int width = kSmallModelInputs,
                               int classes = 4) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  LocalData d{client::RowMatrixXf(n, width), std::vector<int32_t>(n)};
  for (int i = 0; i < n; ++i) {
    d.y[i] = static_cast<int32_t>(rng() % classes);
    for (int j = 0; j < width; ++j) d.x(i, j) = g(rng) + 2.f * (j % classes == d.y[i]);
  }
  return d;
}

// A task on SmallModel() for population "phones": `goal` devices a round,
// all of them needed (no over-selection), `rounds` rounds, a minute's deadline.
inline v1::TaskConfig SmallTask(const std::string& name, int goal, int rounds) {
  v1::TaskConfig c;
  c.set_name(name);
  c.set_population("phones");
  *c.mutable_model() = SmallModel();
  c.mutable_plan()->set_epochs(1);
  c.mutable_plan()->set_batch_size(8);
  c.mutable_plan()->set_learning_rate(0.1f);
  c.set_rounds(rounds);
  c.set_clients_per_round(goal);
  c.set_over_selection(1.0);
  c.set_min_reports(goal);
  c.set_round_deadline_ms(60'000);
  return c;
}

// A check-in of device `id` holding `secret` in the "phones" population, in
// the state every task admits: charging, idle, unmetered, 90% battery.
inline v1::CheckInRequest EligibleCheckIn(const std::string& id, const std::string& secret) {
  v1::CheckInRequest r;
  r.set_device_id(id);
  r.set_device_secret(secret);
  r.set_population("phones");
  r.mutable_state()->set_charging(true);
  r.mutable_state()->set_idle(true);
  r.mutable_state()->set_unmetered_network(true);
  r.mutable_state()->set_battery_percent(90);
  return r;
}

}  // namespace fedtiny::testing

#endif  // FEDTINY_TESTS_E2E_DATA_H_
