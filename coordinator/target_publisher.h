// What a TaskRunner tells before it serves new bundles: the model-trust
// repository (coordinator/trust/trust_repository.h) signs them as targets, so
// that no version is announced to devices before it is signed.
#ifndef FEDTINY_COORDINATOR_TARGET_PUBLISHER_H_
#define FEDTINY_COORDINATOR_TARGET_PUBLISHER_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "coordinator/bundle_cache.h"

namespace fedtiny::coordinator {

// Implementations are thread-safe (runners of different tasks publish
// concurrently).
class TargetPublisher {
 public:
  virtual ~TargetPublisher() = default;
  // Publish makes `bundles` (every cluster and variant `task` serves now) its
  // targets, replacing the task's earlier ones; an empty map removes the task.
  // `variant_by_class` (device class -> variant, the task config's) becomes
  // the task's directives. Returns once the signed metadata is durable; an
  // error leaves the published metadata as it was. Blocks on signing and disk.
  virtual absl::Status Publish(const std::string& task, const BundleMap& bundles,
                               const std::map<std::string, std::string>& variant_by_class) = 0;
};

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_TARGET_PUBLISHER_H_
