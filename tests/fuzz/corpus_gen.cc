// Writes the seed corpora of tests/fuzz (one small file per case, a few hundred
// bytes each): valid inputs that reach deep into each harness, plus a few near
// misses; and a reproducer per open finding (FINDINGS.md). Regenerate after
// changing a harness's input format:
//   bazel run //tests/fuzz:corpus_gen -- $PWD/tests/fuzz/corpus
//   $PWD/tests/fuzz/findings
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "aggregation/server_optimizer.h"
#include "client/core/head_trainer.h"
#include "client/transport/model_proto.h"
#include "client/platform/linux/linux_platform.h"
#include "proto/int8_layer_codec.h"
#include "proto/layer_codec.h"
#include "proto/model_codec.h"
#include "tests/fuzz/coordinator_fixture.h"
#include "tests/fuzz/fuzz_input.h"
#include "tools/base/byte_io.h"
#include "tools/base/update_codec.h"

namespace fedtiny::fuzz {
namespace {

std::string g_root;
std::string g_findings;

void WriteTo(const std::string& root, const std::string& target,
             const std::string& name, const std::string& bytes) {
  const std::string dir = root + "/" + target;
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
}
void Write(const std::string& target, const std::string& name,
           const std::string& bytes) {
  WriteTo(g_root, target, name, bytes);
}
// A reproducer of a finding (FINDINGS.md). Every finding so far is fixed, so
// its reproducer is a seed of the suite's replay test, which keeps it fixed; a
// new, open finding goes to `g_findings` (the manual <target>_findings_test).
void Finding(const std::string& target, const std::string& name,
             const std::string& bytes) {
  WriteTo(g_root, target, name, bytes);
}

std::string Floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()),
                     v.size() * sizeof(float));
}

// Federation ops and flags (federation_fuzz.cc).
enum : uint8_t { kCheckIn, kDownload, kUpload, kFail, kTime };
enum : uint8_t { kNew = 1 << 3, kToken = 1 << 4, kModel = 1 << 5 };

struct Program {
  std::string bytes;
  explicit Program(uint8_t setup) { bytes.push_back(static_cast<char>(setup)); }
  Program& Op(uint8_t op, const google::protobuf::Message& m) {
    bytes.push_back(static_cast<char>(op));
    PutRecord(bytes, m.SerializeAsString());
    return *this;
  }
  Program& Raw(uint8_t op, const std::string& b) {
    bytes.push_back(static_cast<char>(op));
    PutRecord(bytes, b);
    return *this;
  }
};

v1::UploadRequest Update(std::vector<float> delta, int64_t count) {
  v1::UploadRequest u;
  u.set_delta(Floats(delta));
  u.set_example_count(count);
  u.set_device_secret(kProbeSecret);
  (*u.mutable_metrics())["loss"] = 0.7;
  return u;
}

void Federation() {
  v1::CheckInRequest c;
  c.set_device_id("phone-1");
  c.set_device_secret("phone-1-secret-0123456789");
  c.set_population("fuzz");
  c.set_device_class("phone");
  c.mutable_capabilities()->set_has_fpu(true);
  c.mutable_capabilities()->set_ram_bytes(1 << 30);
  c.mutable_state()->set_charging(true);
  c.mutable_state()->set_idle(true);
  c.mutable_state()->set_unmetered_network(true);
  c.mutable_state()->set_battery_percent(80);
  Write("federation", "checkin",
        Program(0).Op(kCheckIn, c).Op(kCheckIn, c).bytes);
  v1::CheckInRequest bad = c;
  bad.set_device_id(std::string(129, 'x'));
  v1::CheckInRequest battery = c;
  battery.mutable_state()->set_battery_percent(101);
  v1::CheckInRequest other = c;
  other.set_population("elsewhere");
  Write("federation", "checkin_invalid",
        Program(0)
            .Op(kCheckIn, bad)
            .Op(kCheckIn, battery)
            .Op(kCheckIn, other)
            .bytes);

  v1::DownloadRequest d;
  d.set_max_bytes(100);
  v1::DownloadRequest d2 = d;
  d2.set_offset(100);
  d2.set_variant("int8");
  v1::DownloadRequest far = d;
  far.set_offset(1 << 30);
  v1::DownloadRequest unknown = d;
  unknown.set_task("nope");
  Write("federation", "download",
        Program(0)
            .Op(kDownload | kToken, d)
            .Op(kDownload | kToken, d2)
            .Op(kDownload | kToken, far)
            .Op(kDownload, unknown)
            .bytes);

  const std::vector<float> small = {0.01f, -0.02f, 0.03f, 0.f,
                                    0.5f,  -0.5f,  0.1f,  0.2f};
  Write("federation", "upload",
        Program(0)
            .Op(kUpload | kToken | kModel, Update(small, 10))
            .Op(kUpload | kNew | kToken | kModel, Update(small, 3))
            .bytes);
  // Two clusters, goal 2, trimmed mean (setup 0x50 % 6 == 2).
  v1::UploadRequest second = Update(small, 5);
  second.set_cluster(1);
  Write("federation", "upload_clusters",
        Program(0x50)
            .Op(kUpload | kToken | kModel, Update(small, 10))
            .Op(kUpload | kNew | kToken | kModel, second)
            .bytes);
  std::vector<float> nan = small;
  nan[3] = std::numeric_limits<float>::quiet_NaN();
  v1::UploadRequest zero = Update(small, 0);
  v1::UploadRequest stale = Update(small, 4);
  stale.set_model_version(7);
  v1::UploadRequest cluster = Update(small, 4);
  cluster.set_cluster(9);
  Write("federation", "upload_malformed",
        Program(0)
            .Op(kUpload | kToken | kModel, Update({0.1f, 0.2f}, 10))
            .Op(kUpload | kToken | kModel, Update(nan, 10))
            .Op(kUpload | kToken | kModel, zero)
            .Op(kUpload | kToken, stale)
            .Op(kUpload | kToken, cluster)
            .Op(kUpload, Update(small, 1))
            .bytes);
  Write("federation", "upload_twice",
        Program(0x10)
            .Op(kUpload | kToken | kModel, Update(small, 10))
            .Op(kUpload | kToken | kModel, Update(small, 10))
            .bytes);
  v1::FailureReport f;
  f.set_reason("not charging");
  Write("federation", "failure",
        Program(0)
            .Op(kFail | kToken, f)
            .Op(kUpload | kToken | kModel, Update(small, 2))
            .Op(kFail, f)
            .bytes);
  Finding("federation", "CO-1-empty-delta",
          Program(0).Op(kUpload | kToken | kModel, Update({}, 10)).bytes);
  Write("federation", "late",
        Program(3)
            .Raw(kTime, std::string(1, 70))
            .Op(kUpload | kToken | kModel, Update(small, 2))
            .Op(kUpload | kNew | kToken | kModel, Update(small, 2))
            .bytes);
}

void UpdateCorpus() {
  auto record = [](std::string& out, uint8_t flags, int64_t count,
                   const std::vector<float>& d) {
    out.push_back(static_cast<char>(flags));
    PutLe<int64_t>(out, count);
    PutRecord(out, Floats(d));
  };
  const std::vector<float> a = {0.1f, -0.2f, 0.3f, 0.f, 1.f, -1.f, 0.5f, 0.25f};
  const std::vector<float> b = {-0.3f, 0.2f, 0.1f,  0.4f,
                                0.f,   2.f,  -0.5f, 0.75f};
  const std::vector<float> c = {1e-3f, 2e-3f, -1e-3f, 0.f, 3.f, 1.f, 0.f, -2.f};
  // setup: method = setup % 4, goal = 1 + (setup >> 2) % 4, bit 4: fedadam.
  struct Case {
    const char* name;
    uint8_t setup;
  };
  for (Case k : {Case{"fedavg_goal1", 0}, Case{"fedavg_goal3", 8},
                 Case{"median_goal3", 9}, Case{"trimmed_goal4", 14},
                 Case{"normbound_goal2", 7}, Case{"fedadam_goal2", 0x14}}) {
    std::string s(1, static_cast<char>(k.setup));
    record(s, 0, 10, a);
    record(s, 0, 3, b);
    record(s, 0, 7, c);
    record(s, 1, 1, a);
    Write("update", k.name, s);
  }
  std::string big(1, 7);  // norm_bound:c=1, goal 2: large updates are clipped.
  record(big, 0, 5, {100.f, -100.f, 50.f, 0.f, 1.f, 1.f, 1.f, 1.f});
  record(big, 0, 5, a);
  Write("update", "normbound_large", big);
  std::string bad(1,
                  4);  // fedavg goal 2 with malformed updates among good ones.
  record(bad, 0, 10, {1.f, 2.f});
  record(bad, 0, 0, a);
  record(bad, 0, -5, a);
  record(bad, 0, 10, a);
  record(bad, 1, 4, b);
  Write("update", "fedavg_malformed", bad);

  // Issue 9, item 1: fedavg + sgd, goal 1; each round adds ~1e38 per
  // coordinate.
  std::string poison(1, 0);
  for (int r = 0; r < 4; ++r) {
    record(poison, 0, r == 0 ? std::numeric_limits<int64_t>::max() : 1,
           std::vector<float>(kHeadParams, 1e38f));
  }
  Finding("update", "I9-1-fedavg-sum-overflows", poison);
  // fedadam squares a finite delta of 1e24 into +Inf.
  std::string adam(1, 0x10);
  std::vector<float> d24 = a;
  d24[1] = -1e24f;
  record(adam, 0, 10, d24);
  Finding("update", "I9-1-fedadam-square-overflows", adam);
}

v1::CreateTaskRequest Create(v1::TaskConfig c) {
  v1::CreateTaskRequest r;
  *r.mutable_config() = std::move(c);
  return r;
}

void Admin() {
  enum : uint8_t {
    kCreate,
    kGet,
    kPause,
    kResume,
    kRounds,
    kRound,
    kModels,
    kFleet,
    kProbe,
    kTick
  };
  constexpr uint8_t kLast = 1 << 4;
  v1::GetTaskRequest get;
  v1::SetTaskStateRequest state;
  v1::ListRoundsRequest rounds;
  rounds.set_limit(2);
  v1::GetRoundRequest round;
  round.set_round(1);
  v1::ListModelsRequest models;
  v1::FleetRequest fleet;
  Program p(0);
  p.bytes.clear();
  p.Op(kCreate, Create(SmallTask("alpha", "fedavg", 2, 1)))
      .Op(kGet | kLast, get)
      .Op(kProbe, get)
      .Op(kProbe | kLast, get)
      .Op(kRounds | kLast, rounds)
      .Op(kRound | kLast, round)
      .Op(kModels | kLast, models)
      .Op(kFleet | kLast, fleet)
      .Op(kPause | kLast, state)
      .Op(kProbe, get)
      .Op(kResume | kLast, state)
      .Raw(kTick, "\x02");
  Write("admin", "lifecycle", p.bytes);

  v1::TaskConfig minimal;
  minimal.set_name("minimal");
  *minimal.mutable_model() = SmallModel();
  v1::TaskConfig rich = SmallTask("rich", "norm_bound:c=5+krum:f=1", 4, 3);
  rich.set_server_optimizer("fedadam:lr=0.01,beta1=0.9");
  (*rich.mutable_class_quota())["phone"] = 2;
  rich.set_int8_below_ram_bytes(int64_t{2} << 30);
  rich.set_cooldown_ms(1000);
  Program q(0);
  q.bytes.clear();
  q.Op(kCreate, Create(minimal))
      .Op(kProbe, get)
      .Op(kCreate, Create(rich))
      .Op(kProbe | kLast, get)
      .Op(kCreate, Create(rich));
  Write("admin", "defaults_and_options", q.bytes);

  v1::TaskConfig bad_name = SmallTask("Bad Name", "fedavg", 1, 1);
  v1::TaskConfig clusters = SmallTask("many", "fedavg", 1, 65);
  v1::TaskConfig relu = SmallTask("relu", "fedavg", 1, 1);
  relu.mutable_model()->mutable_head(0)->set_relu(true);
  v1::TaskConfig agg = SmallTask("agg", "krum:f=1.5", 1, 1);
  v1::TaskConfig lr = SmallTask("lr", "fedavg", 1, 1);
  lr.mutable_plan()->set_learning_rate(-1);
  Program r(0);
  r.bytes.clear();
  v1::GetTaskRequest nope;
  nope.set_task("nope");
  r.Op(kCreate, Create(bad_name))
      .Op(kCreate, Create(clusters))
      .Op(kCreate, Create(relu))
      .Op(kCreate, Create(agg))
      .Op(kCreate, Create(lr))
      .Op(kGet, nope)
      .Op(kPause, nope)
      .Op(kRounds, nope);
  Write("admin", "invalid", r.bytes);

  v1::TaskConfig long_population = SmallTask("crowd", "fedavg", 1, 1);
  long_population.set_population(std::string(65, 'p'));
  Program ad1(0);
  ad1.bytes.clear();
  ad1.Op(kCreate, Create(long_population)).Op(kProbe, get);
  Finding("admin", "AD-1-population-too-long", ad1.bytes);
  v1::TaskConfig inf_lr = SmallTask("inf", "fedavg", 1, 1);
  inf_lr.mutable_plan()->set_learning_rate(
      std::numeric_limits<float>::infinity());
  Program ad2(0);
  ad2.bytes.clear();
  ad2.Op(kCreate, Create(inf_lr)).Op(kProbe, get);
  Finding("admin", "AD-2-infinite-learning-rate", ad2.bytes);
  v1::TaskConfig wide = SmallTask("wide", "fedavg", 1, 1);
  wide.mutable_model()->mutable_body(0)->mutable_weights()->set_values(0,
                                                                       -3e38f);
  wide.mutable_model()->mutable_body(0)->mutable_weights()->set_values(1,
                                                                       3e38f);
  Program mc1(0);
  mc1.bytes.clear();
  mc1.Op(kCreate, Create(wide))
      .Op(kProbe | kLast, get);  // kLast: an int8 device.
  Finding("admin", "MC-1-served-int8-body-undecodable", mc1.bytes);
}

void ModelCodec() {
  const v1::Model m = SmallModel();
  Write("model_codec", "small", m.SerializeAsString());
  Write("model_codec", "int8_body", Int8BodyVariant(m).SerializeAsString());
  v1::Model head_only = m;
  head_only.clear_body();
  head_only.set_input_dim(3);
  Write("model_codec", "head_only", head_only.SerializeAsString());
  client::Head two = client::MakeHead({3, 4, 2}, 1);
  Write("model_codec", "two_head_layers",
        client::ModelToProto(*client::BodyFromProto(m), two).SerializeAsString());
  v1::Model bad = m;
  bad.mutable_head(0)->mutable_bias()->add_values(1);
  Write("model_codec", "bad_bias", bad.SerializeAsString());
  // A convolutional body (4x4x1 -> conv 3x3 x2 -> max pool -> flatten -> dense
  // 3) for the head of `two`, and its int8 form.
  {
    namespace ly = client::layers;
    ly::Conv2d conv;
    conv.out_channels = 2;
    conv.window.kernel_h = conv.window.kernel_w = 3;
    conv.window.padding = ly::Padding::Symmetric(1);
    conv.activation = ly::Activation::kRelu;
    for (int64_t i = 0; i < conv.num_params(); ++i) conv.params.push_back(0.1f * (i % 7) - 0.3f);
    ly::MaxPool2d pool;
    pool.window.kernel_h = pool.window.kernel_w = pool.window.stride_h = pool.window.stride_w = 2;
    ly::Dense dense;
    dense.in_features = 8;
    dense.out_features = 3;
    for (int64_t i = 0; i < dense.num_params(); ++i) dense.params.push_back(0.05f * (i % 5));
    v1::Model conv_model = client::ModelToProto(client::Body(), two);
    const std::vector<ly::LayerSpec> layers = {conv, pool, ly::Flatten{}, dense};
    SetConvBody({4, 4, 1}, layers, conv_model);
    Write("model_codec", "conv_body", conv_model.SerializeAsString());
    const ly::Network net = *ly::Network::Create({4, 4, 1}, layers);
    std::vector<float> examples(8 * 16);
    for (size_t i = 0; i < examples.size(); ++i) examples[i] = static_cast<float>(i % 11) / 10;
    const ly::Int8Network q = *ly::QuantizeNetwork(net, examples.data(), 8);
    if (SetInt8ConvBody(q, conv_model).ok()) {
      Write("model_codec", "int8_conv_body", conv_model.SerializeAsString());
    }
  }

  // Quantize's scale (hi - lo) / 255 overflows to +Inf or underflows to 0.
  v1::Model wide = m;
  wide.mutable_body(0)->mutable_weights()->set_values(0, -3e38f);
  wide.mutable_body(0)->mutable_weights()->set_values(1, 3e38f);
  Finding("model_codec", "MC-1-weight-range-overflows",
          wide.SerializeAsString());
  v1::Model narrow = m;
  for (int i = 0; i < narrow.body(0).weights().values_size(); ++i) {
    narrow.mutable_body(0)->mutable_weights()->set_values(
        i, i == 0 ? 1e-43f : 0.f);
  }
  Finding("model_codec", "MC-1-weight-range-underflows",
          narrow.SerializeAsString());
}

void ByteIo() {
  std::string data;
  PutValue<uint8_t>(data, 7);
  PutValue<uint32_t>(data, 0xdeadbeef);
  PutValue<int64_t>(data, -5);
  PutValue<double>(data, 0.25);
  PutFloats(data, {1.f, 2.f, 3.f});
  data += Floats({4.f, 5.f});
  data += "seven!!";
  const std::string program = {0, 1, 2, 3, 5, 6 | (2 << 3), 4 | (1 << 3), 7};
  std::string reader(1, 0);
  reader.push_back(static_cast<char>(program.size()));
  Write("byte_io", "reader", reader + program + data);
  std::string huge = reader + program;
  std::string d2 = data;
  const uint64_t count = uint64_t{1} << 62;
  std::memcpy(&d2[21], &count, 8);  // GetFloats' length prefix.
  Write("byte_io", "reader_huge_count", huge + d2);
  Write("byte_io", "trailer",
        std::string("\x01\x01\x05", 3) + WithSha256Trailer("hello"));
  Write("byte_io", "trailer_short", std::string("\x01\x00", 2) + "short");
  std::string empty_floats = {0, 1,
                              5};  // One GetFloats of a zero-length vector.
  PutValue<uint64_t>(empty_floats, 0);
  Finding("byte_io", "BIO-1-empty-floats", empty_floats);
}

void TrainState() {
  client::TrainState s;
  s.started = true;
  s.epoch = 1;
  s.next_batch = 1;
  s.examples_seen = 7;
  s.loss_sum = 4.5;
  Write("train_state", "state", std::string(1, 0) + s.Serialize(client::LinuxCrypto()));
  const std::string plain = s.Serialize(client::LinuxCrypto());
  Write("train_state", "state_body",
        std::string(1, 2) + plain.substr(0, plain.size() - 32));
  client::TrainState m = s;
  m.velocity.assign(8, 0.01f);
  m.anchor.assign(8, 0.1f);
  const std::string with_buffers = m.Serialize(client::LinuxCrypto());
  Write("train_state", "state_buffers_body",
        std::string(1, 2 | 8 | 16) +
            with_buffers.substr(0, with_buffers.size() - 32));
  auto checkpoint = [](const std::string& round, const client::TrainState& st,
                       bool trailers) {
    std::string out = "FTCK";
    PutValue<uint32_t>(out, static_cast<uint32_t>(round.size()));
    out += round;
    PutFloats(out, client::MakeHead({3, 2}, 5).Flatten());
    const std::string state = st.Serialize(client::LinuxCrypto());
    out += trailers ? state : state.substr(0, state.size() - 32);
    return trailers ? WithSha256Trailer(out) : out;
  };
  Write("train_state", "checkpoint",
        std::string(1, 1) + checkpoint("round-1", s, true));
  Write("train_state", "checkpoint_body",
        std::string(1, 1 | 2 | 4) + checkpoint("round-1", s, false));
  Write("train_state", "checkpoint_buffers_body",
        std::string(1, 1 | 2 | 4 | 8 | 16) + checkpoint("round-1", m, false));
  Write("train_state", "checkpoint_other_round",
        std::string(1, 1) + checkpoint("round-0", s, true));

  auto body = [](const client::TrainState& st) {
    const std::string b = st.Serialize(client::LinuxCrypto());
    return b.substr(0, b.size() - 32);
  };
  client::TrainState epoch = s;
  epoch.epoch = -184549375;  // ~1.8e8 epochs to go.
  Finding("train_state", "TS-1-negative-epoch",
          std::string(1, 2) + body(epoch));
  client::TrainState batch = s;
  batch.next_batch = -4;  // Reads before the example order.
  Finding("train_state", "TS-1-negative-batch",
          std::string(1, 2) + body(batch));
  client::TrainState velocity = s;
  velocity.velocity.assign(3, 0.1f);  // The head has 8 parameters.
  Finding("train_state", "TS-1-short-velocity",
          std::string(1, 2 | 8) + body(velocity));
  Finding(
      "train_state", "TS-1-checkpoint-short-velocity",
      std::string(1, 1 | 2 | 4 | 8) + checkpoint("round-1", velocity, false));
}

void ExampleStoreCorpus() {
  auto file = [](int examples, int64_t seen) {
    std::string out = "FTES";
    PutValue<uint32_t>(out, 1);
    PutValue<int64_t>(out, 3);
    PutValue<int64_t>(out, seen);
    PutValue<int64_t>(out, examples);
    for (int i = 0; i < examples; ++i) {
      PutValue<int32_t>(out, i % 3);
      out += Floats({0.5f * i, -1.f, 2.f});
    }
    return out;
  };
  Write("example_store", "three",
        std::string(1, 0) + WithSha256Trailer(file(3, 5)));
  Write("example_store", "three_body", std::string(1, 1) + file(3, 5));
  Write("example_store", "full_reservoir_body", std::string(1, 3) + file(4, 9));
  Write("example_store", "empty_body", std::string(1, 1) + file(0, 0));

  std::string nan = file(2, 2);
  const float qnan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nan[32 + 4], &qnan, 4);  // First feature of the first example.
  Finding("example_store", "ES-1-nan-feature", std::string(1, 1) + nan);
  std::string label = file(2, 2);
  const int32_t minus = -1;
  std::memcpy(&label[32], &minus, 4);
  Finding("example_store", "ES-1-negative-label", std::string(1, 1) + label);
  // seen = -1 with a full reservoir: the next Add() takes rng() % 0.
  Finding("example_store", "ES-1-seen-negative-reservoir",
          std::string(1, 3) + file(4, -1));
  // n * 16 wraps to the 16 bytes present: Load loops 2^60 times.
  std::string wrap = file(1, 1);
  const int64_t n = (int64_t{1} << 60) + 1;
  std::memcpy(&wrap[24], &n, 8);
  Finding("example_store", "ES-2-count-overflow", std::string(1, 1) + wrap);
}

void OptimizerState() {
  int i = 0;
  for (const char* spec : {"sgd", "fedavgm:lr=1,beta1=0.9", "fedadam:lr=0.01",
                           "fedyogi:tau=0.01"}) {
    aggregation::ServerOptimizer opt(*aggregation::ParseServerOptimizer(spec),
                                     4);
    Eigen::VectorXf w = Eigen::VectorXf::Constant(4, 0.5f);
    Eigen::VectorXf d(4);
    d << 0.1f, -0.2f, 0.3f, 0.f;
    (void)opt.Apply(d, w);
    Write("optimizer_state", "state" + std::to_string(i++), opt.Serialize());
  }
  aggregation::ServerOptimizer empty(*aggregation::ParseServerOptimizer("sgd"),
                                     0);
  Write("optimizer_state", "dim0", empty.Serialize());

  aggregation::ServerOptimizer adam(
      *aggregation::ParseServerOptimizer("fedadam:lr=0.01"), 2);
  std::string negative = adam.Serialize();
  const float minus = -1.f;
  std::memcpy(&negative[negative.size() - 4], &minus,
              4);  // v[1] < 0: sqrt gives NaN.
  Finding("optimizer_state", "SO-1-negative-second-moment", negative);
  std::string beta = adam.Serialize();
  const double bad_beta = -5;
  std::memcpy(&beta[4 + 4 + 1 + 16], &bad_beta, 8);  // beta2.
  Finding("optimizer_state", "SO-1-beta2-out-of-range", beta);
}

void StoredState() {
  auto rows = [](const v1::TaskConfig& config,
                 const std::vector<std::pair<int, int64_t>>& versions,
                 const std::string& optimizer, int rounds) {
    std::string out(1, 0);
    PutRecord(out, config.SerializeAsString());
    out.push_back(1);  // RUNNING
    out.push_back(static_cast<char>(versions.size()));
    for (const auto& [cluster, version] : versions) {
      out.push_back(static_cast<char>(cluster));
      PutLe<int64_t>(out, version);
      PutRecord(out, SmallModel().SerializeAsString());
      PutRecord(out, optimizer);
    }
    out.push_back(static_cast<char>(rounds));
    for (int r = 1; r <= rounds; ++r) {
      PutLe<int64_t>(out, r);
      out.push_back(2);  // committed
      v1::RoundInfo info;
      info.set_task("fuzz");
      info.set_round(r);
      info.set_reported(3);
      (*info.mutable_metrics())["loss"] = 0.5;
      PutRecord(out, info.SerializeAsString());
    }
    return out;
  };
  const v1::TaskConfig one = SmallTask("fuzz", "fedavg", 1, 1);
  Write("stored_state", "rows_initial", rows(one, {{0, 0}}, "", 0));
  aggregation::ServerOptimizer adam(
      *aggregation::ParseServerOptimizer("fedadam:lr=0.01"), kHeadParams);
  v1::TaskConfig adam_task = one;
  adam_task.set_server_optimizer("fedadam:lr=0.01");
  Write("stored_state", "rows_fedadam",
        rows(adam_task, {{0, 0}, {0, 2}}, adam.Serialize(), 2));
  Write("stored_state", "rows_two_clusters",
        rows(SmallTask("fuzz", "median", 1, 2), {{0, 1}, {1, 1}}, "", 1));
  Write("stored_state", "blob_untouched",
        std::string(1, 1) + SmallModel().SerializeAsString());
  const std::string blob = SmallModel().SerializeAsString();
  Write("stored_state", "blob_truncated",
        std::string(1, 1) + blob.substr(0, blob.size() / 2));

  v1::TaskConfig renamed = one;
  renamed.set_name("other");
  Finding("stored_state", "ST-1-config-names-another-task",
          rows(renamed, {{0, 0}}, "", 0));
  v1::TaskConfig empty_layer = one;
  empty_layer.mutable_model()->mutable_body(0)->set_outputs(
      0);  // Weights stay: 0 x 4.
  Finding("stored_state", "ST-1-empty-body-layer-aborts",
          rows(empty_layer, {{0, 0}}, "", 0));
}

// update_codec: [spec][dim - 1: uint16][seed: uint64][mode] then a valid
// compressed delta (mode 0) or float32 values (mode 1), for every spec of the
// harness; and finite values whose rotation overflows float32 (refused).
void UpdateCodecCorpus() {
  const char* specs[] = {"hadamard:bits=8", "hadamard:bits=4", "hadamard:bits=2",
                         "hadamard:bits=1", "hadamard:bits=2,k=0.25", "hadamard:bits=4,k=0.5,range=0.1"};
  auto head = [](int spec, uint16_t dim_minus_1, uint64_t seed, uint8_t mode) {
    std::string in(1, static_cast<char>(spec));
    PutValue<uint16_t>(in, dim_minus_1);
    PutValue<uint64_t>(in, seed);
    in.push_back(static_cast<char>(mode));
    return in;
  };
  std::vector<float> x(70);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.01f * float((i * 7) % 13) - 0.05f;
  for (int s = 0; s < 6; ++s) {
    CompressionSpec spec;
    std::string error, bytes;
    if (!ParseCompressionSpec(specs[s], &spec, &error) ||
        !EncodeCompressed(x.data(), x.size(), spec, 1234 + s, 9, &bytes, &error)) {
      std::abort();
    }
    Write("update_codec", "decode-" + std::to_string(s), head(s, 69, 1234 + s, 0) + bytes);
    Write("update_codec", "roundtrip-" + std::to_string(s), head(s, 69, 1234 + s, 1) + Floats(x));
  }
  Write("update_codec", "rotation-overflow", head(1, 1, 7, 1) + Floats({3e38f, 3e38f}));
}

}  // namespace
}  // namespace fedtiny::fuzz

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: corpus_gen CORPUS_DIR FINDINGS_DIR\n";
    return 2;
  }
  fedtiny::fuzz::g_root = argv[1];
  fedtiny::fuzz::g_findings = argv[2];
  mkdir(argv[1], 0755);
  mkdir(argv[2], 0755);
  fedtiny::fuzz::Federation();
  fedtiny::fuzz::UpdateCorpus();
  fedtiny::fuzz::Admin();
  fedtiny::fuzz::ModelCodec();
  fedtiny::fuzz::ByteIo();
  fedtiny::fuzz::UpdateCodecCorpus();
  fedtiny::fuzz::TrainState();
  fedtiny::fuzz::ExampleStoreCorpus();
  fedtiny::fuzz::OptimizerState();
  fedtiny::fuzz::StoredState();
  std::cout << "wrote the seed corpora under " << argv[1]
            << " and the open findings' reproducers under " << argv[2] << "\n";
  return 0;
}
