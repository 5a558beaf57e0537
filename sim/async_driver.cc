#include "sim/async_driver.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "proto/upload_delta.h"
#include "sim/distribution.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

namespace {

// A device in flight, and what ends its round at `finish` (virtual seconds).
struct Running {
  enum Kind { kUpload, kDrop, kStraggle };
  double finish = 0;
  Kind kind = kUpload;
  std::unique_ptr<SimDevice> dev;
};

bool FinishesLater(const Running& a, const Running& b) { return a.finish > b.finish; }

// Not thread-safe; borrows everything it is given, for one RunAsyncRounds.
class AsyncLoop {
 public:
  AsyncLoop(const ExperimentConfig& c, const ClientDataSource& data, const Population& population,
            Federation& fed, coordinator::FakeClock& clock, const EvaluateFn& evaluate,
            ExperimentResult& result, const std::function<void(const RoundRecord&)>& on_round)
      : c_(c), data_(data), population_(population), fed_(fed), clock_(clock),
        evaluate_(evaluate), result_(result), on_round_(on_round), origin_(clock.Now()),
        rng_(c.seed ^ 0xA5F1C7ull) {}

  absl::Status Run() {
    const v1::TaskConfig& task = c_.task;
    RETURN_IF_ERROR(Fill());
    int idle_steps = 0;
    while (committed_ < task.rounds() && closed_ < 3 * task.rounds()) {
      if (flight_.empty()) {
        // Nobody could check in (availability windows): try again a minute later.
        if (++idle_steps > 7 * 24 * 60) return absl::InternalError("async: no device for a week");
        SetTime(now_ + 60);
        RETURN_IF_ERROR(Fill());
        continue;
      }
      idle_steps = 0;
      std::pop_heap(flight_.begin(), flight_.end(), FinishesLater);
      Running r = std::move(flight_.back());
      flight_.pop_back();
      SetTime(std::max(now_, r.finish));
      busy_.erase(r.dev->id);
      Finish(r);
      fed_.Tick();
      RETURN_IF_ERROR(RecordClosedRounds());
      RETURN_IF_ERROR(Fill());
    }
    if (result_.rounds.empty()) return absl::InternalError("no round closed");
    if (!result_.rounds.back().evaluated) RETURN_IF_ERROR(Evaluate(result_.rounds.back()));
    return absl::OkStatus();
  }

 private:
  void SetTime(double t) {
    now_ = t;
    const absl::Duration d = origin_ + absl::Seconds(t) - clock_.Now();
    if (d > absl::ZeroDuration()) clock_.Advance(d);
  }

  // Checks devices in until `concurrency` train (or the coordinator refuses),
  // times them and trains the ones that will upload.
  absl::Status Fill() {
    const int concurrency = c_.task.async().concurrency();
    const double deadline_s = c_.task.round_deadline_ms() / 1000.0;
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<Running> fresh;
    std::vector<SimDevice*> to_train;
    for (int k : Candidates(data_, population_, now_, concurrency, rng_)) {
      if (static_cast<int>(flight_.size() + fresh.size()) >= concurrency) break;
      if (busy_.count(k) > 0) continue;
      ASSIGN_OR_RETURN(v1::CheckInResponse resp,
                       fed_.CheckIn(CheckInRequestFor(c_, population_, k)));
      if (!resp.has_assignment()) break;  // Slots held by devices the driver counts too.
      Running r;
      r.dev = std::make_unique<SimDevice>();
      SimDevice& dev = *r.dev;
      dev.id = k;
      dev.assignment = resp.assignment();
      ASSIGN_OR_RETURN(dev.heads, bundles_.For(fed_, dev.assignment));
      rec_.bytes_down += TimeDevice(c_, data_, population_, dev, result_);
      ++rec_.selected;
      const bool interrupted =
          c_.heterogeneous && (unit(rng_) < population_.class_of(k).dropout ||
                               !population_.Available(k, now_ + dev.secs));
      if (interrupted) {
        r.kind = Running::kDrop;
        r.finish = now_ + std::min(dev.secs, deadline_s);
      } else if (dev.secs > deadline_s) {
        // Its token expires first; the slot is free just after.
        r.kind = Running::kStraggle;
        r.finish = now_ + deadline_s + 1;
      } else {
        r.kind = Running::kUpload;
        r.finish = now_ + dev.secs;
        to_train.push_back(&dev);
      }
      busy_.insert(k);
      fresh.push_back(std::move(r));
    }
    RETURN_IF_ERROR(TrainDevices(c_, data_, to_train));
    result_.client_updates += static_cast<int64_t>(to_train.size());
    for (Running& r : fresh) {
      flight_.push_back(std::move(r));
      std::push_heap(flight_.begin(), flight_.end(), FinishesLater);
    }
    return absl::OkStatus();
  }

  void Finish(Running& r) {
    SimDevice& dev = *r.dev;
    if (r.kind == Running::kStraggle) {
      ++rec_.stragglers;
      return;
    }
    if (r.kind == Running::kDrop || !dev.update.ok()) {
      ++rec_.dropped;
      v1::FailureReport f;
      f.set_task(dev.assignment.task());
      f.set_round(dev.assignment.round());
      f.set_upload_token(dev.assignment.upload_token());
      f.set_reason("interrupted");
      (void)fed_.ReportFailure(f);  // The token expires anyway if this is refused.
      return;
    }
    rec_.bytes_up += UploadDeltaBytes(dev.upload);
    if (fed_.Upload(dev.upload).ok()) {
      ++rec_.reported;
    } else {
      ++rec_.rejected;
    }
  }

  // One record per round the coordinator closed since the last call.
  absl::Status RecordClosedRounds() {
    for (;;) {
      absl::StatusOr<v1::RoundInfo> info = fed_.GetRound(c_.task.name(), next_round_);
      if (!info.ok() || info->state() == v1::OPEN) return absl::OkStatus();
      RoundRecord rec = rec_;
      rec_ = RoundRecord{};
      rec.round = static_cast<int>(next_round_++);
      rec.committed = info->state() == v1::COMMITTED;
      rec.virtual_time_s = now_;
      committed_ += rec.committed;
      ++closed_;
      if (closed_ % c_.eval_every == 0 || committed_ >= c_.task.rounds()) {
        RETURN_IF_ERROR(Evaluate(rec));
      }
      rec.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      result_.rounds.push_back(rec);
      if (on_round_) on_round_(rec);
    }
  }

  absl::Status Evaluate(RoundRecord& rec) {
    ASSIGN_OR_RETURN(std::vector<client::Head> heads, CurrentHeads(fed_, c_.task.name()));
    ASSIGN_OR_RETURN(client::Evaluation e, evaluate_(heads, &rec.group_accuracy));
    rec.evaluated = true;
    rec.accuracy = e.accuracy;
    rec.loss = e.loss;
    if (c_.personalize_devices > 0) Personalize(c_, heads, data_, rec.round, rec);
    return absl::OkStatus();
  }

  const ExperimentConfig& c_;
  const ClientDataSource& data_;
  const Population& population_;
  Federation& fed_;
  coordinator::FakeClock& clock_;
  const EvaluateFn& evaluate_;
  ExperimentResult& result_;
  const std::function<void(const RoundRecord&)>& on_round_;
  const absl::Time origin_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mt19937_64 rng_;
  BundleHeads bundles_;
  std::vector<Running> flight_;  // A heap: the earliest finish at the front.
  std::unordered_set<int> busy_;
  RoundRecord rec_;  // What happened since the last closed round.
  int64_t next_round_ = 1;
  int committed_ = 0;
  int closed_ = 0;
  double now_ = 0;
};

}  // namespace

absl::Status RunAsyncRounds(const ExperimentConfig& c, const ClientDataSource& data,
                            const Population& population, Federation& fed,
                            coordinator::FakeClock& clock, const EvaluateFn& evaluate,
                            ExperimentResult& result,
                            const std::function<void(const RoundRecord&)>& on_round) {
  if (c.attacker_fraction > 0) {
    return absl::InvalidArgumentError("async: attackers are not simulated for asynchronous tasks");
  }
  if (c.straggler_fraction > 0) {
    return absl::InvalidArgumentError("async: stragglers are not simulated for asynchronous tasks");
  }
  if (!c.task.has_async() || c.eval_every < 1) {
    return absl::InvalidArgumentError("async: the task must be asynchronous, eval_every >= 1");
  }
  ASSIGN_OR_RETURN(result.aggregator_name, AggregatorNameOf(c.task.aggregator()));
  const auto start = std::chrono::steady_clock::now();
  AsyncLoop loop(c, data, population, fed, clock, evaluate, result, on_round);
  absl::Status s = loop.Run();
  result.fl_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RETURN_IF_ERROR(s);
  result.final_accuracy = result.rounds.back().accuracy;
  return absl::OkStatus();
}

}  // namespace fedtiny::sim
