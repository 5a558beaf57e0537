#include "client/core/training_job.h"

#include <string_view>

#include "client/core/byte_io.h"
#include "client/core/status.h"
#include "client/core/str_cat.h"

namespace fedtiny::client {

namespace {

constexpr char kMagic[] = "FTCK";

std::string Encode(const std::string& round_id, const std::vector<float>& head,
                   const TrainState& state, const Crypto& crypto) {
  std::string out(kMagic, 4);
  PutValue(out, static_cast<uint32_t>(round_id.size()));
  out += round_id;
  PutFloats(out, head);
  out += state.Serialize(crypto);  // Carries its own checksum.
  return WithSha256Trailer(std::move(out), crypto);
}

struct Decoded {
  std::string round_id;
  std::vector<float> head;
  TrainState state;
};

StatusOr<Decoded> Decode(const std::string& bytes, const std::string& path,
                         const Crypto& crypto) {
  const Status corrupt = DataLossError(StrCat(path, ": corrupt checkpoint"));
  StatusOr<std::string_view> body = VerifySha256Trailer(bytes, path, crypto);
  if (!body.ok() || body->substr(0, 4) != std::string_view(kMagic, 4)) return corrupt;
  ByteReader r(body->substr(4));
  uint32_t id_len = 0;
  Decoded out;
  if (!r.Get(id_len) || !r.GetBytes(id_len, out.round_id) || !r.GetFloats(out.head)) return corrupt;
  CLIENT_ASSIGN_OR_RETURN(out.state, TrainState::Parse(std::string(r.rest()), crypto));
  return out;
}

}  // namespace

TrainingJob::TrainingJob(const Platform& platform, std::string checkpoint_path,
                         const DeviceState* device, EligibilityPolicy policy)
    : platform_(platform), path_(std::move(checkpoint_path)), device_(device), policy_(policy) {}

bool TrainingJob::HasCheckpoint() const {
  return platform_.storage.Exists(path_);
}

Status TrainingJob::Abandon() {
  return platform_.storage.Remove(path_);
}

StatusOr<TrainOutcome> TrainingJob::Run(const std::string& round_id, const Head& initial,
                                              const TrainPlan& plan,
                                              const RowMatrixXf& features,
                                              Span<const int32_t> labels) {
  TrainOutcome outcome;
  outcome.head = initial;
  TrainState state;
  StatusOr<std::string> saved = platform_.storage.ReadFile(path_);
  if (saved.ok()) {
    CLIENT_ASSIGN_OR_RETURN(Decoded d, Decode(*saved, path_, platform_.crypto));
    if (d.round_id == round_id) {
      CLIENT_RETURN_IF_ERROR(outcome.head.Unflatten(d.head));
      state = std::move(d.state);
    }
  } else if (saved.status().code() != StatusCode::kNotFound) {
    return saved.status();
  }
  CLIENT_ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> trainer, HeadTrainer::Create(initial, plan));
  std::string why;
  CLIENT_ASSIGN_OR_RETURN(outcome.result,
                   trainer->Train(outcome.head, features, labels, [&] {
                     why = policy_.WhyNot(device_->Read());
                     return why.empty();
                   }, state));
  outcome.completed = outcome.result.reason == StopReason::kCompleted;
  if (outcome.completed) {
    CLIENT_RETURN_IF_ERROR(Abandon());  // Nothing left to resume.
    return outcome;
  }
  outcome.why_stopped = why;
  CLIENT_RETURN_IF_ERROR(platform_.storage.WriteFileAtomically(
      path_, Encode(round_id, outcome.head.Flatten(), state, platform_.crypto)));
  return outcome;
}

}  // namespace fedtiny::client
