#include "coordinator/bundle_cache.h"

#include "proto/model_codec.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

absl::StatusOr<BundleMap> BuildBundles(const v1::TaskConfig& config, int cluster, int64_t version,
                                       const std::vector<float>& head) {
  v1::Model m = config.model();
  RETURN_IF_ERROR(SetHeadParams(head, m));
  BundleMap out;
  for (const auto& [variant, model] :
       {std::pair<std::string, v1::Model>{"float32", m}, {"int8", Int8BodyVariant(m)}}) {
    auto b = std::make_shared<Bundle>();
    b->bytes = model.SerializeAsString();
    ASSIGN_OR_RETURN(Sha256Digest d, Sha256(b->bytes));
    b->meta.set_task(config.name());
    b->meta.set_cluster(cluster);
    b->meta.set_version(version);
    b->meta.set_variant(variant);
    b->meta.set_size_bytes(static_cast<int64_t>(b->bytes.size()));
    b->meta.set_sha256(std::string(reinterpret_cast<const char*>(d.data()), d.size()));
    b->sha256_hex = DigestToHex(d);
    out[{cluster, variant}] = std::move(b);
  }
  return out;
}

}  // namespace fedtiny::coordinator
