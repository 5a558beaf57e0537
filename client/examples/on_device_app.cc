// A device app embedding the fedtiny client SDK, in one file. Read top to bottom:
//  1. the app stores examples as the user produces them (ExampleStore);
//  2. the platform reports charging/idle/network through a DeviceState;
//  3. when the coordinator assigns a round, the app runs a TrainingJob that only
//     trains while the device is eligible, and checkpoints when it is not;
//  4. when training completes, the app has the update to upload.
// Here the "sensor" is synthetic (4 activity classes from 16 features) and the
// platform is simulated: the phone is unplugged in the middle of training.
#include <cstdio>
#include <random>
#include <string>

#include "client/core/eligibility.h"
#include "client/core/example_store.h"
#include "client/core/model.h"
#include "client/core/training_job.h"
#include "client/platform/linux/status_bridge.h"
#include "client/platform/linux/linux_platform.h"

using namespace fedtiny::client;  // NOLINT: a short example.

// Stands in for the platform: Android would read BatteryManager, PowerManager
// and ConnectivityManager here. The phone gets unplugged after `unplug_after` reads.
class DemoPhone final : public DeviceState {
 public:
  DeviceStatus Read() const override {
    ++reads_;
    const bool plugged = reads_ <= unplug_after_ || replugged_;
    return DeviceStatus{plugged, /*idle=*/true, /*unmetered=*/true, /*battery=*/85, false};
  }
  void set_unplug_after(int n) { unplug_after_ = n; }
  void Replug() { replugged_ = true; }

 private:
  mutable int reads_ = 0;
  int unplug_after_ = 1 << 30;
  bool replugged_ = false;
};

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp";
  // 1. Collect examples as the app runs (bounded: 500 examples or 64 KiB).
  ExampleStoreOptions store_options;
  store_options.input_dim = 16;
  store_options.max_examples = 500;
  store_options.max_bytes = 64 << 10;
  ExampleStore store(store_options);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise;
  for (int i = 0; i < 800; ++i) {
    const int activity = static_cast<int>(rng() % 4);
    std::vector<float> x(16);
    for (int j = 0; j < 16; ++j) x[j] = noise(rng) + 2.f * (j % 4 == activity);
    if (!store.Add(x, activity).ok()) return 1;
  }
  if (!store.Save(LinuxPlatform(), dir + "/examples.bin").ok()) return 1;
  std::printf("stored %lld of %lld examples seen\n", static_cast<long long>(store.size()),
              static_cast<long long>(store.seen()));

  // 2-3. The coordinator assigned round "r42" with this head and plan.
  const Head received = MakeHead({16, 8, 4}, /*seed=*/42);
  const TrainPlan plan{/*epochs=*/3, /*batch_size=*/10, /*learning_rate=*/0.05f};
  DemoPhone phone;
  phone.set_unplug_after(60);  // Unplugged during the second epoch.
  TrainingJob job(LinuxPlatform(), dir + "/r42.ckpt", &phone);
  const RowMatrixXf features = store.Features();
  const std::vector<int32_t> labels = store.Labels();
  auto outcome = job.Run("r42", received, plan, features, labels);
  if (!outcome.ok()) {
    std::printf("training failed: %s\n", ToAbsl(outcome.status()).ToString().c_str());
    return 1;
  }
  if (!outcome->completed) {
    std::printf("paused after %lld examples: %s (checkpoint saved)\n",
                static_cast<long long>(outcome->result.examples_seen),
                outcome->why_stopped.c_str());
    phone.Replug();  // Later that night...
    outcome = job.Run("r42", received, plan, features, labels);
    if (!outcome.ok() || !outcome->completed) return 1;
    std::printf("resumed and finished: %lld examples in all\n",
                static_cast<long long>(outcome->result.examples_seen));
  }
  // 4. The update to upload: trained minus received.
  std::vector<float> update = outcome->head.Flatten();
  const std::vector<float> base = received.Flatten();
  for (size_t i = 0; i < update.size(); ++i) update[i] -= base[i];
  const double before = Evaluate(received, features, labels)->accuracy;
  const double after = Evaluate(outcome->head, features, labels)->accuracy;
  std::printf("local accuracy %.1f%% -> %.1f%%; update of %zu floats (%zu bytes) ready\n",
              100 * before, 100 * after, update.size(), update.size() * sizeof(float));
  return 0;
}
