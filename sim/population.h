// Virtual devices: a catalogue of device classes and a population drawn from it,
// reproducible from a seed. Each device has a daily availability window (charging,
// idle and on an unmetered network) with its own phase, a drop-out rate, and a
// link; time is virtual seconds.
#ifndef FEDTINY_SIM_POPULATION_H_
#define FEDTINY_SIM_POPULATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fedtiny::sim {

struct DeviceClass {
  std::string name;
  int64_t ram_bytes;
  bool has_fpu;
  bool int8_body;          // Receives the int8 variant of the body.
  double flops_per_s;      // Sustained training compute.
  double down_bytes_per_s;
  double up_bytes_per_s;
  double latency_s;        // Per transfer.
  double window_hours;     // Eligible hours per day.
  double dropout;          // Chance to be interrupted during a round.
  double share;            // Fraction of the population.
};

// mcu-m4, mcu-m7, phone-low, phone-high, gateway.
const std::vector<DeviceClass>& DefaultCatalogue();

struct Device {
  int32_t id;
  int16_t device_class;
  float phase_hours;  // Offset of the daily window.
  bool attacker;
  float speed = 1.f;  // Compute speed multiplier (lognormal with speed_sigma > 0).
};

// Population owns its devices. Immutable after construction; thread-safe.
class Population {
 public:
  // `heterogeneous` false gives every device the phone-high class, always eligible.
  // `speed_sigma` > 0 multiplies each device's compute speed by exp(N(0,
  // speed_sigma^2)), fixed per device (drawn from its own stream, so the rest
  // of the population is the same as with 0).
  Population(int num_devices, double attacker_fraction, bool heterogeneous, uint64_t seed,
             double speed_sigma = 0);

  const Device& device(int id) const { return devices_[id]; }
  const DeviceClass& class_of(int id) const;
  int size() const { return static_cast<int>(devices_.size()); }
  // Whether device `id` is eligible at virtual time `t` seconds.
  bool Available(int id, double t) const;
  // Virtual seconds for a round: download, train (at the device's speed), upload.
  double RoundSeconds(int id, int64_t down_bytes, int64_t up_bytes, double flops) const;

 private:
  bool heterogeneous_;
  std::vector<Device> devices_;
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_POPULATION_H_
