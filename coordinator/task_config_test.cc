// The model variant each device gets (VariantFor) and the validation of the
// task's per-class directives (variant_by_class).
#include "coordinator/task_config.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/layer_codec.h"
#include "tests/small_model.h"
#include "tools/base/status_matchers.h"

namespace fedtiny::coordinator {
namespace {

using ::fedtiny::testing::IsOk;
using ::fedtiny::testing::StatusIs;
using ::testing::HasSubstr;

v1::TaskConfig Config() {
  v1::TaskConfig c;
  c.set_name("t");
  c.set_population("phones");
  *c.mutable_model() = fedtiny::testing::SmallModel();
  c.set_rounds(1);
  c.set_clients_per_round(1);
  c.set_min_reports(1);
  c.set_round_deadline_ms(1000);
  c.set_int8_below_ram_bytes(1 << 20);
  return c;
}

v1::DeviceCapabilities Device(int64_t ram, bool fpu) {
  v1::DeviceCapabilities d;
  d.set_ram_bytes(ram);
  d.set_has_fpu(fpu);
  return d;
}

TEST(VariantForTest, CapabilitiesDecideWithoutADirective) {
  const v1::TaskConfig c = Config();
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 30, true)), "float32");
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 30, false)), "int8");  // No FPU.
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 19, true)), "int8");   // Below the RAM bar.
}

TEST(VariantForTest, DirectiveOverridesCapabilitiesForItsClassOnly) {
  v1::TaskConfig c = Config();
  (*c.mutable_variant_by_class())["gateway"] = "int8";
  (*c.mutable_variant_by_class())["tablet"] = "float32";
  EXPECT_EQ(VariantFor(c, "gateway", Device(1 << 30, true)), "int8");
  EXPECT_EQ(VariantFor(c, "tablet", Device(1 << 19, true)), "float32");
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 30, true)), "float32");
  EXPECT_EQ(VariantFor(c, "Gateway", Device(1 << 30, true)), "float32");  // Exact names.
}

using fedtiny::testing::ConvBodyVariant;

TEST(VariantForTest, BodyVariantsGoToDevicesShortOfRam) {
  v1::TaskConfig c = Config();  // int8 below 1 MiB.
  (*c.mutable_body_variants())["small"] = ConvBodyVariant(4, 1 << 28);
  (*c.mutable_body_variants())["tiny"] = ConvBodyVariant(2, 1 << 25);
  (*c.mutable_body_variants())["spare"] = ConvBodyVariant(2, 0);  // Directed only.
  ASSERT_THAT(ValidateTaskConfig(c).status(), IsOk());
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 30, true)), "float32");
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 27, true)), "small");
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 24, true)), "tiny");  // The tightest bound.
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 19, true)), "int8");  // int8 comes first.
  EXPECT_EQ(VariantFor(c, "phone", Device(1 << 24, false)), "int8");
  (*c.mutable_variant_by_class())["gateway"] = "spare";
  ASSERT_THAT(ValidateTaskConfig(c).status(), IsOk());
  EXPECT_EQ(VariantFor(c, "gateway", Device(1 << 30, true)), "spare");
}

TEST(ValidateTaskConfigTest, BodyVariantsAreNamedAndFitTheHead) {
  for (const char* bad : {"float32", "Small", "a/b", "", "sixteen-chars-xx"}) {
    v1::TaskConfig c = Config();
    (*c.mutable_body_variants())[bad] = ConvBodyVariant(4, 1);
    EXPECT_THAT(ValidateTaskConfig(c).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a name is")))
        << bad;
  }
  {  // The body must hand the head its 12 inputs.
    v1::TaskConfig c = Config();
    v1::BodyVariant v = ConvBodyVariant(4, 1);
    v1::DenseLayer* d = v.mutable_model()->mutable_layers(2)->mutable_dense();
    d->set_outputs(11);
    d->mutable_weights()->mutable_values()->Truncate(44);
    d->mutable_bias()->mutable_values()->Truncate(11);
    (*c.mutable_body_variants())["small"] = v;
    EXPECT_THAT(ValidateTaskConfig(c).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outputs 11 values")));
  }
  {  // A body that does not pass its own checks, named.
    v1::TaskConfig c = Config();
    v1::BodyVariant v = ConvBodyVariant(4, 1);
    v.mutable_model()->mutable_layers(0)->mutable_conv2d()->mutable_bias()->set_values(0, NAN);
    (*c.mutable_body_variants())["small"] = v;
    EXPECT_THAT(ValidateTaskConfig(c).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("body_variants['small']: layer 0 (conv2d): non-finite")));
  }
  {
    v1::TaskConfig c = Config();
    (*c.mutable_body_variants())["small"] = ConvBodyVariant(4, -1);
    EXPECT_THAT(ValidateTaskConfig(c).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  v1::TaskConfig many = Config();
  for (int i = 0; i < 9; ++i) (*many.mutable_body_variants())["v" + std::to_string(i)] = ConvBodyVariant(2, 1);
  EXPECT_THAT(ValidateTaskConfig(many).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 8")));
}

TEST(ValidateTaskConfigTest, DirectivesNameAKnownVariantAndAPlainClass) {
  v1::TaskConfig c = Config();
  (*c.mutable_variant_by_class())["gateway"] = "int8";
  EXPECT_THAT(ValidateTaskConfig(c).status(), IsOk());
  (*c.mutable_variant_by_class())["gateway"] = "fp16";
  EXPECT_THAT(ValidateTaskConfig(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"float32\", \"int8\" or a name in body_variants")));
  for (const char* bad : {"", "*", "a/b"}) {
    v1::TaskConfig d = Config();
    (*d.mutable_variant_by_class())[bad] = "int8";
    EXPECT_THAT(ValidateTaskConfig(d).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("device class")))
        << "'" << bad << "'";
  }
  v1::TaskConfig many = Config();
  for (int i = 0; i < 65; ++i) (*many.mutable_variant_by_class())["c" + std::to_string(i)] = "int8";
  EXPECT_THAT(ValidateTaskConfig(many).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 64")));
}

// Tasks with several heads warm them up by default (docs/aggregation.md,
// "Cluster warm-up"); "random" keeps IFCA's plain start; nothing else is known.
TEST(ValidateTaskConfigTest, ClusterStartDefaultsToKMeansWarmUp) {
  v1::TaskConfig c = Config();
  c.set_clusters(4);
  absl::StatusOr<v1::TaskConfig> v = ValidateTaskConfig(c);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->cluster_start(), "kmeans");
  EXPECT_TRUE(EngineConfigOf(*v, 10).cluster_warmup);
  c.set_cluster_start("random");
  v = ValidateTaskConfig(c);
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(EngineConfigOf(*v, 10).cluster_warmup);
  c.set_cluster_start("kmeans++");
  EXPECT_THAT(ValidateTaskConfig(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cluster_start")));
}

// The telemetry spec is validated with the task (coordinator/telemetry/
// spec_test.cc covers every rule) and gets its defaults.
TEST(ValidateTaskConfigTest, TelemetrySpecIsValidatedWithDefaults) {
  v1::TaskConfig c = Config();
  fedtiny::telemetry::TelemetryProbe* p = c.mutable_telemetry()->add_probes();
  p->set_name("predicted_class");
  p->set_kind(fedtiny::telemetry::PREDICTED_CLASS);
  p->mutable_binning()->set_categories(2);
  p->add_reference(0.25);
  p->add_reference(0.75);
  p->set_epsilon(1);
  absl::StatusOr<v1::TaskConfig> ok = ValidateTaskConfig(c);
  ASSERT_THAT(ok.status(), IsOk());
  EXPECT_EQ(ok->telemetry().window_s(), 86400);
  EXPECT_EQ(ok->telemetry().daily_epsilon(), 4.0);
  p->set_epsilon(5);
  EXPECT_THAT(ValidateTaskConfig(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("over daily_epsilon")));
  p->set_epsilon(1);
  p->clear_reference();
  EXPECT_THAT(ValidateTaskConfig(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("need a reference")));
  EXPECT_FALSE(ValidateTaskConfig(Config())->has_telemetry());
}

TEST(ValidateTaskConfigTest, CompressionIsASpecDevicesCanHold) {
  v1::TaskConfig c = Config();
  c.set_compression("hadamard:bits=2,k=0.25");
  absl::StatusOr<v1::TaskConfig> ok = ValidateTaskConfig(c);
  ASSERT_THAT(ok.status(), IsOk());
  EXPECT_EQ(ok->compression(), "hadamard:bits=2,k=0.25");
  c.set_compression("none");
  ok = ValidateTaskConfig(c);
  ASSERT_THAT(ok.status(), IsOk());
  EXPECT_EQ(ok->compression(), "");  // Stored as "": devices send float32.
  for (const char* bad : {"hadamard:bits=3", "hadamard:bits=4,k=0", "gzip", "hadamard:bits=4,range=nan"}) {
    c.set_compression(bad);
    EXPECT_THAT(ValidateTaskConfig(c).status(),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("task: compression: ")))
        << bad;
  }
  c.set_compression("hadamard:bits=4,k=0.5" + std::string(60, '0'));
  EXPECT_THAT(ValidateTaskConfig(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at most 64 bytes")));
}

TEST(AsyncConfigTest, FillsDefaultsAndReachesTheEngine) {
  v1::TaskConfig c = Config();
  c.mutable_async()->set_concurrency(130);
  c.mutable_async()->set_buffer(10);
  absl::StatusOr<v1::TaskConfig> v = ValidateTaskConfig(c);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->async().staleness_exponent(), 0.5);
  EXPECT_EQ(v->async().max_staleness(), 100);
  const EngineConfig e = EngineConfigOf(*v, 4);
  ASSERT_TRUE(e.async.has_value());
  EXPECT_EQ(e.async->concurrency, 130);
  EXPECT_EQ(e.async->buffer, 10);
  EXPECT_FALSE(EngineConfigOf(Config(), 4).async.has_value());
}

TEST(AsyncConfigTest, RefusesOutOfRangeValues) {
  for (auto edit : std::vector<std::function<void(v1::AsyncConfig&)>>{
           [](v1::AsyncConfig& a) { a.set_concurrency(0); },
           [](v1::AsyncConfig& a) { a.set_buffer(-1); },
           [](v1::AsyncConfig& a) { a.set_buffer(10'001); },
           [](v1::AsyncConfig& a) { a.set_staleness_exponent(-0.5); },
           [](v1::AsyncConfig& a) { a.set_staleness_exponent(NAN); },
           [](v1::AsyncConfig& a) { a.set_max_staleness(-1); }}) {
    v1::TaskConfig c = Config();
    c.mutable_async()->set_concurrency(10);
    c.mutable_async()->set_buffer(5);
    edit(*c.mutable_async());
    EXPECT_THAT(ValidateTaskConfig(c).status(), StatusIs(absl::StatusCode::kInvalidArgument))
        << c.async().DebugString();
  }
}

}  // namespace
}  // namespace fedtiny::coordinator
