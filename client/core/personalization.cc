#include "client/core/personalization.h"

#include <algorithm>
#include <cstdint>
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

StatusOr<ValidationScore> Score(const Head& h, const RowMatrixXf& x, Span<const int32_t> y) {
  CLIENT_ASSIGN_OR_RETURN(Evaluation e, Evaluate(h, x, y));
  return ValidationScore{e.accuracy, e.loss};
}

// Trains `head` one epoch at a time with `train_plan`, scoring each epoch's
// result with `score`; returns the best-scoring head seen (the start
// included) and its score. Stops after `patience` epochs without improvement.
template <typename ScoreFn>
StatusOr<std::pair<Head, ValidationScore>> EarlyStopped(Head head, const RowMatrixXf& x,
                                                        Span<const int32_t> y,
                                                        const TrainPlan& train_plan,
                                                        const PersonalizationPlan& plan,
                                                        ScoreFn score) {
  CLIENT_ASSIGN_OR_RETURN(ValidationScore best_score, score(head));
  Head best = head;
  TrainPlan one = train_plan;
  one.epochs = 1;
  CLIENT_ASSIGN_OR_RETURN(std::unique_ptr<HeadTrainer> trainer, HeadTrainer::Create(head, one));
  TrainState state;
  int since_best = 0;
  for (int epoch = 0; epoch < plan.max_epochs && since_best < plan.patience; ++epoch) {
    // A fresh state per epoch, its shuffle from (seed, epoch); the proximal
    // anchor is the head this run started from, kept across epochs.
    std::vector<float> anchor = std::move(state.anchor);
    state = TrainState();
    trainer->set_seed(train_plan.seed + static_cast<uint64_t>(epoch));
    if (!anchor.empty()) {
      state.anchor = std::move(anchor);
      state.started = true;
    }
    CLIENT_RETURN_IF_ERROR(trainer->Train(head, x, y, [] { return true; }, state).status());
    CLIENT_ASSIGN_OR_RETURN(ValidationScore s, score(head));
    if (s.BetterThan(best_score)) {
      best_score = s;
      best = head;
      since_best = 0;
    } else {
      ++since_best;
    }
  }
  return std::make_pair(std::move(best), best_score);
}

}  // namespace

StatusOr<PersonalHead> PersonalizeHead(const Head& global, const RowMatrixXf& features,
                                       Span<const int32_t> labels,
                                       const PersonalizationPlan& plan) {
  CLIENT_RETURN_IF_ERROR(global.Validate());
  if (plan.max_epochs < 0 || plan.patience < 1 || plan.batch_size < 1 ||
      !(plan.learning_rate > 0) || !(plan.ditto_lambda >= 0) ||
      !(plan.validation_fraction > 0 && plan.validation_fraction < 1)) {
    return InvalidArgumentError(
        "personalize: need max_epochs >= 0, patience >= 1, batch >= 1, learning rate > 0, "
        "ditto lambda >= 0, 0 < validation fraction < 1");
  }
  if (features.rows() != static_cast<int64_t>(labels.size()) ||
      features.cols() != global.input_dim()) {
    return InvalidArgumentError("personalize: data does not fit the head");
  }
  PersonalHead out;
  out.head = global;
  const int64_t n = features.rows();
  const int64_t n_val = static_cast<int64_t>(static_cast<double>(n) * plan.validation_fraction);
  if (n_val < 2 || n - n_val < 2) return out;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(plan.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const std::vector<int64_t> val_idx(order.begin(), order.begin() + n_val);
  const std::vector<int64_t> train_idx(order.begin() + n_val, order.end());
  const RowMatrixXf val_x = Rows(features, val_idx), train_x = Rows(features, train_idx);
  const std::vector<int32_t> val_y = Labels(labels, val_idx), train_y = Labels(labels, train_idx);
  out.validation_examples = n_val;
  CLIENT_ASSIGN_OR_RETURN(out.global, Score(global, val_x, val_y));
  TrainPlan tp{1, plan.batch_size, plan.learning_rate, 0.f, 0.f, plan.seed};
  ValidationScore best = out.global;

  if (plan.last_layer) {
    // FedRep/FedPer: the layers below the last are the shared representation;
    // their outputs are computed once and only the last layer trains.
    Head last;
    last.layers.push_back(global.layers.back());
    RowMatrixXf tx = train_x, vx = val_x;
    for (size_t l = 0; l + 1 < global.layers.size(); ++l) {
      tx = DenseForward(global.layers[l], tx);
      vx = DenseForward(global.layers[l], vx);
    }
    CLIENT_ASSIGN_OR_RETURN(
        auto r, EarlyStopped(last, tx, train_y, tp, plan,
                             [&](const Head& h) { return Score(h, vx, val_y); }));
    out.last_layer = r.second;
    if (r.second.BetterThan(best)) {
      best = r.second;
      out.head.layers.back() = r.first.layers.back();
      out.method = PersonalMethod::kLastLayer;
    }
  }
  if (plan.ditto_lambda > 0) {
    // Ditto: the whole head, pulled towards the global one by
    // lambda / 2 ||v - w||^2 (the trainer's proximal term, anchored at w).
    TrainPlan dp = tp;
    dp.proximal_mu = plan.ditto_lambda;
    CLIENT_ASSIGN_OR_RETURN(
        auto r, EarlyStopped(global, train_x, train_y, dp, plan,
                             [&](const Head& h) { return Score(h, val_x, val_y); }));
    out.ditto = r.second;
    if (r.second.BetterThan(best)) {
      best = r.second;
      out.head = std::move(r.first);
      out.method = PersonalMethod::kDitto;
    }
  }
  return out;
}

}  // namespace fedtiny::client
