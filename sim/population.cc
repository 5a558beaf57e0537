#include "sim/population.h"

#include <cmath>
#include <algorithm>
#include <random>

namespace fedtiny::sim {

const std::vector<DeviceClass>& DefaultCatalogue() {
  static const std::vector<DeviceClass>* catalogue = new std::vector<DeviceClass>{
      // name, RAM, FPU, int8 body, FLOP/s, down B/s, up B/s, latency, window h, dropout, share
      //
      // mcu-m4 has no FPU. What it runs (docs/client.md, "What an FPU-less part
      // runs"; counts from tools/cross/perf/icount.sh, QEMU -icount): the int8 body
      // natively in integers (784 -> 128: 0.29 M instructions per example, SMLAD),
      // and the float head's training in software floating point: one 128-64-10
      // step of batch 10 (534 kFLOP by the 6 x params x examples rule used here) is
      // 14.8 M instructions, 28 per FLOP (1.7 with the M4F's FPU). At 64-168 MHz
      // and about one instruction per cycle that is 2-6 MFLOP/s of training, not
      // the 20e6 below, which this table has not been changed to (the measured
      // rate would make mcu-m4 rounds 3-9x longer).
      {"mcu-m4", 256 << 10, false, true, 20e6, 20e3, 8e3, 0.5, 12, 0.10, 0.10},
      {"mcu-m7", 1 << 20, true, true, 200e6, 50e3, 20e3, 0.3, 12, 0.08, 0.15},
      {"phone-low", int64_t{2} << 30, true, false, 2e9, 1e6, 300e3, 0.1, 7, 0.05, 0.40},
      {"phone-high", int64_t{8} << 30, true, false, 20e9, 10e6, 3e6, 0.05, 7, 0.03, 0.25},
      {"gateway", int64_t{1} << 30, true, false, 5e9, 5e6, 5e6, 0.02, 24, 0.01, 0.10},
  };
  return *catalogue;
}

Population::Population(int num_devices, double attacker_fraction, bool heterogeneous,
                       uint64_t seed, double speed_sigma)
    : heterogeneous_(heterogeneous) {
  const std::vector<DeviceClass>& cat = DefaultCatalogue();
  std::mt19937_64 rng(seed ^ 0xD1CE5EEDull);
  std::uniform_real_distribution<double> u(0, 1);
  devices_.reserve(num_devices);
  const int attackers = static_cast<int>(std::lround(attacker_fraction * num_devices));
  for (int i = 0; i < num_devices; ++i) {
    Device d{i, 3, 0.f, false};
    if (heterogeneous) {
      double r = u(rng), cum = 0;
      for (size_t c = 0; c < cat.size(); ++c) {
        cum += cat[c].share;
        if (r < cum || c + 1 == cat.size()) {
          d.device_class = static_cast<int16_t>(c);
          break;
        }
      }
      d.phase_hours = static_cast<float>(24 * u(rng));
    }
    devices_.push_back(d);
  }
  // Attackers are a random subset of the requested size.
  std::vector<int> ids(num_devices);
  for (int i = 0; i < num_devices; ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  for (int k = 0; k < attackers; ++k) devices_[ids[k]].attacker = true;
  if (speed_sigma > 0) {
    std::mt19937_64 speed_rng(seed ^ 0x5BEEDull);
    std::lognormal_distribution<double> speed(0, speed_sigma);
    for (Device& d : devices_) d.speed = static_cast<float>(speed(speed_rng));
  }
}

const DeviceClass& Population::class_of(int id) const {
  return DefaultCatalogue()[devices_[id].device_class];
}

bool Population::Available(int id, double t) const {
  if (!heterogeneous_) return true;
  const DeviceClass& c = class_of(id);
  if (c.window_hours >= 24) return true;
  const double hour = std::fmod(t / 3600.0 + devices_[id].phase_hours, 24.0);
  return hour < c.window_hours;
}

double Population::RoundSeconds(int id, int64_t down_bytes, int64_t up_bytes,
                                double flops) const {
  const DeviceClass& c = class_of(id);
  return 2 * c.latency_s + down_bytes / c.down_bytes_per_s + flops / (c.flops_per_s * devices_[id].speed) +
         up_bytes / c.up_bytes_per_s;
}

}  // namespace fedtiny::sim
