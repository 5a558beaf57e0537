#include "client/core/training_job.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "client/core/str_cat.h"
#include "client/platform/linux/status_bridge.h"  // Until the platform layer (step 3).
#include "tools/base/atomic_file.h"
#include "tools/base/byte_io.h"
#include "client/core/status.h"

namespace fedtiny::client {

namespace {

constexpr char kMagic[] = "FTCK";

std::string Encode(const std::string& round_id, const std::vector<float>& head,
                   const TrainState& state) {
  std::string out(kMagic, 4);
  PutValue(out, static_cast<uint32_t>(round_id.size()));
  out += round_id;
  PutFloats(out, head);
  out += state.Serialize();  // Carries its own checksum.
  return WithSha256Trailer(std::move(out));
}

struct Decoded {
  std::string round_id;
  std::vector<float> head;
  TrainState state;
};

StatusOr<Decoded> Decode(const std::string& bytes, const std::string& path) {
  const Status corrupt = DataLossError(StrCat(path, ": corrupt checkpoint"));
  StatusOr<absl::string_view> body = FromAbsl(VerifySha256Trailer(bytes, path));
  if (!body.ok() || body->substr(0, 4) != absl::string_view(kMagic, 4)) return corrupt;
  ByteReader r(body->substr(4));
  uint32_t id_len = 0;
  Decoded out;
  if (!r.Get(id_len) || !r.GetBytes(id_len, out.round_id) || !r.GetFloats(out.head)) return corrupt;
  CLIENT_ASSIGN_OR_RETURN(out.state, TrainState::Parse(std::string(r.rest())));
  return out;
}

}  // namespace

TrainingJob::TrainingJob(std::string checkpoint_path, const DeviceState* device,
                         EligibilityPolicy policy)
    : path_(std::move(checkpoint_path)), device_(device), policy_(policy) {}

bool TrainingJob::HasCheckpoint() const {
  struct stat st;
  return stat(path_.c_str(), &st) == 0;
}

Status TrainingJob::Abandon() {
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return InternalError(StrCat("cannot delete ", path_, ": ", std::strerror(errno)));
  }
  return OkStatus();
}

StatusOr<TrainOutcome> TrainingJob::Run(const std::string& round_id, const Head& initial,
                                              const TrainPlan& plan,
                                              const RowMatrixXf& features,
                                              Span<const int32_t> labels) {
  TrainOutcome outcome;
  outcome.head = initial;
  TrainState state;
  StatusOr<std::string> saved = FromAbsl(ReadFile(path_));
  if (saved.ok()) {
    CLIENT_ASSIGN_OR_RETURN(Decoded d, Decode(*saved, path_));
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
  CLIENT_RETURN_IF_ERROR(FromAbsl(WriteFileAtomically(path_, Encode(round_id, outcome.head.Flatten(), state))));
  return outcome;
}

}  // namespace fedtiny::client
