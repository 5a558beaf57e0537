// What devices download: a task's model with one cluster's head, serialized once
// per variant ("float32", "int8" with an int8 body, and the task's other body
// variants), with its SHA-256. The
// float32 bytes are also the blob a committed version stores.
#ifndef FEDTINY_COORDINATOR_BUNDLE_CACHE_H_
#define FEDTINY_COORDINATOR_BUNDLE_CACHE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/admin.pb.h"
#include "proto/federation.pb.h"

namespace fedtiny::coordinator {

// Immutable once built; shared by reference between the cache and downloads.
// `meta` describes what devices download (served()); `bytes` and `sha256_hex`
// are always the plaintext model, which is what the store keeps.
struct Bundle {
  v1::ModelBundle meta;  // sha256 holds the raw 32 bytes of served().
  std::string bytes;     // Serialized v1::Model.
  std::string sha256_hex;
  // Encrypted bundles: the serialized v1::EncryptedBundle devices download.
  // Empty: `bytes` are served as they are.
  std::string sealed;

  bool encrypted() const { return !sealed.empty(); }
  const std::string& served() const { return encrypted() ? sealed : bytes; }
};

// (cluster, variant) -> bundle.
using BundleMap = std::map<std::pair<int, std::string>, std::shared_ptr<const Bundle>>;

// A task's model variants without their head, by name: "float32" (the
// config's model), "int8" (its body quantized once per task, not once per
// commit, or the config's body_variants["int8"] when given) and every other
// body variant, each with the config's head layers.
using VariantTemplates = std::map<std::string, v1::Model>;
VariantTemplates TemplatesOf(const v1::TaskConfig& config);

// TargetNameOf names a bundle in the signed targets metadata.
std::string TargetNameOf(const std::string& task, int cluster, const std::string& variant,
                         int64_t version);

// Every variant of `cluster` at `version`. kInvalidArgument for a head that does
// not fit the config's model or is not finite.
absl::StatusOr<BundleMap> BuildBundles(const v1::TaskConfig& config,
                                       const VariantTemplates& templates, int cluster,
                                       int64_t version, const std::vector<float>& head);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_BUNDLE_CACHE_H_
