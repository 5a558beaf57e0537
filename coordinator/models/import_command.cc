#include "coordinator/models/import_command.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "proto/layer_codec.h"
#include "proto/model_codec.h"
#include "sim/fashion_mnist.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_macros.h"
#include "tools/onnx/onnx_task.h"

namespace fedtiny::coordinator {
namespace {

struct Proxy {
  client::RowMatrixXf images;
  std::vector<int32_t> labels;
};

// The proxy data as the model's inputs: IDX bytes / 255, one example per row
// (an IDX image is H x W or H x W x C, the NHWC order the body reads).
absl::StatusOr<Proxy> ReadProxy(const ImportArgs& a, int64_t input_dim) {
  std::vector<int64_t> dims, label_dims;
  ASSIGN_OR_RETURN(const std::vector<uint8_t> pixels, sim::ReadIdx(a.proxy_images, &dims));
  ASSIGN_OR_RETURN(const std::vector<uint8_t> labels, sim::ReadIdx(a.proxy_labels, &label_dims));
  int64_t per = 1;
  for (size_t i = 1; i < dims.size(); ++i) per *= dims[i];
  if (dims.size() < 2 || per != input_dim) {
    return absl::InvalidArgumentError(absl::StrCat(a.proxy_images, ": examples of ", per,
                                                   " values, the model takes ", input_dim));
  }
  if (label_dims.size() != 1 || label_dims[0] != dims[0]) {
    return absl::InvalidArgumentError(
        absl::StrCat(a.proxy_labels, ": not one label per proxy image"));
  }
  int64_t n = dims[0];
  if (a.proxy_count > 0) n = std::min(n, a.proxy_count);
  if (n < 1) return absl::InvalidArgumentError("proxy data: no examples");
  Proxy p;
  p.images.resize(n, input_dim);
  for (int64_t i = 0; i < n * input_dim; ++i) p.images.data()[i] = pixels[i] / 255.0f;
  p.labels.assign(labels.begin(), labels.begin() + n);
  return p;
}

absl::StatusOr<VariantLine> LineOf(const std::string& name, const v1::Model& model,
                                   const Proxy* proxy) {
  VariantLine line;
  line.name = name;
  line.bundle_bytes = static_cast<int64_t>(model.ByteSizeLong());
  ASSIGN_OR_RETURN(const client::Body body, client::BodyFromProto(model));
  line.multiply_adds = body.multiply_adds();
  if (proxy != nullptr) {
    ASSIGN_OR_RETURN(line.proxy_accuracy,
                     onnx_io::ProxyAccuracy(model, proxy->images, proxy->labels));
  }
  return line;
}

// "name=path.onnx:below_ram_bytes".
absl::Status ParseVariant(const std::string& spec, std::string* name, std::string* path,
                          int64_t* below) {
  const std::vector<std::string> kv = absl::StrSplit(spec, absl::MaxSplits('=', 1));
  const size_t colon = kv.size() == 2 ? kv[1].rfind(':') : std::string::npos;
  if (colon == std::string::npos || !absl::SimpleAtoi(kv[1].substr(colon + 1), below) ||
      *below < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--variant '", spec, "': want NAME=FILE.onnx:BELOW_RAM_BYTES"));
  }
  *name = kv[0];
  *path = kv[1].substr(0, colon);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportResult> RunImport(const ImportArgs& a) {
  ImportResult out;
  ASSIGN_OR_RETURN(const std::string onnx, ReadFile(a.onnx_path));
  absl::StatusOr<v1::Model> model = onnx_io::ModelFromOnnx(onnx, a.head_layers);
  if (!model.ok()) {
    return absl::Status(model.status().code(),
                        absl::StrCat(a.onnx_path, ": ", model.status().message()));
  }
  out.model = *std::move(model);
  const bool have_proxy = !a.proxy_images.empty() || !a.proxy_labels.empty();
  Proxy proxy;
  if (have_proxy) {
    ASSIGN_OR_RETURN(proxy, ReadProxy(a, out.model.input_dim()));
  }
  const Proxy* p = have_proxy ? &proxy : nullptr;
  ASSIGN_OR_RETURN(VariantLine f32, LineOf("float32", out.model, p));
  out.report.push_back(f32);

  auto& variants = *out.variants.mutable_body_variants();
  if (have_proxy && HasConvBody(out.model)) {
    ASSIGN_OR_RETURN(v1::Model int8, onnx_io::Int8Variant(out.model, proxy.images));
    ASSIGN_OR_RETURN(VariantLine line, LineOf("int8", int8, p));
    out.report.push_back(line);
    v1::BodyVariant& v = variants["int8"];
    int8.clear_head();  // The task's head is every variant's.
    *v.mutable_model() = std::move(int8);
    v.set_proxy_accuracy(line.proxy_accuracy);
  }
  for (const std::string& spec : a.variants) {
    std::string name, path;
    int64_t below = 0;
    RETURN_IF_ERROR(ParseVariant(spec, &name, &path, &below));
    ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
    absl::StatusOr<v1::Model> m = onnx_io::ModelFromOnnx(bytes, a.head_layers);
    if (!m.ok()) {
      return absl::Status(m.status().code(), absl::StrCat(path, ": ", m.status().message()));
    }
    // The variant's body with the task's head: what its devices will run.
    *m->mutable_head() = out.model.head();
    if (absl::Status s = ValidateModel(*m); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": its body does not feed the task's head: ", s.message()));
    }
    ASSIGN_OR_RETURN(VariantLine line, LineOf(name, *m, p));
    out.report.push_back(line);
    v1::BodyVariant& v = variants[name];
    m->clear_head();
    *v.mutable_model() = *std::move(m);
    v.set_below_ram_bytes(below);
    if (have_proxy) v.set_proxy_accuracy(line.proxy_accuracy);
  }
  return out;
}

std::string FormatReport(const std::vector<VariantLine>& report) {
  std::string s = absl::StrFormat("%-10s %12s %14s %10s %8s\n", "VARIANT", "BUNDLE_BYTES",
                                  "MULTIPLY_ADDS", "PROXY_ACC", "DROP");
  const double base = report.empty() ? -1 : report[0].proxy_accuracy;
  for (const VariantLine& l : report) {
    const std::string acc =
        l.proxy_accuracy < 0 ? "-" : absl::StrFormat("%.4f", l.proxy_accuracy);
    const std::string drop = l.proxy_accuracy < 0 || base < 0
                                 ? "-"
                                 : absl::StrFormat("%+.4f", l.proxy_accuracy - base);
    absl::StrAppendFormat(&s, "%-10s %12d %14d %10s %8s\n", l.name, l.bundle_bytes,
                          l.multiply_adds, acc, drop);
  }
  return s;
}

}  // namespace fedtiny::coordinator
