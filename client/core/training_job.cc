#include "client/core/training_job.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "tools/base/atomic_file.h"
#include "tools/base/sha256.h"
#include "tools/base/status_macros.h"

namespace fedtiny::client {

namespace {

constexpr char kMagic[] = "FTCK";

std::string Encode(const std::string& round_id, const std::vector<float>& head,
                   const TrainState& state) {
  std::string out(kMagic, 4);
  auto put = [&out](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  put(static_cast<uint32_t>(round_id.size()));
  out += round_id;
  put(static_cast<uint64_t>(head.size()));
  out.append(reinterpret_cast<const char*>(head.data()), head.size() * sizeof(float));
  out += state.Serialize();  // Carries its own checksum.
  const Sha256Digest d = *Sha256(out);
  out.append(reinterpret_cast<const char*>(d.data()), d.size());
  return out;
}

struct Decoded {
  std::string round_id;
  std::vector<float> head;
  TrainState state;
};

absl::StatusOr<Decoded> Decode(const std::string& b, const std::string& path) {
  const absl::Status corrupt = absl::DataLossError(absl::StrCat(path, ": corrupt checkpoint"));
  if (b.size() < 4 + 32 || b.compare(0, 4, kMagic, 4) != 0) return corrupt;
  const absl::string_view body(b.data(), b.size() - 32);
  absl::StatusOr<Sha256Digest> d = Sha256(body);
  if (!d.ok() || std::memcmp(d->data(), b.data() + body.size(), 32) != 0) return corrupt;
  size_t pos = 4;
  uint32_t id_len = 0;
  uint64_t n = 0;
  auto get = [&](auto& v) {
    if (pos + sizeof(v) > body.size()) return false;
    std::memcpy(&v, body.data() + pos, sizeof(v));
    pos += sizeof(v);
    return true;
  };
  Decoded out;
  if (!get(id_len) || pos + id_len > body.size()) return corrupt;
  out.round_id.assign(body.data() + pos, id_len);
  pos += id_len;
  if (!get(n) || n > (body.size() - pos) / sizeof(float)) return corrupt;
  out.head.resize(n);
  std::memcpy(out.head.data(), body.data() + pos, n * sizeof(float));
  pos += n * sizeof(float);
  ASSIGN_OR_RETURN(out.state, TrainState::Parse(std::string(body.substr(pos))));
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

absl::Status TrainingJob::Abandon() {
  if (unlink(path_.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("cannot delete ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainOutcome> TrainingJob::Run(const std::string& round_id, const Head& initial,
                                              const TrainPlan& plan,
                                              const RowMatrixXf& features,
                                              absl::Span<const int32_t> labels) {
  TrainOutcome outcome;
  outcome.head = initial;
  TrainState state;
  absl::StatusOr<std::string> saved = ReadFile(path_);
  if (saved.ok()) {
    ASSIGN_OR_RETURN(Decoded d, Decode(*saved, path_));
    if (d.round_id == round_id) {
      RETURN_IF_ERROR(outcome.head.Unflatten(d.head));
      state = std::move(d.state);
    }
  } else if (saved.status().code() != absl::StatusCode::kNotFound) {
    return saved.status();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> trainer, HeadTrainer::Create(initial, plan));
  std::string why;
  ASSIGN_OR_RETURN(outcome.result,
                   trainer->Train(outcome.head, features, labels, [&] {
                     why = policy_.WhyNot(device_->Read());
                     return why.empty();
                   }, state));
  outcome.completed = outcome.result.reason == StopReason::kCompleted;
  if (outcome.completed) {
    RETURN_IF_ERROR(Abandon());  // Nothing left to resume.
    return outcome;
  }
  outcome.why_stopped = why;
  RETURN_IF_ERROR(WriteFileAtomically(path_, Encode(round_id, outcome.head.Flatten(), state)));
  return outcome;
}

}  // namespace fedtiny::client
