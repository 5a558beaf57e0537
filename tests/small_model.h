// The small model the end-to-end tests federate: a 16 -> 12 ReLU body and a
// 12 -> 8 -> 4 head, Glorot-uniform from seed 3 (kHeadParams parameters).
#ifndef FEDTINY_TESTS_SMALL_MODEL_H_
#define FEDTINY_TESTS_SMALL_MODEL_H_

#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "proto/model.pb.h"

namespace fedtiny::testing {

inline constexpr int kSmallModelInputs = 16;
inline constexpr int kSmallHeadParams = 12 * 8 + 8 + 8 * 4 + 4;

inline v1::Model SmallModel() {
  client::Head all = client::MakeHead({16, 12, 8, 4}, 3);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  return client::ModelToProto(client::Body({all.layers[0]}), head);
}

}  // namespace fedtiny::testing

#endif  // FEDTINY_TESTS_SMALL_MODEL_H_
