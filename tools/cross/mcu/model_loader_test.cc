#include "tools/cross/mcu/model_loader.h"

#include <string>
#include <vector>

#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "gtest/gtest.h"

namespace fedtiny::mcu {
namespace {

std::string Serialized(const client::Body& body, const client::Head& head) {
  return ModelToProto(body, head).SerializeAsString();
}

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

alignas(16) unsigned char g_block[8 << 10];

TEST(FlashModelTest, CopiesTheHeadAndStreamsTheBodyAsSerialized) {
  client::Head all = client::MakeHead({24, 12, 8, 6, 5}, 3);
  all.layers[0].b.setLinSpaced(12, -1, 1);
  all.layers[1].b.setLinSpaced(8, -0.5, 0.5);
  const client::Body body({all.layers[0], all.layers[1]});
  client::Head head;
  head.layers.assign(all.layers.begin() + 2, all.layers.end());
  const std::string bytes = Serialized(body, head);
  client::Arena arena(g_block, sizeof(g_block));
  FlashModel m;
  ASSERT_EQ(FlashModel::Open(Bytes(bytes), bytes.size(), arena, &m), nullptr);
  EXPECT_EQ(m.input_dim(), 24);
  EXPECT_EQ(m.feature_dim(), 8);
  EXPECT_EQ(m.arena_bytes(), arena.used());
  EXPECT_EQ(std::vector<float>(m.head().begin(), m.head().end()), head.Flatten());
  ASSERT_EQ(m.head_shape().size(), 2u);
  EXPECT_EQ(m.head_shape()[0].in, 8);
  EXPECT_EQ(m.head_shape()[1].out, 5);
  EXPECT_FALSE(m.head_shape()[1].relu);

  client::RowMatrixXf x(3, 24);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = 0.1f * static_cast<float>(i % 17) - 0.8f;
  const client::StatusOr<client::RowMatrixXf> want = body.Features(x);
  ASSERT_TRUE(want.ok());
  for (Eigen::Index r = 0; r < 3; ++r) {
    float got[8];
    ASSERT_EQ(m.Features(x.row(r).data(), got), nullptr);
    for (int o = 0; o < 8; ++o) EXPECT_NEAR(got[o], (*want)(r, o), 1e-5f) << "example " << r << " output " << o;
  }
}

TEST(FlashModelTest, WithoutABodyTheFeaturesAreTheInputs) {
  const client::Head head = client::MakeHead({6, 4, 3}, 2);
  const std::string bytes = Serialized(client::Body(), head);
  client::Arena arena(g_block, sizeof(g_block));
  FlashModel m;
  ASSERT_EQ(FlashModel::Open(Bytes(bytes), bytes.size(), arena, &m), nullptr);
  const float in[6] = {1, 2, 3, 4, 5, 6};
  float out[6] = {};
  ASSERT_EQ(m.Features(in, out), nullptr);
  EXPECT_EQ(std::vector<float>(out, out + 6), std::vector<float>(in, in + 6));
}

TEST(FlashModelTest, RefusesInt8DamagedAndOversizedModels) {
  client::Head all = client::MakeHead({16, 8, 4}, 5);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  const std::string int8 = Serialized(client::Body({client::Quantize(all.layers[0])}), head);
  client::Arena arena(g_block, sizeof(g_block));
  FlashModel m;
  EXPECT_STREQ(FlashModel::Open(Bytes(int8), int8.size(), arena, &m),
               "int8 tensors: this firmware takes the float32 variant");
  const std::string good = Serialized(client::Body({all.layers[0]}), head);
  EXPECT_NE(FlashModel::Open(Bytes(good), good.size() - 7, arena, &m), nullptr);  // Cut short.
  v1::Model wrong = ModelToProto(client::Body({all.layers[0]}), head);
  wrong.mutable_head(0)->mutable_weights()->mutable_values()->RemoveLast();
  const std::string w = wrong.SerializeAsString();
  EXPECT_STREQ(FlashModel::Open(Bytes(w), w.size(), arena, &m), "weights: value count is not outputs x inputs");
  client::Arena tiny(g_block, 64);
  EXPECT_STREQ(FlashModel::Open(Bytes(good), good.size(), tiny, &m), "arena: too small for the model");
}

}  // namespace
}  // namespace fedtiny::mcu
