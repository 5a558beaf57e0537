#include "tools/cross/mcu/model_loader.h"

#include <string>

#include "client/transport/model_proto.h"
#include "gtest/gtest.h"

namespace fedtiny::mcu {
namespace {

std::string Serialized(const client::Body& body, const client::Head& head) {
  return ModelToProto(body, head).SerializeAsString();
}

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

TEST(ModelLoaderTest, GivesTheBodyAndHeadThatWereSerialized) {
  client::Head all = client::MakeHead({24, 12, 8, 5}, 3);
  all.layers[0].b.setLinSpaced(12, -1, 1);
  const client::Body body({all.layers[0]});
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  const std::string bytes = Serialized(body, head);
  LoadedModel m;
  ASSERT_EQ(LoadModel(Bytes(bytes), bytes.size(), &m), nullptr);
  EXPECT_EQ(m.input_dim, 24);
  ASSERT_EQ(m.body.layers().size(), 1u);
  const auto& b0 = std::get<client::DenseLayer>(m.body.layers()[0]);
  EXPECT_EQ(b0.w, all.layers[0].w);
  EXPECT_EQ(b0.b, all.layers[0].b);
  EXPECT_EQ(b0.relu, all.layers[0].relu);
  ASSERT_EQ(m.head.layers.size(), 2u);
  EXPECT_EQ(m.head.Flatten(), head.Flatten());
  EXPECT_FALSE(m.head.layers.back().relu);
}

TEST(ModelLoaderTest, RefusesInt8AndDamagedModels) {
  client::Head all = client::MakeHead({16, 8, 4}, 5);
  client::Head head;
  head.layers.assign(all.layers.begin() + 1, all.layers.end());
  const std::string int8 = Serialized(client::Body({client::Quantize(all.layers[0])}), head);
  LoadedModel m;
  EXPECT_STREQ(LoadModel(Bytes(int8), int8.size(), &m), "int8 tensors: this firmware takes the float32 variant");
  const std::string good = Serialized(client::Body({all.layers[0]}), head);
  EXPECT_NE(LoadModel(Bytes(good), good.size() - 7, &m), nullptr);  // Cut short.
  v1::Model wrong = ModelToProto(client::Body({all.layers[0]}), head);
  wrong.mutable_head(0)->mutable_weights()->mutable_values()->RemoveLast();
  const std::string w = wrong.SerializeAsString();
  EXPECT_STREQ(LoadModel(Bytes(w), w.size(), &m), "weights: value count is not outputs x inputs");
}

}  // namespace
}  // namespace fedtiny::mcu
