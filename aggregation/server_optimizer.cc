#include "aggregation/server_optimizer.h"

#include <cmath>
#include <cstring>
#include <string_view>
#include <map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "aggregation/aggregator.h"
#include "tools/base/byte_io.h"

namespace fedtiny::aggregation {

namespace {

using Kind = ServerOptimizerConfig::Kind;
constexpr char kMagic[4] = {'F', 'T', 'S', 'O'};
constexpr uint32_t kVersion = 1;

}  // namespace

absl::StatusOr<ServerOptimizerConfig> ParseServerOptimizer(absl::string_view spec) {
  std::vector<absl::string_view> head = absl::StrSplit(spec, absl::MaxSplits(':', 1));
  static const std::map<std::string, Kind> kKinds = {
      {"sgd", Kind::kSgd}, {"fedavgm", Kind::kFedAvgM},
      {"fedadam", Kind::kFedAdam}, {"fedyogi", Kind::kFedYogi}};
  auto it = kKinds.find(std::string(head[0]));
  if (it == kKinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown server optimizer '", head[0], "'"));
  }
  ServerOptimizerConfig c;
  c.kind = it->second;
  if (c.kind == Kind::kFedAdam || c.kind == Kind::kFedYogi) c.lr = 0.01;
  if (head.size() == 1) return c;
  for (absl::string_view kv : absl::StrSplit(head[1], ',')) {
    std::vector<absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    double v = 0;
    if (p.size() != 2 || !absl::SimpleAtod(p[1], &v) || !std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("server optimizer: bad parameter '", kv, "'"));
    }
    const bool unit = v >= 0 && v < 1;
    if (p[0] == "lr" && v > 0) {
      c.lr = v;
    } else if (p[0] == "beta1" && unit) {
      c.beta1 = v;
    } else if (p[0] == "beta2" && unit) {
      c.beta2 = v;
    } else if (p[0] == "tau" && v > 0) {
      c.tau = v;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "server optimizer: unknown or out-of-range parameter '", kv, "'"));
    }
  }
  return c;
}

ServerOptimizer::ServerOptimizer(const ServerOptimizerConfig& config, int64_t dim)
    : config_(config),
      m_(Eigen::VectorXf::Zero(dim)),
      v_(Eigen::VectorXf::Zero(dim)) {}

absl::Status ServerOptimizer::Apply(const Eigen::VectorXf& delta,
                                    Eigen::VectorXf& weights) {
  if (weights.size() != dim()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server optimizer: weights have ", weights.size(), " values, expected ", dim()));
  }
  absl::Status valid = ValidateUpdate(
      absl::Span<const float>(delta.data(), delta.size()), dim(), 1.0);
  if (!valid.ok()) return valid;
  const float lr = static_cast<float>(config_.lr);
  const float b1 = static_cast<float>(config_.beta1);
  const float b2 = static_cast<float>(config_.beta2);
  const float tau = static_cast<float>(config_.tau);
  // The step is computed on copies and kept only if everything stays finite:
  // a refused step leaves the weights and the moments as they were.
  Eigen::VectorXf w = weights, m = m_, v = v_;
  switch (config_.kind) {
    case Kind::kSgd:
      w += lr * delta;
      break;
    case Kind::kFedAvgM:
      m = b1 * m + delta;
      w += lr * m;
      break;
    case Kind::kFedAdam:
    case Kind::kFedYogi: {
      m = b1 * m + (1 - b1) * delta;
      const Eigen::ArrayXf d2 = delta.array().square();
      if (config_.kind == Kind::kFedAdam) {
        v = (b2 * v.array() + (1 - b2) * d2).matrix();
      } else {
        v = (v.array() - (1 - b2) * d2 * (v.array() - d2).sign()).matrix();
      }
      w.array() += lr * m.array() / (v.array().sqrt() + tau);
      break;
    }
  }
  if (!w.allFinite() || !m.allFinite() || !v.allFinite()) {
    return absl::OutOfRangeError("server optimizer: the step gives non-finite weights (float overflow); nothing applied");
  }
  weights = std::move(w);
  m_ = std::move(m);
  v_ = std::move(v);
  ++steps_;
  return absl::OkStatus();
}

std::string ServerOptimizer::Serialize() const {
  std::string out(kMagic, sizeof(kMagic));
  PutValue(out, kVersion);
  PutValue(out, static_cast<uint8_t>(config_.kind));
  PutValue(out, config_.lr);
  PutValue(out, config_.beta1);
  PutValue(out, config_.beta2);
  PutValue(out, config_.tau);
  PutValue(out, steps_);
  PutValue(out, dim());
  out.append(reinterpret_cast<const char*>(m_.data()), m_.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(v_.data()), v_.size() * sizeof(float));
  return out;
}

absl::StatusOr<ServerOptimizer> ServerOptimizer::Restore(absl::string_view bytes) {
  if (bytes.size() < sizeof(kMagic) ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("server optimizer state: bad magic");
  }
  ByteReader r(std::string_view(bytes.data() + sizeof(kMagic), bytes.size() - sizeof(kMagic)));
  uint32_t version = 0;
  uint8_t kind = 0;
  ServerOptimizerConfig c;
  int64_t steps = 0, dim = 0;
  if (!r.Get(version) || !r.Get(kind) || !r.Get(c.lr) || !r.Get(c.beta1) ||
      !r.Get(c.beta2) || !r.Get(c.tau) || !r.Get(steps) || !r.Get(dim)) {
    return absl::InvalidArgumentError("server optimizer state: truncated header");
  }
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("server optimizer state: unknown version ", version));
  }
  if (kind > static_cast<uint8_t>(Kind::kFedYogi) || dim < 0 || steps < 0) {
    return absl::InvalidArgumentError("server optimizer state: corrupt header");
  }
  c.kind = static_cast<Kind>(kind);
  // The ranges ParseServerOptimizer accepts: a stored state is data, not trust.
  const auto unit = [](double v) { return v >= 0 && v < 1; };
  if (!(std::isfinite(c.lr) && c.lr > 0) || !unit(c.beta1) || !unit(c.beta2) ||
      !(std::isfinite(c.tau) && c.tau > 0)) {
    return absl::InvalidArgumentError("server optimizer state: settings out of range");
  }
  if (static_cast<uint64_t>(dim) > r.rest().size() / (2 * sizeof(float))) {
    return absl::InvalidArgumentError("server optimizer state: moment buffers truncated");
  }
  ServerOptimizer opt(c, dim);
  opt.steps_ = steps;
  if (!r.GetRawFloats(dim, opt.m_.data()) || !r.GetRawFloats(dim, opt.v_.data()) || !r.AtEnd()) {
    return absl::InvalidArgumentError(
        "server optimizer state: moment buffers truncated or trailing bytes");
  }
  if (!opt.m_.allFinite() || !opt.v_.allFinite() || (opt.v_.array() < 0).any()) {
    return absl::InvalidArgumentError("server optimizer state: non-finite or negative moments");
  }
  return opt;
}

}  // namespace fedtiny::aggregation
