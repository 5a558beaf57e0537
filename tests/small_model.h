// The small model the end-to-end tests federate: a 16 -> 12 ReLU body and a
// 12 -> 8 -> 4 head, Glorot-uniform from seed 3 (kHeadParams parameters).
#ifndef FEDTINY_TESTS_SMALL_MODEL_H_
#define FEDTINY_TESTS_SMALL_MODEL_H_

#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "proto/admin.pb.h"
#include "proto/layer_codec.h"
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

// A convolutional body that feeds SmallModel's head (16 = 4x4x1 in, 12 out):
// conv 3x3 (`channels`, ReLU) -> global average pool -> dense 12, its
// weights a fixed pattern; as a task's body variant for devices under
// `below_ram_bytes`.
inline v1::BodyVariant ConvBodyVariant(int channels, int64_t below_ram_bytes) {
  namespace ly = client::layers;
  ly::Conv2d conv;
  conv.out_channels = channels;
  conv.window.kernel_h = conv.window.kernel_w = 3;
  conv.window.padding = ly::Padding::Symmetric(1);
  conv.activation = ly::Activation::kRelu;
  for (int64_t i = 0; i < conv.num_params(); ++i) conv.params.push_back(0.05f * (i % 9) - 0.1f);
  ly::Dense dense;
  dense.in_features = channels;
  dense.out_features = 12;
  for (int64_t i = 0; i < dense.num_params(); ++i) dense.params.push_back(0.03f * (i % 13) - 0.15f);
  v1::BodyVariant v;
  SetConvBody({4, 4, 1}, {conv, ly::GlobalAvgPool2d{}, dense}, *v.mutable_model());
  v.set_below_ram_bytes(below_ram_bytes);
  return v;
}

}  // namespace fedtiny::testing

#endif  // FEDTINY_TESTS_SMALL_MODEL_H_
