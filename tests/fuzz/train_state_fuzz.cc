// Fuzzes the device's training checkpoints: TrainState::Parse
// (client/core/head_trainer.h) and the TrainingJob checkpoint file that wraps
// it (client/core/training_job.h), then resumes training from what was read.
//
// Input: [mode: uint8][bytes]. Mode bit 0: the bytes are a checkpoint file
// (otherwise a bare TrainState); bit 1: the harness appends the outer SHA-256
// trailer; bit 2: for a checkpoint, it also re-trails the embedded TrainState,
// so mutations reach the parsers behind both checksums; bits 3 and 4: the plan
// uses momentum and a proximal term (buffers the state carries).
//
// Invariants: Parse accepts only what Serialize writes (a parsed state
// re-serializes to the same bytes, up to the spelling of `started`); resuming
// from any state either trains or is refused with INVALID_ARGUMENT / DATA_LOSS
// (never reads outside the model's buffers, never runs for longer than the
// plan); a checkpoint run ends with a head of the initial shape and a deleted
// checkpoint.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "client/platform/linux/status_bridge.h"
#include "client/core/eligibility.h"
#include "client/core/head_trainer.h"
#include "client/core/training_job.h"
#include "client/platform/linux/linux_platform.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/scratch_file.h"
#include "tools/base/byte_io.h"

namespace fedtiny::fuzz {
namespace {

constexpr int kExamples = 5;

client::TrainPlan Plan(uint8_t mode) {
  client::TrainPlan p;
  p.epochs = 2;
  p.batch_size = 2;
  p.learning_rate = 0.1f;
  p.momentum = (mode & 8) ? 0.9f : 0.f;
  p.proximal_mu = (mode & 16) ? 0.1f : 0.f;
  p.seed = 3;
  return p;
}

struct Data {
  client::RowMatrixXf x = client::RowMatrixXf(kExamples, 3);
  std::vector<int32_t> y = {0, 1, 1, 0, 1};
  Data() {
    for (int i = 0; i < x.size(); ++i)
      x.data()[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
  }
};

// Counts the batches trained: a resumed run may not do more than the plan.
class Budget {
 public:
  explicit Budget(int64_t max) : left_(max) {}
  bool Next() { return left_-- > 0; }
  int64_t left() const { return left_; }

 private:
  int64_t left_;
};

// TS-1: a resumed state is not checked against the trainer: a negative epoch
// trains for ~2^31 epochs, a negative batch index reads before the example
// order, a momentum or anchor buffer of another size is indexed out of bounds.
bool Unsafe(const client::TrainState& s, int64_t num_params) {
  return s.started &&
         (s.epoch < 0 || s.next_batch < 0 ||
          (!s.velocity.empty() &&
           static_cast<int64_t>(s.velocity.size()) != num_params) ||
          (!s.anchor.empty() &&
           static_cast<int64_t>(s.anchor.size()) != num_params));
}

void FuzzTrainState(const std::string& bytes, uint8_t mode) {
  absl::StatusOr<client::TrainState> state = client::ToAbsl(client::TrainState::Parse(bytes, client::LinuxCrypto()));
  if (!state.ok()) {
    FUZZ_CHECK(state.status().code() == absl::StatusCode::kDataLoss)
        << state.status();
    return;
  }
  // Serialize writes `started` as 0 or 1; Parse reads any non-zero byte as
  // true.
  std::string canonical = bytes;
  canonical[4] = static_cast<char>(canonical[4] != 0);
  if (bytes.compare(0, 4, "FTTS") == 0) {
    // The former format (before `correct`) re-serializes in the current one,
    // which must read back to the same state.
    absl::StatusOr<client::TrainState> again =
        client::ToAbsl(client::TrainState::Parse(state->Serialize(client::LinuxCrypto()), client::LinuxCrypto()));
    FUZZ_CHECK_OK(again);
    FUZZ_CHECK(again->Serialize(client::LinuxCrypto()) == state->Serialize(client::LinuxCrypto()))
        << "a former-format state does not round-trip through the current one";
  } else {
    FUZZ_CHECK(state->Serialize(client::LinuxCrypto()) ==
               WithSha256Trailer(canonical.substr(0, canonical.size() - 32)))
        << "a parsed state does not re-serialize to its bytes";
  }
  const client::TrainPlan plan = Plan(mode);
  client::Head head = client::MakeHead({3, 2}, 5);
  if (SkipOpenFinding("TS-1", Unsafe(*state, head.num_params()),
                      "resumed state not validated"))
    return;
  absl::StatusOr<std::unique_ptr<client::HeadTrainer>> trainer =
      client::ToAbsl(client::HeadTrainer::Create(head, plan));
  FUZZ_CHECK_OK(trainer);
  Data data;
  // A fresh run takes epochs * ceil(n / batch) batches; a resumed one at most
  // that.
  const int64_t batches =
      plan.epochs * ((kExamples + plan.batch_size - 1) / plan.batch_size);
  Budget budget(batches + 1);
  absl::StatusOr<client::TrainResult> r = client::ToAbsl((*trainer)->Train(
      head, data.x, data.y, [&] { return budget.Next(); }, *state));
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument ||
               r.status().code() == absl::StatusCode::kDataLoss)
        << r.status();
    return;
  }
  FUZZ_CHECK(r->reason == client::StopReason::kCompleted)
      << "a resumed run wanted more batches than the plan has";
}

// Re-trails the TrainState embedded after the checkpoint's round id and head.
std::string RetrailEmbeddedState(const std::string& body) {
  ByteReader r(body);
  std::string magic, id;
  uint32_t id_len = 0;
  std::vector<float> head;
  if (!r.GetBytes(4, magic) || !r.Get(id_len) || !r.GetBytes(id_len, id) ||
      !r.GetFloats(head)) {
    return body;
  }
  const std::string prefix = body.substr(0, body.size() - r.rest().size());
  return prefix + WithSha256Trailer(std::string(r.rest()));
}

// Whether TrainingJob would resume from an Unsafe() state: its own decoding,
// repeated (checkpoint for round-1, both checksums valid).
bool UnsafeCheckpoint(const std::string& bytes) {
  absl::StatusOr<std::string_view> body = VerifySha256Trailer(bytes, "");
  if (!body.ok()) return false;
  ByteReader r(*body);
  std::string magic, id;
  uint32_t id_len = 0;
  std::vector<float> head;
  if (!r.GetBytes(4, magic) || magic != "FTCK" || !r.Get(id_len) ||
      !r.GetBytes(id_len, id) || id != "round-1" || !r.GetFloats(head) ||
      head.size() != 8) {
    return false;
  }
  absl::StatusOr<client::TrainState> s =
      client::ToAbsl(client::TrainState::Parse(std::string(r.rest()), client::LinuxCrypto()));
  return s.ok() && Unsafe(*s, 8);
}

void FuzzCheckpoint(std::string bytes, uint8_t mode) {
  if (mode & 4) bytes = RetrailEmbeddedState(bytes);
  if (mode & 2) bytes = WithSha256Trailer(std::move(bytes));
  if (SkipOpenFinding("TS-1", UnsafeCheckpoint(bytes),
                      "resumed state not validated"))
    return;
  const std::string path = WriteScratch("checkpoint", bytes);
  client::SettableDeviceState device;
  client::EligibilityPolicy any;
  any.require_charging = any.require_idle = any.require_unmetered = false;
  any.min_battery_percent = 0;
  client::TrainingJob job(client::LinuxPlatform(), path, &device, any);
  const client::Head initial = client::MakeHead({3, 2}, 5);
  Data data;
  absl::StatusOr<client::TrainOutcome> out =
      client::ToAbsl(job.Run("round-1", initial, Plan(mode), data.x, data.y));
  if (!out.ok()) {
    FUZZ_CHECK(out.status().code() == absl::StatusCode::kDataLoss ||
               out.status().code() == absl::StatusCode::kInvalidArgument)
        << out.status();
    return;
  }
  FUZZ_CHECK(out->completed);
  FUZZ_CHECK(out->head.num_params() == initial.num_params() &&
             out->head.layers.size() == initial.layers.size());
  FUZZ_CHECK(!job.HasCheckpoint()) << "a completed run left its checkpoint";
}

}  // namespace
}  // namespace fedtiny::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t mode = in.Take<uint8_t>();
  std::string bytes = in.Rest();
  if (mode & 1) {
    FuzzCheckpoint(std::move(bytes), mode);
  } else {
    if (mode & 2) bytes = WithSha256Trailer(std::move(bytes));
    FuzzTrainState(bytes, mode);
  }
  return 0;
}
