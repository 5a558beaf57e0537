// Fuzzes update decoding and what follows it: delta bytes -> floats in
// Coordinator::Upload, the engine's validation, the aggregator and the server
// optimizer, up to the committed and served model. Unlike federation_fuzz.cc
// the requests are always well-addressed (live tokens), so every mutation lands
// in the delta, the example count or the round's timing.
//
// Input: a setup byte (aggregator, goal, server optimizer), then records of
//   [flags: uint8][example_count: int64][delta: uint16 length + bytes]
// Flag bit 0 closes the round after the upload (its deadline passes).
//
// Invariants, checked against values computed here, not by the code under test:
//  - an accepted delta has the head's size, finite values, example_count > 0;
//  - every served head is finite (a committed round never serves NaN/Inf);
//  - an abandoned round leaves the served head bit-identical;
//  - fedavg + sgd commits old + sum(n_i d_i) / sum(n_i) (in double, to float
//    rounding) and never commits when that is beyond float range;
//  - median and trimmed mean stay, per coordinate, within the accepted deltas;
//  - norm_bound:c=1+fedavg moves the head by an L2 norm of at most 1.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "proto/model_codec.h"
#include "tests/fuzz/coordinator_fixture.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"

namespace fedtiny::fuzz {
namespace {

enum class Method { kFedAvg, kMedian, kTrimmedMean, kNormBound };
constexpr const char* kSpecs[] = {"fedavg", "median", "trimmed_mean:beta=0.2",
                                  "norm_bound:c=1+fedavg"};
const absl::Duration kDeadline = absl::Minutes(1);

struct Accepted {
  std::vector<float> delta;
  int64_t count;
};

class Rounds {
 public:
  Rounds(CoordinatorFixture& f, const v1::TaskConfig& config, Method method,
         bool sgd)
      : f_(f), config_(config), method_(method), sgd_(sgd) {
    head_ = *HeadParams(config.model());
  }

  void Run(FuzzInput& in) {
    while (!in.empty()) {
      const uint8_t flags = in.Take<uint8_t>();
      const int64_t count = in.Take<int64_t>();
      const std::string delta = in.Record();
      if (tokens_.empty() && !OpenRound()) return;
      Upload(delta, count);
      if ((flags & 1 || tokens_.empty()) && !CloseRound()) return;
    }
    if (round_open_ && !CloseRound()) return;
    OpenRound();  // Checks the last round's served head.
  }

 private:
  // Admits `goal` devices into a new round; the first one's bundle shows what
  // the previous round left. False when an open finding ended the input.
  bool OpenRound() {
    for (int i = 0; i < config_.clients_per_round(); ++i) {
      std::optional<v1::Assignment> a =
          f_.AdmitProbe(config_.population(), false, kDeadline);
      FUZZ_CHECK(a.has_value()) << "a device is never admitted";
      if (i == 0) {
        FUZZ_CHECK(a->round() > round_);
        if (!CheckServed(*a)) return false;
        round_ = a->round();
      }
      FUZZ_CHECK(a->round() == round_)
          << "devices of one batch landed in different rounds";
      tokens_.push_back(*std::move(a));
    }
    round_open_ = true;
    return true;
  }

  void Upload(const std::string& delta, int64_t count) {
    const v1::Assignment a = tokens_.front();
    tokens_.erase(tokens_.begin());
    v1::UploadRequest r;
    r.set_task(a.task());
    r.set_round(a.round());
    r.set_upload_token(a.upload_token());
    r.set_device_secret(kProbeSecret);
    r.set_cluster(0);
    r.set_model_version(version_);
    r.set_example_count(count);
    r.set_delta(delta);
    (*r.mutable_metrics())["loss"] = 0.5;
    const absl::Status s = f_.coordinator().Upload(r);
    if (!s.ok()) {
      FUZZ_CHECK(s.code() == absl::StatusCode::kInvalidArgument ||
                 s.code() == absl::StatusCode::kDeadlineExceeded)
          << s;
      return;
    }
    std::optional<std::vector<float>> d = DecodeDelta(delta);
    FUZZ_CHECK(d && d->size() == kHeadParams)
        << "accepted " << delta.size() << " delta bytes";
    FUZZ_CHECK(AllFinite(*d)) << "accepted a non-finite delta";
    FUZZ_CHECK(count > 0) << "accepted example_count " << count;
    accepted_.push_back({*std::move(d), count});
  }

  bool CloseRound() {
    f_.CloseDueRounds(kDeadline);
    tokens_.clear();
    round_open_ = false;
    absl::StatusOr<v1::RoundInfo> info =
        f_.coordinator().GetRound(config_.name(), round_);
    FUZZ_CHECK_OK(info);
    FUZZ_CHECK(info->state() == v1::COMMITTED ||
               info->state() == v1::ABANDONED);
    FUZZ_CHECK(info->reported() == static_cast<int>(accepted_.size()));
    committed_ = info->state() == v1::COMMITTED;
    if (committed_) {
      FUZZ_CHECK(!accepted_.empty())
          << "committed a round without accepted updates";
      ++version_;
    }
    if (!CheckExpectation()) return false;
    closed_accepted_ = std::move(accepted_);
    accepted_.clear();
    return true;
  }

  // The fedavg + sgd result must commit exactly when it is representable.
  bool CheckExpectation() {
    if (method_ != Method::kFedAvg || !sgd_ || accepted_.empty()) return true;
    bool representable = true;
    for (int i = 0; i < kHeadParams; ++i) {
      representable &= std::fabs(ExpectedFedAvg(accepted_, i)) <= FLT_MAX;
    }
    return FUZZ_FINDING("I9-1", representable || !committed_,
                        "committed a head beyond float range");
  }

  double ExpectedFedAvg(const std::vector<Accepted>& updates, int i) const {
    double num = 0, den = 0;
    for (const Accepted& u : updates) {
      num += static_cast<double>(u.count) * u.delta[i];
      den += static_cast<double>(u.count);
    }
    return static_cast<double>(head_[i]) + num / den;
  }

  // False when an open finding (FINDINGS.md) ended the input early.
  bool CheckServed(const v1::Assignment& a) {
    FUZZ_CHECK(a.bundles_size() == 1 && a.bundles(0).version() == version_)
        << "served version " << a.bundles(0).version() << ", expected "
        << version_;
    std::optional<v1::Model> m =
        DownloadAndVerify(f_.coordinator(), a, a.bundles(0));
    if (!m) return false;
    absl::StatusOr<std::vector<float>> served = HeadParams(*m);
    FUZZ_CHECK_OK(served);
    if (round_ > 0 && !committed_) {
      FUZZ_CHECK(*served == head_)
          << "an abandoned round changed the served head";
    }
    if (round_ > 0 && committed_) CheckCommitted(*served);
    head_ = *std::move(served);
    return true;
  }

  void CheckCommitted(const std::vector<float>& served) const {
    const std::vector<Accepted>& u = closed_accepted_;
    if (!sgd_) return;  // fedadam: finiteness (checked on download) only.
    double moved_sq = 0;
    for (int i = 0; i < kHeadParams; ++i) {
      float lo = u[0].delta[i], hi = lo;
      for (const Accepted& a : u)
        lo = std::min(lo, a.delta[i]), hi = std::max(hi, a.delta[i]);
      const double moved = static_cast<double>(served[i]) - head_[i];
      const double tol = 1e-5 * (std::fabs(head_[i]) +
                                 std::max(std::fabs(lo), std::fabs(hi))) +
                         1e-30;
      moved_sq += moved * moved;
      switch (method_) {
        case Method::kFedAvg: {
          // Float accumulation errs relative to the terms, not to their sum.
          double num = 0, den = 0, mag = 0;
          for (const Accepted& a : u) {
            num += static_cast<double>(a.count) * a.delta[i];
            mag += static_cast<double>(a.count) * std::fabs(a.delta[i]);
            den += static_cast<double>(a.count);
          }
          const double want = head_[i] + num / den;
          FUZZ_CHECK(std::fabs(served[i] - want) <=
                     1e-5 * (std::fabs(head_[i]) + mag / den) + 1e-30)
              << "fedavg coordinate " << i << ": served " << served[i]
              << ", the weighted mean gives " << want;
          break;
        }
        case Method::kMedian:
        case Method::kTrimmedMean:
          FUZZ_CHECK(moved >= lo - tol && moved <= hi + tol)
              << "coordinate " << i << " moved " << moved
              << " outside the updates' range [" << lo << ", " << hi << "]";
          break;
        case Method::kNormBound:
          break;
      }
    }
    if (method_ == Method::kNormBound) {
      FUZZ_CHECK(std::sqrt(moved_sq) <= 1.0 + 1e-4)
          << "norm_bound:c=1 moved the head by " << std::sqrt(moved_sq);
    }
  }

  CoordinatorFixture& f_;
  const v1::TaskConfig& config_;
  const Method method_;
  const bool sgd_;
  std::vector<float> head_;  // Served head of the last closed round.
  int64_t version_ = 0;
  int64_t round_ = 0;
  bool committed_ = false;
  bool round_open_ = false;
  std::vector<v1::Assignment> tokens_;  // Unused admissions of the open round.
  std::vector<Accepted> accepted_, closed_accepted_;
};

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t setup = in.Take<uint8_t>();
  const Method method = static_cast<Method>(setup % 4);
  const bool sgd = (setup & 0x10) == 0;
  fedtiny::v1::TaskConfig config =
      SmallTask("fuzz", kSpecs[setup % 4], 1 + (setup >> 2) % 4, 1);
  if (!sgd) config.set_server_optimizer("fedadam:lr=0.1");
  CoordinatorFixture f;
  FUZZ_CHECK_OK(f.coordinator().CreateTask(config));
  Rounds rounds(f, config, method, sgd);
  rounds.Run(in);
  return 0;
}
