#include "client/core/personalization.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <random>
#include <vector>

#include "client/core/status.h"

namespace fedtiny::client {

StatusOr<ClusterChoice> PickCluster(const std::vector<Head>& heads,
                                          const RowMatrixXf& features,
                                          Span<const int32_t> labels) {
  if (heads.empty()) return InvalidArgumentError("no cluster heads");
  ClusterChoice choice;
  for (size_t k = 0; k < heads.size(); ++k) {
    CLIENT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(heads[k], features, labels));
    choice.losses.push_back(e.loss);
    if (e.loss < choice.losses[choice.cluster]) choice.cluster = static_cast<int>(k);
  }
  return choice;
}

StatusOr<Head> FineTunePersonalHead(const Head& global, const RowMatrixXf& features,
                                          Span<const int32_t> labels,
                                          const TrainPlan& plan) {
  CLIENT_ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> trainer, HeadTrainer::Create(global, plan));
  Head personal = global;
  TrainState state;
  CLIENT_RETURN_IF_ERROR(trainer->Train(personal, features, labels, [] { return true; }, state).status());
  return personal;
}

const char* PersonalMethodName(PersonalMethod m) {
  switch (m) {
    case PersonalMethod::kGlobal: return "global";
    case PersonalMethod::kLastLayer: return "last_layer";
    case PersonalMethod::kDitto: return "ditto";
  }
  return "?";
}

namespace {

RowMatrixXf Rows(const RowMatrixXf& x, const std::vector<int64_t>& idx) {
  RowMatrixXf out(static_cast<int64_t>(idx.size()), x.cols());
  for (size_t i = 0; i < idx.size(); ++i) out.row(static_cast<int64_t>(i)) = x.row(idx[i]);
  return out;
}

std::vector<int32_t> Labels(Span<const int32_t> y, const std::vector<int64_t>& idx) {
  std::vector<int32_t> out;
  out.reserve(idx.size());
  for (int64_t i : idx) out.push_back(y[static_cast<size_t>(i)]);
  return out;
}

// One candidate's training, an epoch per call: a fresh state per epoch, its
// shuffle from (seed, epoch); the proximal anchor (Ditto) is the head the run
// started from, kept across epochs.
class EpochTrainer {
 public:
  static StatusOr<EpochTrainer> Create(const Head& start, const TrainPlan& plan) {
    TrainPlan one = plan;
    one.epochs = 1;
    CLIENT_ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> t, HeadTrainer::Create(start, one));
    return EpochTrainer(std::move(t), plan.seed);
  }
  Status Epoch(Head& head, const RowMatrixXf& x, Span<const int32_t> y) {
    std::vector<float> anchor = std::move(state_.anchor);
    state_ = TrainState();
    trainer_->set_seed(seed_ + static_cast<uint64_t>(epoch_++));
    if (!anchor.empty()) {
      state_.anchor = std::move(anchor);
      state_.started = true;
    }
    return trainer_->Train(head, x, y, [] { return true; }, state_).status();
  }

 private:
  EpochTrainer(std::unique_ptr<HeadTrainer> t, uint64_t seed) : trainer_(std::move(t)), seed_(seed) {}
  std::unique_ptr<HeadTrainer> trainer_;
  uint64_t seed_;
  int epoch_ = 0;
  TrainState state_;
};

// The local examples in k folds (a shuffled split), each fold's training and
// validation parts.
struct Fold {
  RowMatrixXf train_x, val_x;
  std::vector<int32_t> train_y, val_y;
};

std::vector<Fold> MakeFolds(const RowMatrixXf& x, Span<const int32_t> y,
                            const std::vector<int64_t>& order, int k) {
  std::vector<Fold> folds(static_cast<size_t>(k));
  for (int f = 0; f < k; ++f) {
    std::vector<int64_t> train, val;
    for (size_t i = 0; i < order.size(); ++i) {
      (static_cast<int>(i % static_cast<size_t>(k)) == f ? val : train).push_back(order[i]);
    }
    Fold& fold = folds[static_cast<size_t>(f)];
    fold.train_x = Rows(x, train);
    fold.val_x = Rows(x, val);
    fold.train_y = Labels(y, train);
    fold.val_y = Labels(y, val);
  }
  return folds;
}

// Pools per-fold evaluations into one score over every validation example.
class Pool {
 public:
  void Add(const Evaluation& e) {
    correct_ += e.accuracy * static_cast<double>(e.examples);
    loss_ += e.loss * static_cast<double>(e.examples);
    n_ += e.examples;
  }
  ValidationScore score() const {
    return n_ > 0 ? ValidationScore{correct_ / n_, loss_ / n_} : ValidationScore{};
  }

 private:
  double correct_ = 0, loss_ = 0;
  int64_t n_ = 0;
};

// A candidate's cross-validated curve: every fold trains from `start` an
// epoch at a time and is scored on its validation part; the epochs whose
// pooled score is best win (early stopping), and the loop ends after
// `patience` epochs without a better one. Returns that epoch count (0: the
// start itself) and its pooled score.
StatusOr<std::pair<int, ValidationScore>> CrossValidate(const Head& start,
                                                        const std::vector<Fold>& folds,
                                                        const TrainPlan& train_plan,
                                                        const PersonalizationPlan& plan) {
  std::vector<Head> heads(folds.size(), start);
  std::vector<EpochTrainer> trainers;
  Pool at_start;
  for (size_t f = 0; f < folds.size(); ++f) {
    CLIENT_ASSIGN_OR_RETURN(EpochTrainer t, EpochTrainer::Create(start, train_plan));
    trainers.push_back(std::move(t));
    CLIENT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(start, folds[f].val_x, folds[f].val_y));
    at_start.Add(e);
  }
  std::pair<int, ValidationScore> best{0, at_start.score()};
  int since_best = 0;
  for (int epoch = 1; epoch <= plan.max_epochs && since_best < plan.patience; ++epoch) {
    Pool pool;
    for (size_t f = 0; f < folds.size(); ++f) {
      CLIENT_RETURN_IF_ERROR(trainers[f].Epoch(heads[f], folds[f].train_x, folds[f].train_y));
      CLIENT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(heads[f], folds[f].val_x, folds[f].val_y));
      pool.Add(e);
    }
    if (pool.score().BetterThan(best.second)) {
      best = {epoch, pool.score()};
      since_best = 0;
    } else {
      ++since_best;
    }
  }
  return best;
}

// `start` trained `epochs` epochs on every local example, as the folds were.
StatusOr<Head> TrainOnAll(Head start, const RowMatrixXf& x, Span<const int32_t> y,
                          const TrainPlan& train_plan, int epochs) {
  CLIENT_ASSIGN_OR_RETURN(EpochTrainer t, EpochTrainer::Create(start, train_plan));
  for (int e = 0; e < epochs; ++e) CLIENT_RETURN_IF_ERROR(t.Epoch(start, x, y));
  return start;
}

}  // namespace

StatusOr<PersonalHead> PersonalizeHead(const Head& global, const RowMatrixXf& features,
                                       Span<const int32_t> labels,
                                       const PersonalizationPlan& plan) {
  CLIENT_RETURN_IF_ERROR(global.Validate());
  if (plan.max_epochs < 0 || plan.patience < 1 || plan.batch_size < 1 ||
      !(plan.learning_rate > 0) || !(plan.ditto_lambda >= 0) || plan.folds < 2 ||
      plan.folds > 100 || plan.min_gain_examples < 0) {
    return InvalidArgumentError(
        "personalize: need max_epochs >= 0, patience >= 1, batch >= 1, learning rate > 0, "
        "ditto lambda >= 0, 2 <= folds <= 100, min gain >= 0");
  }
  if (features.rows() != static_cast<int64_t>(labels.size()) ||
      features.cols() != global.input_dim()) {
    return InvalidArgumentError("personalize: data does not fit the head");
  }
  PersonalHead out;
  out.head = global;
  const int64_t n = features.rows();
  if (n < 2 * plan.folds) return out;  // Each fold needs 2 examples to hold out.
  for (int32_t y : labels) {
    if (y < 0 || y >= global.num_classes()) return InvalidArgumentError("personalize: label out of range");
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(plan.seed);
  std::shuffle(order.begin(), order.end(), rng);
  out.validation_examples = n;
  // Every example is held out by exactly one fold: the global head's pooled
  // score is its score on all of them.
  {
    CLIENT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(global, features, labels));
    out.global = {e.accuracy, e.loss};
  }
  const TrainPlan tp{1, plan.batch_size, plan.learning_rate, 0.f, 0.f, plan.seed};
  int epochs = 0;
  ValidationScore best;
  // A candidate must dominate the global head, then beat the other candidate.
  const auto take = [&](const ValidationScore& s) {
    const double margin = (plan.min_gain_examples - 0.5) / static_cast<double>(n);
    if (!s.Dominates(out.global, margin) ||
        (out.method != PersonalMethod::kGlobal && !s.BetterThan(best))) {
      return false;
    }
    best = s;
    return true;
  };

  // FedRep/FedPer: the layers below the last are the shared representation;
  // their outputs are computed once (for the folds and the final training)
  // and only the last layer trains.
  Head last;
  RowMatrixXf below;
  if (plan.last_layer) {
    last.layers.push_back(global.layers.back());
    below = features;
    for (size_t l = 0; l + 1 < global.layers.size(); ++l) below = DenseForward(global.layers[l], below);
    const std::vector<Fold> folds = MakeFolds(below, labels, order, plan.folds);
    CLIENT_ASSIGN_OR_RETURN(auto r, CrossValidate(last, folds, tp, plan));
    out.last_layer = r.second;
    out.last_layer_epochs = r.first;
    if (r.first > 0 && take(r.second)) {
      epochs = r.first;
      out.method = PersonalMethod::kLastLayer;
    }
  }
  // Ditto: the whole head, pulled towards the global one by
  // lambda / 2 ||v - w||^2 (the trainer's proximal term, anchored at w).
  TrainPlan dp = tp;
  dp.proximal_mu = plan.ditto_lambda;
  if (plan.ditto_lambda > 0) {
    const std::vector<Fold> folds = MakeFolds(features, labels, order, plan.folds);
    CLIENT_ASSIGN_OR_RETURN(auto r, CrossValidate(global, folds, dp, plan));
    out.ditto = r.second;
    out.ditto_epochs = r.first;
    if (r.first > 0 && take(r.second)) {
      epochs = r.first;
      out.method = PersonalMethod::kDitto;
    }
  }
  if (out.method == PersonalMethod::kLastLayer) {
    CLIENT_ASSIGN_OR_RETURN(Head trained, TrainOnAll(last, below, labels, tp, epochs));
    out.head.layers.back() = trained.layers.back();
  } else if (out.method == PersonalMethod::kDitto) {
    CLIENT_ASSIGN_OR_RETURN(out.head, TrainOnAll(global, features, labels, dp, epochs));
  }
  return out;
}

}  // namespace fedtiny::client
