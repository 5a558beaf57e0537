// The nanopb wire (client/wire) against the C++ protobuf runtime the server uses:
// what one side writes, the other reads to the same values, bit for bit.
#include "client/wire/wire.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/federation.pb.h"
#include "proto/model.pb.h"

namespace fedtiny::wire {
namespace {

namespace v1 = ::fedtiny::v1;

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

const uint8_t* U8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// ----- Random models -----

float RandomFloat(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 99);
  int p = pick(rng);
  if (p == 0) return -0.0f;
  if (p == 1) return 1e-40f;  // Subnormal.
  if (p == 2) return std::numeric_limits<float>::quiet_NaN();
  if (p == 3) return -std::numeric_limits<float>::infinity();
  return std::normal_distribution<float>(0.0f, 1.0f)(rng);
}

void FillTensor(std::mt19937& rng, v1::Tensor* t, std::vector<int64_t> shape, bool int8) {
  int64_t n = 1;
  for (int64_t d : shape) {
    t->add_shape(d);
    n *= d;
  }
  if (int8) {
    std::string q(static_cast<size_t>(n), '\0');
    std::uniform_int_distribution<int> byte(-128, 127);
    for (char& c : q) c = static_cast<char>(byte(rng));
    t->set_int8_values(q);
    t->set_scale(std::uniform_real_distribution<float>(1e-4f, 0.1f)(rng));
    t->set_zero_point(std::uniform_int_distribution<int>(-128, 127)(rng));
  } else {
    for (int64_t i = 0; i < n; ++i) t->add_values(RandomFloat(rng));
  }
}

void AddLayer(std::mt19937& rng, v1::DenseLayer* l, int inputs, int outputs, bool int8) {
  l->set_inputs(inputs);
  l->set_outputs(outputs);
  l->set_relu(rng() % 2 == 0);
  FillTensor(rng, l->mutable_weights(), {outputs, inputs}, int8);
  FillTensor(rng, l->mutable_bias(), {outputs}, false);
}

// widths: input_dim, then each layer's outputs; the last `head` layers are the head.
v1::Model RandomModel(uint32_t seed, const std::vector<int>& widths, int head, double int8_share) {
  std::mt19937 rng(seed);
  v1::Model m;
  m.set_input_dim(widths[0]);
  const int layers = static_cast<int>(widths.size()) - 1;
  for (int i = 0; i < layers; ++i) {
    bool int8 = std::uniform_real_distribution<double>(0, 1)(rng) < int8_share;
    v1::DenseLayer* l = i < layers - head ? m.add_body() : m.add_head();
    AddLayer(rng, l, widths[i], widths[i + 1], int8);
  }
  return m;
}

// ----- A sink that keeps everything, to compare with C++ protobuf -----

struct CollectedTensor {
  std::vector<float> values;
  std::vector<int8_t> int8s;
};

struct CollectedLayer {
  LayerInfo info;
  CollectedTensor weights, bias;
};

class CollectSink : public ModelSink {
 public:
  bool Floats(const TensorRef& t, size_t offset, const float* values, size_t n) override {
    CollectedTensor& c = TensorOf(t);
    if (offset != c.values.size()) return false;  // Chunks arrive in order.
    c.values.insert(c.values.end(), values, values + n);
    max_chunk = std::max(max_chunk, n * 4);
    return true;
  }
  bool Int8s(const TensorRef& t, size_t offset, const int8_t* values, size_t n) override {
    CollectedTensor& c = TensorOf(t);
    if (offset == 0) c.int8s.clear();
    if (offset != c.int8s.size()) return false;
    c.int8s.insert(c.int8s.end(), values, values + n);
    max_chunk = std::max(max_chunk, n);
    return true;
  }
  bool Layer(const LayerInfo& info) override {
    CollectedLayer& l = LayerOf(info.stack, info.index);
    l.info = info;
    ++layers_done;
    return true;
  }

  std::vector<CollectedLayer> body, head;
  size_t max_chunk = 0;
  int layers_done = 0;

 private:
  CollectedLayer& LayerOf(Stack s, uint32_t index) {
    std::vector<CollectedLayer>& v = s == Stack::kBody ? body : head;
    if (v.size() <= index) v.resize(index + 1);
    return v[index];
  }
  CollectedTensor& TensorOf(const TensorRef& t) {
    CollectedLayer& l = LayerOf(t.stack, t.layer_index);
    return t.role == Role::kWeights ? l.weights : l.bias;
  }
};

void ExpectTensorEq(const v1::Tensor& want, bool want_present, const TensorInfo& info,
                    const CollectedTensor& got, const std::string& where) {
  EXPECT_EQ(info.present, want_present) << where;
  ASSERT_EQ(info.rank, want.shape_size()) << where;
  for (int i = 0; i < want.shape_size(); ++i) EXPECT_EQ(info.shape[i], want.shape(i)) << where;
  ASSERT_EQ(info.float_count, static_cast<size_t>(want.values_size())) << where;
  ASSERT_EQ(got.values.size(), static_cast<size_t>(want.values_size())) << where;
  for (int i = 0; i < want.values_size(); ++i) {
    ASSERT_EQ(Bits(got.values[i]), Bits(want.values(i))) << where << " value " << i;
  }
  ASSERT_EQ(info.int8_count, want.int8_values().size()) << where;
  ASSERT_EQ(got.int8s.size(), want.int8_values().size()) << where;
  EXPECT_EQ(std::string(got.int8s.begin(), got.int8s.end()), want.int8_values()) << where;
  EXPECT_EQ(Bits(info.scale), Bits(want.scale())) << where;
  EXPECT_EQ(info.zero_point, want.zero_point()) << where;
}

void ExpectModelEq(const v1::Model& want, const ModelInfo& info, const CollectSink& got) {
  EXPECT_EQ(info.input_dim, want.input_dim());
  ASSERT_EQ(info.body_layers, static_cast<uint32_t>(want.body_size()));
  ASSERT_EQ(info.head_layers, static_cast<uint32_t>(want.head_size()));
  ASSERT_EQ(got.body.size(), static_cast<size_t>(want.body_size()));
  ASSERT_EQ(got.head.size(), static_cast<size_t>(want.head_size()));
  for (int s = 0; s < 2; ++s) {
    const auto& layers = s == 0 ? want.body() : want.head();
    const auto& collected = s == 0 ? got.body : got.head;
    for (int i = 0; i < layers.size(); ++i) {
      std::string where = std::string(s == 0 ? "body " : "head ") + std::to_string(i);
      const v1::DenseLayer& w = layers[i];
      const CollectedLayer& g = collected[i];
      EXPECT_EQ(g.info.index, static_cast<uint32_t>(i));
      EXPECT_EQ(g.info.inputs, w.inputs()) << where;
      EXPECT_EQ(g.info.outputs, w.outputs()) << where;
      EXPECT_EQ(g.info.relu, w.relu()) << where;
      ExpectTensorEq(w.weights(), w.has_weights(), g.info.weights, g.weights, where + " weights");
      ExpectTensorEq(w.bias(), w.has_bias(), g.info.bias, g.bias, where + " bias");
    }
  }
}

// A ByteSource that hands out at most `chunk` bytes per Read call's worth of a
// backing "flash" and records the largest request.
class FlashSource : public ByteSource {
 public:
  explicit FlashSource(const std::string& bytes) : bytes_(bytes) {}
  bool Read(uint8_t* dst, size_t n) override {
    if (n > bytes_.size() - pos_) return false;
    std::memcpy(dst, bytes_.data() + pos_, n);
    pos_ += n;
    largest_read = std::max(largest_read, n);
    ++reads;
    return true;
  }
  size_t largest_read = 0;
  size_t reads = 0;

 private:
  const std::string& bytes_;
  size_t pos_ = 0;
};

TEST(WireModelTest, RandomModelsDecodeToTheSameValuesAsCppProtobuf) {
  const std::vector<std::vector<int>> shapes = {
      {4, 3},  {8, 16, 4}, {32, 64, 32, 10}, {1, 1, 1}, {100, 7, 3, 2, 5}, {17, 128, 10},
  };
  uint32_t seed = 1;
  for (const auto& widths : shapes) {
    for (int head = 1; head < static_cast<int>(widths.size()); ++head) {
      for (double int8_share : {0.0, 0.5, 1.0}) {
        v1::Model m = RandomModel(seed++, widths, head, int8_share);
        std::string bytes = m.SerializeAsString();
        for (size_t scratch_floats : {size_t{1}, size_t{3}, size_t{64}, size_t{4096}}) {
          std::vector<float> scratch(scratch_floats);
          // From memory.
          CollectSink a;
          ModelInfo ia;
          Result r = DecodeModel(U8(bytes), bytes.size(), scratch.data(), scratch.size(), a, &ia);
          ASSERT_TRUE(r.ok()) << r.message() << " seed " << seed;
          ExpectModelEq(m, ia, a);
          EXPECT_LE(a.max_chunk, scratch_floats * 4);
          // Streamed from a source.
          FlashSource flash(bytes);
          CollectSink b;
          ModelInfo ib;
          r = DecodeModel(flash, bytes.size(), scratch.data(), scratch.size(), b, &ib);
          ASSERT_TRUE(r.ok()) << r.message();
          ExpectModelEq(m, ib, b);
          EXPECT_LE(flash.largest_read, std::max<size_t>(scratch_floats * 4, 16));
        }
      }
    }
  }
}

TEST(WireModelTest, EmptyModelAndLayerWithoutTensors) {
  v1::Model m;
  std::string bytes = m.SerializeAsString();
  float scratch[4];
  CollectSink s;
  ModelInfo info;
  ASSERT_TRUE(DecodeModel(U8(bytes), bytes.size(), scratch, 4, s, &info).ok());
  EXPECT_EQ(info.body_layers + info.head_layers, 0u);

  m.set_input_dim(3);
  m.add_head()->set_outputs(2);
  bytes = m.SerializeAsString();
  CollectSink t;
  ASSERT_TRUE(DecodeModel(U8(bytes), bytes.size(), scratch, 4, t, &info).ok());
  ExpectModelEq(m, info, t);
}

// Unpacked floats (one fixed32 per element) are legal protobuf for a repeated
// float; the decoder takes both encodings.
TEST(WireModelTest, UnpackedFloatsDecode) {
  // Tensor{values: 1.5 (unpacked), 2.5 (unpacked)} in a head layer.
  std::string tensor;
  for (float f : {1.5f, 2.5f}) {
    tensor.push_back(static_cast<char>((2 << 3) | 5));
    tensor.append(reinterpret_cast<const char*>(&f), 4);
  }
  std::string layer;
  layer.push_back(static_cast<char>((4 << 3) | 2));
  layer.push_back(static_cast<char>(tensor.size()));
  layer += tensor;
  std::string model;
  model.push_back(static_cast<char>((3 << 3) | 2));
  model.push_back(static_cast<char>(layer.size()));
  model += layer;
  v1::Model cpp;
  ASSERT_TRUE(cpp.ParseFromString(model));
  float scratch[8];
  CollectSink s;
  ModelInfo info;
  Result r = DecodeModel(U8(model), model.size(), scratch, 8, s, &info);
  ASSERT_TRUE(r.ok()) << r.message();
  ExpectModelEq(cpp, info, s);
}

// A ~400 KB float model, decoded from a "flash" source through 16 floats of
// scratch straight into preallocated per-tensor buffers.
TEST(WireModelTest, LargeModelStreamsThroughASmallBuffer) {
  v1::Model m = RandomModel(4242, {256, 240, 128, 64, 10}, 2, 0.0);
  std::string bytes = m.SerializeAsString();
  ASSERT_GT(bytes.size(), 390u * 1024);
  ASSERT_LT(bytes.size(), 420u * 1024);

  std::vector<std::vector<float>> storage;
  std::vector<TensorBuffer> buffers;
  for (int s = 0; s < 2; ++s) {
    const auto& layers = s == 0 ? m.body() : m.head();
    for (int i = 0; i < layers.size(); ++i) {
      for (Role role : {Role::kWeights, Role::kBias}) {
        const v1::Tensor& t = role == Role::kWeights ? layers[i].weights() : layers[i].bias();
        storage.emplace_back(t.values_size());
      }
    }
  }
  size_t k = 0;
  for (int s = 0; s < 2; ++s) {
    const auto& layers = s == 0 ? m.body() : m.head();
    for (int i = 0; i < layers.size(); ++i) {
      for (Role role : {Role::kWeights, Role::kBias}) {
        TensorBuffer b{s == 0 ? Stack::kBody : Stack::kHead, static_cast<uint32_t>(i), role};
        b.floats = storage[k].data();
        b.float_capacity = storage[k].size();
        buffers.push_back(b);
        ++k;
      }
    }
  }
  LayerInfo layers[8];
  FixedBuffersSink sink(buffers.data(), buffers.size(), layers, 8);
  float scratch[16];
  FlashSource flash(bytes);
  ModelInfo info;
  Result r = DecodeModel(flash, bytes.size(), scratch, 16, sink, &info);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(info.input_dim, 256);
  EXPECT_EQ(info.body_layers, 2u);
  EXPECT_EQ(info.head_layers, 2u);
  ASSERT_EQ(sink.layer_count(), 4u);
  EXPECT_LE(flash.largest_read, 64u);  // Never more than the scratch at once.
  k = 0;
  for (int s = 0; s < 2; ++s) {
    const auto& ls = s == 0 ? m.body() : m.head();
    for (int i = 0; i < ls.size(); ++i) {
      EXPECT_EQ(layers[s * 2 + i].outputs, ls[i].outputs());
      for (Role role : {Role::kWeights, Role::kBias}) {
        const v1::Tensor& t = role == Role::kWeights ? ls[i].weights() : ls[i].bias();
        ASSERT_EQ(storage[k].size(), static_cast<size_t>(t.values_size()));
        for (int j = 0; j < t.values_size(); ++j) ASSERT_EQ(Bits(storage[k][j]), Bits(t.values(j)));
        ++k;
      }
    }
  }

  // A buffer one float short: a clean error, not an overrun.
  buffers[0].float_capacity -= 1;
  FixedBuffersSink short_sink(buffers.data(), buffers.size(), nullptr, 0);
  r = DecodeModel(U8(bytes), bytes.size(), scratch, 16, short_sink, &info);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "model sink refused");
}

TEST(WireModelTest, EveryTruncationFailsLikeCppProtobuf) {
  v1::Model m = RandomModel(7, {6, 5, 4, 3}, 1, 0.5);
  std::string bytes = m.SerializeAsString();
  float scratch[3];
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string prefix = bytes.substr(0, n);
    v1::Model cpp;
    bool cpp_ok = cpp.ParseFromString(prefix);
    CollectSink s;
    ModelInfo info;
    Result r = DecodeModel(U8(prefix), prefix.size(), scratch, 3, s, &info);
    ASSERT_EQ(r.ok(), cpp_ok) << "prefix " << n << ": " << r.message();
    if (!r.ok()) {
      EXPECT_GT(std::strlen(r.message()), 0u);
    } else {
      ExpectModelEq(cpp, info, s);
    }
    // Announcing more bytes than the source has: an I/O error.
    BufferSource source(U8(prefix), prefix.size());
    CollectSink t;
    EXPECT_FALSE(DecodeModel(source, bytes.size(), scratch, 3, t, &info).ok());
  }
}

TEST(WireModelTest, BadInputsAreCleanErrors) {
  float scratch[4];
  CollectSink s;
  ModelInfo info;
  // Tensor.values of 5 bytes.
  const uint8_t odd[] = {0x1a, 0x09, 0x22, 0x07, 0x12, 0x05, 1, 2, 3, 4, 5};
  v1::Model cpp;
  EXPECT_FALSE(cpp.ParseFromArray(odd, sizeof(odd)));
  Result r = DecodeModel(odd, sizeof(odd), scratch, 4, s, &info);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "values: length not a multiple of 4");
  // A shape of rank 5.
  v1::Model deep;
  for (int i = 0; i < 5; ++i) deep.add_body()->mutable_weights()->add_shape(1);
  deep.mutable_body(4)->mutable_weights()->clear_shape();
  for (int i = 0; i < 5; ++i) deep.mutable_body(4)->mutable_weights()->add_shape(1);
  std::string bytes = deep.SerializeAsString();
  r = DecodeModel(U8(bytes), bytes.size(), scratch, 4, s, &info);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "array overflow");
  // No scratch.
  EXPECT_FALSE(DecodeModel(U8(bytes), bytes.size(), nullptr, 0, s, &info).ok());
}

// A convolutional body (issue 16) is refused, not skipped: skipping it would
// hand the head raw pixels. So is a dense layer's ReLU6 (a silent identity).
TEST(WireModelTest, ConvolutionalBodyAndActivationFieldAreRefused) {
  float scratch[4];
  CollectSink s;
  ModelInfo info;
  v1::Model conv;
  conv.set_input_dim(4);
  conv.add_layers()->mutable_flatten();
  std::string bytes = conv.SerializeAsString();
  Result r = DecodeModel(U8(bytes), bytes.size(), scratch, 4, s, &info);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "convolutional body not supported by this decoder");
  v1::Model relu6;
  relu6.add_head()->set_activation(v1::ACTIVATION_RELU6);
  bytes = relu6.SerializeAsString();
  r = DecodeModel(U8(bytes), bytes.size(), scratch, 4, s, &info);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "dense layer activation field not supported on this device");
}

// ----- Fuzz-style: random mutations never crash and fail cleanly -----

std::string Mutate(std::mt19937& rng, std::string s) {
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    int op = static_cast<int>(rng() % 6);
    size_t pos = s.empty() ? 0 : rng() % s.size();
    switch (op) {
      case 0:  // Flip a bit.
        if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:  // Random byte.
        if (!s.empty()) s[pos] = static_cast<char>(rng());
        break;
      case 2:  // Insert bytes.
        s.insert(pos, 1 + rng() % 4, static_cast<char>(rng()));
        break;
      case 3:  // Delete bytes.
        if (!s.empty()) s.erase(pos, 1 + rng() % 4);
        break;
      case 4:  // Truncate.
        s.resize(pos);
        break;
      case 5:  // A length byte made large.
        if (!s.empty()) s[pos] = static_cast<char>(0x80 | rng());
        break;
    }
  }
  return s;
}

TEST(WireFuzzTest, TwoThousandMutationsNeverCrash) {
  std::mt19937 rng(20240611);
  v1::Model model = RandomModel(99, {12, 9, 6, 4}, 2, 0.5);
  v1::CheckInResponse resp;
  v1::Assignment* a = resp.mutable_assignment();
  a->set_task("fmnist-head");
  a->set_round(12);
  a->set_upload_token("0123456789abcdef0123456789abcdef");
  a->mutable_plan()->set_epochs(2);
  a->mutable_plan()->set_learning_rate(0.05f);
  for (int i = 0; i < 3; ++i) {
    v1::ModelBundle* b = a->add_bundles();
    b->set_task("fmnist-head");
    b->set_cluster(i);
    b->set_version(5);
    b->set_variant("int8");
    b->set_size_bytes(1234);
    b->set_sha256(std::string(32, static_cast<char>(i)));
  }
  a->set_deadline_ms(60000);
  v1::DownloadResponse dl;
  *dl.mutable_bundle() = a->bundles(0);
  dl.set_offset(0);
  dl.set_data(std::string(300, 'x'));
  const std::string seeds[] = {model.SerializeAsString(), resp.SerializeAsString(),
                               dl.SerializeAsString()};
  int errors = 0, compared = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    const int kind = iter % 3;
    std::string bytes = Mutate(rng, seeds[kind]);
    Result r = Result::Ok();
    if (kind == 0) {
      float scratch[5];
      CollectSink s;
      ModelInfo info;
      r = DecodeModel(U8(bytes), bytes.size(), scratch, 5, s, &info);
      FlashSource flash(bytes);
      CollectSink s2;
      Result r2 = DecodeModel(flash, bytes.size(), scratch, 5, s2, &info);
      EXPECT_EQ(r.ok(), r2.ok());
      v1::Model cpp;
      // Where both accept canonical bytes (no unknown or mis-typed fields, which
      // protobuf skips and nanopb may read or refuse), the values agree.
      if (r.ok() && cpp.ParseFromString(bytes) && cpp.SerializeAsString() == bytes) {
        ExpectModelEq(cpp, info, s);
        ++compared;
      }
    } else if (kind == 1) {
      fedtiny_v1_CheckInResponse out;
      r = DecodeCheckInResponse(U8(bytes), bytes.size(), &out);
      if (r.ok() && out.which_outcome == fedtiny_v1_CheckInResponse_assignment_tag) {
        EXPECT_LE(out.outcome.assignment.bundles_count, 16);
        EXPECT_LT(std::strlen(out.outcome.assignment.task), sizeof(out.outcome.assignment.task));
        EXPECT_LE(out.outcome.assignment.upload_token.size, 64);
      }
    } else {
      uint8_t scratch[32];
      std::string data(4096, '\0');
      BufferSink sink(reinterpret_cast<uint8_t*>(&data[0]), data.size());
      FlashSource flash(bytes);
      fedtiny_v1_DownloadResponse out;
      size_t n = 0;
      r = DecodeDownloadResponse(flash, bytes.size(), scratch, sizeof(scratch), sink, &out, &n);
      EXPECT_LE(n, bytes.size());
    }
    if (!r.ok()) {
      ++errors;
      EXPECT_GT(std::strlen(r.message()), 0u);
    }
  }
  EXPECT_GT(errors, 500);  // Most mutations break something ...
  EXPECT_GT(compared, 0);  // ... and some leave a model to compare.
}

// ----- Check-in -----

CheckInFields SampleCheckIn(const std::string& secret) {
  CheckInFields f;
  f.device_id = "device-0042";
  f.population = "fmnist";
  f.device_class = "cortex-m7";
  f.capabilities.ram_bytes = 512 * 1024;
  f.capabilities.has_fpu = true;
  f.capabilities.supports_int8 = true;
  f.capabilities.compute_score = 0.05f;
  f.state.charging = true;
  f.state.idle = true;
  f.state.unmetered_network = false;
  f.state.battery_percent = 87;
  f.device_secret = Bytes{U8(secret), secret.size()};
  return f;
}

TEST(WireCheckInTest, EncodedRequestParsesWithCppAndIsByteIdentical) {
  const std::string secret(32, '\x5a');
  CheckInFields f = SampleCheckIn(secret);
  uint8_t buf[512];
  BufferSink sink(buf, sizeof(buf));
  Result r = EncodeCheckInRequest(f, sink);
  ASSERT_TRUE(r.ok()) << r.message();
  v1::CheckInRequest cpp;
  ASSERT_TRUE(cpp.ParseFromArray(buf, static_cast<int>(sink.size())));
  EXPECT_EQ(cpp.device_id(), "device-0042");
  EXPECT_EQ(cpp.population(), "fmnist");
  EXPECT_EQ(cpp.device_class(), "cortex-m7");
  EXPECT_EQ(cpp.capabilities().ram_bytes(), 512 * 1024);
  EXPECT_TRUE(cpp.capabilities().has_fpu());
  EXPECT_TRUE(cpp.capabilities().supports_int8());
  EXPECT_EQ(cpp.capabilities().compute_score(), 0.05f);
  EXPECT_TRUE(cpp.state().charging());
  EXPECT_TRUE(cpp.state().idle());
  EXPECT_FALSE(cpp.state().unmetered_network());
  EXPECT_EQ(cpp.state().battery_percent(), 87);
  EXPECT_EQ(cpp.device_secret(), secret);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), sink.size()), cpp.SerializeAsString());

  // Empty submessages are still present, as with C++'s mutable_*().
  CheckInFields bare;
  bare.device_id = "x";
  BufferSink sink2(buf, sizeof(buf));
  ASSERT_TRUE(EncodeCheckInRequest(bare, sink2).ok());
  v1::CheckInRequest want;
  want.set_device_id("x");
  want.mutable_capabilities();
  want.mutable_state();
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), sink2.size()), want.SerializeAsString());
}

TEST(WireCheckInTest, OversizedFieldsAreRefusedNotTruncated) {
  const std::string secret(32, 'k');
  uint8_t buf[512];
  CheckInFields f = SampleCheckIn(secret);
  const std::string long_id(129, 'd');
  f.device_id = long_id;
  BufferSink a(buf, sizeof(buf));
  EXPECT_FALSE(EncodeCheckInRequest(f, a).ok());
  f = SampleCheckIn(secret);
  const std::string max_id(128, 'd');
  f.device_id = max_id;
  BufferSink b(buf, sizeof(buf));
  EXPECT_TRUE(EncodeCheckInRequest(f, b).ok());
  const std::string long_secret(65, 's');
  f.device_secret = Bytes{U8(long_secret), long_secret.size()};
  BufferSink c(buf, sizeof(buf));
  EXPECT_FALSE(EncodeCheckInRequest(f, c).ok());
  f = SampleCheckIn(secret);
  f.population = std::string_view("a\0b", 3);
  BufferSink d(buf, sizeof(buf));
  EXPECT_FALSE(EncodeCheckInRequest(f, d).ok());
  // A sink too small: an error, nothing written past it.
  f = SampleCheckIn(secret);
  BufferSink tiny(buf, 10);
  EXPECT_FALSE(EncodeCheckInRequest(f, tiny).ok());
}

TEST(WireCheckInTest, ResponsesFromCppDecode) {
  // An assignment with a plan and bundles.
  v1::CheckInResponse resp;
  v1::Assignment* a = resp.mutable_assignment();
  a->set_task("fmnist-head");
  a->set_round(77);
  a->set_upload_token("0123456789abcdef0123456789abcdef");
  v1::Plan* p = a->mutable_plan();
  p->set_epochs(3);
  p->set_batch_size(32);
  p->set_learning_rate(0.05f);
  p->set_momentum(0.9f);
  p->set_proximal_mu(0.01f);
  p->set_clip_norm(5.0f);
  for (int i = 0; i < 16; ++i) {
    v1::ModelBundle* b = a->add_bundles();
    b->set_task(std::string(64, 't'));
    b->set_cluster(i);
    b->set_version(1000 + i);
    b->set_variant(i % 2 ? "int8" : "float32");
    b->set_size_bytes(400000 + i);
    b->set_sha256(std::string(32, static_cast<char>(0xa0 + i)));
  }
  a->set_deadline_ms(600000);
  std::string bytes = resp.SerializeAsString();
  fedtiny_v1_CheckInResponse out;
  Result r = DecodeCheckInResponse(U8(bytes), bytes.size(), &out);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(out.which_outcome, fedtiny_v1_CheckInResponse_assignment_tag);
  const fedtiny_v1_Assignment& got = out.outcome.assignment;
  EXPECT_STREQ(got.task, "fmnist-head");
  EXPECT_EQ(got.round, 77);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.upload_token.bytes), got.upload_token.size),
            a->upload_token());
  ASSERT_TRUE(got.has_plan);
  EXPECT_EQ(got.plan.epochs, 3);
  EXPECT_EQ(got.plan.batch_size, 32);
  EXPECT_EQ(got.plan.learning_rate, 0.05f);
  EXPECT_EQ(got.plan.momentum, 0.9f);
  EXPECT_EQ(got.plan.proximal_mu, 0.01f);
  EXPECT_EQ(got.plan.clip_norm, 5.0f);
  ASSERT_EQ(got.bundles_count, 16);
  for (int i = 0; i < 16; ++i) {
    const fedtiny_v1_ModelBundle& b = got.bundles[i];
    EXPECT_EQ(std::string(b.task), a->bundles(i).task());
    EXPECT_EQ(b.cluster, i);
    EXPECT_EQ(b.version, 1000 + i);
    EXPECT_EQ(std::string(b.variant), a->bundles(i).variant());
    EXPECT_EQ(b.size_bytes, 400000 + i);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(b.sha256.bytes), b.sha256.size), a->bundles(i).sha256());
  }
  EXPECT_EQ(got.deadline_ms, 600000);

  // The assignment alone, and its plan alone.
  std::string abytes = a->SerializeAsString();
  fedtiny_v1_Assignment alone;
  ASSERT_TRUE(DecodeAssignment(U8(abytes), abytes.size(), &alone).ok());
  EXPECT_EQ(alone.bundles_count, 16);
  std::string pbytes = p->SerializeAsString();
  fedtiny_v1_Plan plan;
  ASSERT_TRUE(DecodePlan(U8(pbytes), pbytes.size(), &plan).ok());
  EXPECT_EQ(plan.batch_size, 32);
  EXPECT_EQ(plan.clip_norm, 5.0f);

  // A 17th bundle: refused (DeviceLimits::max_bundles), cleanly.
  *a->add_bundles() = a->bundles(0);
  bytes = resp.SerializeAsString();
  r = DecodeCheckInResponse(U8(bytes), bytes.size(), &out);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "array overflow");
  // A task name over 64 bytes: refused.
  a->mutable_bundles()->RemoveLast();
  a->set_task(std::string(65, 't'));
  bytes = resp.SerializeAsString();
  EXPECT_FALSE(DecodeCheckInResponse(U8(bytes), bytes.size(), &out).ok());

  // Retry, and neither.
  v1::CheckInResponse retry;
  retry.mutable_retry()->set_earliest_ms(1000);
  retry.mutable_retry()->set_latest_ms(5000);
  bytes = retry.SerializeAsString();
  ASSERT_TRUE(DecodeCheckInResponse(U8(bytes), bytes.size(), &out).ok());
  ASSERT_EQ(out.which_outcome, fedtiny_v1_CheckInResponse_retry_tag);
  EXPECT_EQ(out.outcome.retry.earliest_ms, 1000);
  EXPECT_EQ(out.outcome.retry.latest_ms, 5000);
  ASSERT_TRUE(DecodeCheckInResponse(nullptr, 0, &out).ok());
  EXPECT_EQ(out.which_outcome, 0);
}

// ----- Download -----

TEST(WireDownloadTest, DataStreamsToTheSink) {
  v1::DownloadResponse dl;
  dl.mutable_bundle()->set_task("t");
  dl.mutable_bundle()->set_size_bytes(100000);
  dl.set_offset(65536);
  std::string data(70000, '\0');
  std::mt19937 rng(3);
  for (char& c : data) c = static_cast<char>(rng());
  dl.set_data(data);
  std::string bytes = dl.SerializeAsString();
  std::string got(data.size(), '\0');
  BufferSink sink(reinterpret_cast<uint8_t*>(&got[0]), got.size());
  uint8_t scratch[128];
  FlashSource flash(bytes);
  fedtiny_v1_DownloadResponse out;
  size_t n = 0;
  Result r = DecodeDownloadResponse(flash, bytes.size(), scratch, sizeof(scratch), sink, &out, &n);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(n, data.size());
  EXPECT_EQ(got, data);
  EXPECT_EQ(out.offset, 65536);
  EXPECT_TRUE(out.has_bundle);
  EXPECT_EQ(out.bundle.size_bytes, 100000);
  EXPECT_LE(flash.largest_read, sizeof(scratch));
  // A full sink: a clean error.
  BufferSink small(reinterpret_cast<uint8_t*>(&got[0]), 1000);
  FlashSource again(bytes);
  r = DecodeDownloadResponse(again, bytes.size(), scratch, sizeof(scratch), small, &out, &n);
  EXPECT_FALSE(r.ok());
  EXPECT_STREQ(r.message(), "data sink refused");
}

// ----- Upload -----

TEST(WireUploadTest, StreamedDeltaParsesWithCppAndIsByteIdentical) {
  const std::string token = "0123456789abcdef0123456789abcdef";
  const std::string secret(48, '\x07');
  for (size_t count : {size_t{0}, size_t{1}, size_t{650}, size_t{100000}}) {
    std::vector<float> delta(count);
    std::mt19937 rng(static_cast<uint32_t>(count));
    for (float& d : delta) d = RandomFloat(rng);
    UploadFields f;
    f.task = "fmnist-head";
    f.round = 31;
    f.upload_token = Bytes{U8(token), token.size()};
    f.cluster = 2;
    f.model_version = 17;
    f.example_count = 600;
    f.delta = delta.data();
    f.delta_count = delta.size();
    f.device_secret = Bytes{U8(secret), secret.size()};
    std::string out(count * 4 + 1024, '\0');
    BufferSink sink(reinterpret_cast<uint8_t*>(&out[0]), out.size());
    Result r = EncodeUploadRequest(f, sink);
    ASSERT_TRUE(r.ok()) << r.message();
    out.resize(sink.size());
    size_t size = 0;
    ASSERT_TRUE(UploadRequestSize(f, &size).ok());
    EXPECT_EQ(size, out.size());

    v1::UploadRequest cpp;
    ASSERT_TRUE(cpp.ParseFromString(out));
    EXPECT_EQ(cpp.task(), "fmnist-head");
    EXPECT_EQ(cpp.round(), 31);
    EXPECT_EQ(cpp.upload_token(), token);
    EXPECT_EQ(cpp.cluster(), 2);
    EXPECT_EQ(cpp.model_version(), 17);
    EXPECT_EQ(cpp.example_count(), 600);
    EXPECT_EQ(cpp.device_secret(), secret);
    ASSERT_EQ(cpp.delta().size(), count * 4);
    for (size_t i = 0; i < count; ++i) {
      uint32_t le;
      std::memcpy(&le, cpp.delta().data() + 4 * i, 4);  // Little-endian host (x86, Cortex-M).
      ASSERT_EQ(le, Bits(delta[i])) << i;
    }
    // The same message built with C++ protobuf serializes to the same bytes.
    v1::UploadRequest want;
    want.set_task("fmnist-head");
    want.set_round(31);
    want.set_upload_token(token);
    want.set_cluster(2);
    want.set_model_version(17);
    want.set_example_count(600);
    want.set_delta(std::string(reinterpret_cast<const char*>(delta.data()), count * 4));
    want.set_device_secret(secret);
    EXPECT_EQ(out, want.SerializeAsString());
  }
}

TEST(WireUploadTest, MetricsParseWithCpp) {
  const Metric metrics[] = {{"accuracy", 0.875}, {"train_loss", 0.3125}, {"zero", 0.0}};
  float delta[3] = {1.0f, -2.0f, 0.5f};
  UploadFields f;
  f.task = "t";
  f.delta = delta;
  f.delta_count = 3;
  f.metrics = metrics;
  f.metric_count = 3;
  uint8_t buf[512];
  BufferSink sink(buf, sizeof(buf));
  ASSERT_TRUE(EncodeUploadRequest(f, sink).ok());
  v1::UploadRequest cpp;
  ASSERT_TRUE(cpp.ParseFromArray(buf, static_cast<int>(sink.size())));
  ASSERT_EQ(cpp.metrics_size(), 3);
  EXPECT_EQ(cpp.metrics().at("accuracy"), 0.875);
  EXPECT_EQ(cpp.metrics().at("train_loss"), 0.3125);
  EXPECT_EQ(cpp.metrics().at("zero"), 0.0);

  // 17 metrics, or a name over 64 bytes: refused.
  Metric many[17];
  for (Metric& m : many) m = Metric{"m", 1.0};
  f.metrics = many;
  f.metric_count = 17;
  BufferSink a(buf, sizeof(buf));
  EXPECT_FALSE(EncodeUploadRequest(f, a).ok());
  const std::string long_name(65, 'n');
  Metric one[1] = {{long_name, 1.0}};
  f.metrics = one;
  f.metric_count = 1;
  BufferSink b(buf, sizeof(buf));
  EXPECT_FALSE(EncodeUploadRequest(f, b).ok());
  // A sink that fills up mid-delta.
  f.metric_count = 0;
  std::vector<float> big(1000, 1.0f);
  f.delta = big.data();
  f.delta_count = big.size();
  BufferSink c(buf, sizeof(buf));
  EXPECT_FALSE(EncodeUploadRequest(f, c).ok());
}

// The remaining static messages through the generic calls.
TEST(WireGenericTest, DownloadRequestAndFailureReportRoundTrip) {
  fedtiny_v1_DownloadRequest req = fedtiny_v1_DownloadRequest_init_zero;
  std::strcpy(req.task, "fmnist-head");
  req.round = 4;
  req.upload_token.size = 3;
  std::memcpy(req.upload_token.bytes, "abc", 3);
  req.cluster = 1;
  req.offset = 262144;
  req.max_bytes = 4096;
  std::strcpy(req.variant, "int8");
  uint8_t buf[256];
  BufferSink sink(buf, sizeof(buf));
  ASSERT_TRUE(EncodeMessage(fedtiny_v1_DownloadRequest_fields, &req, sink).ok());
  v1::DownloadRequest cpp;
  ASSERT_TRUE(cpp.ParseFromArray(buf, static_cast<int>(sink.size())));
  EXPECT_EQ(cpp.task(), "fmnist-head");
  EXPECT_EQ(cpp.upload_token(), "abc");
  EXPECT_EQ(cpp.offset(), 262144);
  EXPECT_EQ(cpp.max_bytes(), 4096);
  EXPECT_EQ(cpp.variant(), "int8");
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), sink.size()), cpp.SerializeAsString());

  v1::FailureReport report;
  report.set_task("fmnist-head");
  report.set_round(4);
  report.set_upload_token("abc");
  report.set_reason("plan: epochs 2147483647 is outside [1, 100]");
  std::string bytes = report.SerializeAsString();
  fedtiny_v1_FailureReport got;
  ASSERT_TRUE(DecodeMessage(fedtiny_v1_FailureReport_fields, U8(bytes), bytes.size(), &got).ok());
  EXPECT_STREQ(got.reason, "plan: epochs 2147483647 is outside [1, 100]");
  BufferSink back(buf, sizeof(buf));
  ASSERT_TRUE(EncodeMessage(fedtiny_v1_FailureReport_fields, &got, back).ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), back.size()), bytes);
}

}  // namespace
}  // namespace fedtiny::wire
