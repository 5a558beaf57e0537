#include "coordinator/bundle_cache.h"

#include "absl/strings/str_cat.h"
#include "proto/model_codec.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::coordinator {

VariantTemplates TemplatesOf(const v1::TaskConfig& config) {
  VariantTemplates out;
  out["float32"] = config.model();
  out["int8"] = Int8BodyVariant(config.model());
  for (const auto& [name, variant] : config.body_variants()) {
    v1::Model m = variant.model();
    *m.mutable_head() = config.model().head();
    out[name] = std::move(m);
  }
  return out;
}

std::string TargetNameOf(const std::string& task, int cluster, const std::string& variant,
                         int64_t version) {
  return absl::StrCat(task, "/", cluster, "/", variant, "/", version);
}

absl::StatusOr<BundleMap> BuildBundles(const v1::TaskConfig& config,
                                       const VariantTemplates& templates, int cluster,
                                       int64_t version, const std::vector<float>& head) {
  BundleMap out;
  for (const auto& [variant, tmpl] : templates) {
    v1::Model model = tmpl;
    RETURN_IF_ERROR(SetHeadParams(head, model));
    auto b = std::make_shared<Bundle>();
    b->bytes = model.SerializeAsString();
    ASSIGN_OR_RETURN(Sha256Digest d, Sha256(b->bytes));
    b->meta.set_task(config.name());
    b->meta.set_cluster(cluster);
    b->meta.set_version(version);
    b->meta.set_variant(variant);
    b->meta.set_size_bytes(static_cast<int64_t>(b->bytes.size()));
    b->meta.set_sha256(std::string(reinterpret_cast<const char*>(d.data()), d.size()));
    b->meta.set_target_name(TargetNameOf(config.name(), cluster, variant, version));
    b->sha256_hex = DigestToHex(d);
    out[{cluster, variant}] = std::move(b);
  }
  return out;
}

}  // namespace fedtiny::coordinator
