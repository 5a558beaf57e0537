// `flctl models import` and `flctl models export`: a product team's model in
// and out of the fleet's format (issue 16; docs/models.md). Offline: no
// server is involved (export converts a model `models get` fetched).
//
//   models import M.onnx --head_layers=N [--proxy_images=F --proxy_labels=F
//       [--proxy_count=K]] [--variant=NAME=F.onnx:BELOW_RAM_BYTES ...]
//       --out=model.pb [--variants_out=variants.pb]
//
// writes the task's initial model (the ONNX body frozen, its last N dense
// layers the head) and, with proxy data, the catalogue of body variants: the
// int8 body post-training-quantized with activation ranges calibrated on the
// proxy images, and each --variant body (a smaller model for devices short of
// RAM, sharing the task's head). It reports each variant's download size,
// multiply-adds and proxy accuracy, with the drop from float32.
#ifndef FEDTINY_COORDINATOR_MODELS_IMPORT_COMMAND_H_
#define FEDTINY_COORDINATOR_MODELS_IMPORT_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/admin.pb.h"
#include "proto/model.pb.h"

namespace fedtiny::coordinator {

struct ImportArgs {
  std::string onnx_path;
  int head_layers = 1;
  std::string proxy_images;  // IDX (optionally gzip) images: N x H x W (x C) bytes, /255.
  std::string proxy_labels;  // IDX labels: N bytes.
  int64_t proxy_count = 0;   // Use the first K (0: all).
  std::vector<std::string> variants;  // "name=path.onnx:below_ram_bytes".
};

// One line of the import's report.
struct VariantLine {
  std::string name;
  int64_t bundle_bytes = 0;
  int64_t multiply_adds = 0;
  double proxy_accuracy = -1;  // -1: no proxy data.
};

struct ImportResult {
  v1::Model model;              // The task's initial model (float32).
  v1::TaskConfig variants;      // Only body_variants set.
  std::vector<VariantLine> report;  // float32 first.
};

// RunImport reads the files and builds the model and its variants.
// kInvalidArgument naming the file and the problem (an unsupported operator,
// a variant whose body does not feed the head, unreadable proxy data), or
// kNotFound for a missing file. Blocks on disk; CPU-bound on the proxy data.
absl::StatusOr<ImportResult> RunImport(const ImportArgs& args);

// FormatReport: the report as a table, the drop from float32 per variant.
std::string FormatReport(const std::vector<VariantLine>& report);

}  // namespace fedtiny::coordinator

#endif  // FEDTINY_COORDINATOR_MODELS_IMPORT_COMMAND_H_
