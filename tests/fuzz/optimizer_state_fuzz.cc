// Fuzzes the server optimizer's stored state (ServerOptimizer::Restore in
// aggregation/server_optimizer.h), which the coordinator reads back from its
// store for every cluster at each round close.
//
// Input: the state bytes.
//
// Invariants: Restore accepts only what Serialize writes (a restored state
// re-serializes to the same bytes) and only configurations that
// ParseServerOptimizer could have produced (finite lr > 0, betas in [0, 1),
// tau > 0); a step of a restored optimizer with moderate moments on a small
// finite delta either is refused or leaves finite weights.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "aggregation/server_optimizer.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;
  using aggregation::ServerOptimizer;
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ServerOptimizer> opt = ServerOptimizer::Restore(bytes);
  if (!opt.ok()) {
    FUZZ_CHECK(opt.status().code() == absl::StatusCode::kInvalidArgument)
        << opt.status();
    return 0;
  }
  FUZZ_CHECK(opt->Serialize() == bytes)
      << "a restored state does not re-serialize to its bytes";
  const aggregation::ServerOptimizerConfig& c = opt->config();
  if (!FUZZ_FINDING(
          "SO-1",
          std::isfinite(c.lr) && c.lr > 0 && c.beta1 >= 0 && c.beta1 < 1 &&
              c.beta2 >= 0 && c.beta2 < 1 && std::isfinite(c.tau) && c.tau > 0,
          "restored a configuration no spec can give: lr=" +
              std::to_string(c.lr) + " beta1=" + std::to_string(c.beta1) +
              " beta2=" + std::to_string(c.beta2) +
              " tau=" + std::to_string(c.tau))) {
    return 0;
  }
  if (opt->dim() > (1 << 16)) return 0;
  // The moments are the state's last 2 * dim floats; a step from non-finite or
  // float-overflowing moments may legitimately overflow.
  const float* moments =
      reinterpret_cast<const float*>(data + size) - 2 * opt->dim();
  for (int64_t i = 0; i < 2 * opt->dim(); ++i) {
    float m;
    std::memcpy(&m, moments + i, sizeof(m));
    if (!(std::fabs(m) < 1e30f)) return 0;
  }
  Eigen::VectorXf delta = Eigen::VectorXf::Constant(opt->dim(), 0.01f);
  Eigen::VectorXf weights = Eigen::VectorXf::Constant(opt->dim(), 0.5f);
  if (opt->Apply(delta, weights).ok()) {
    FUZZ_FINDING("SO-1", weights.allFinite(),
                 "one step from a restored state gives NaN/Inf weights");
  }
  return 0;
}
