// The Cortex-M4 firmware of issue #12 item 6: a microcontroller in a real round.
// Over the MPS2 board's UART0 and the gateway (client/gateway, fedtiny_gateway)
// it checks in with the coordinator, downloads its model bundle in chunks,
// verifies the SHA-256 (Mbed TLS), decodes the model into client/core's Body and
// Head (client/wire), trains the head on its own examples (device_examples.h)
// with client/core's HeadTrainer, and uploads delta = trained - downloaded head.
// Progress goes to semihosting stdout; the exit status is 0 after an accepted
// upload, 1 with a "mcu_device: error: ..." line otherwise.
#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "client/core/head_trainer.h"
#include "client/wire/wire.h"
#include "mbedtls/sha256.h"
#include "tools/cross/mcu/device_examples.h"
#include "tools/cross/mcu/device_link.h"
#include "tools/cross/mcu/model_loader.h"

#ifndef FEDTINY_MCU_DEVICE_ID
#define FEDTINY_MCU_DEVICE_ID "mcu-qemu-1"
#endif
#ifndef FEDTINY_MCU_DEVICE_SECRET
#define FEDTINY_MCU_DEVICE_SECRET "mcu-qemu-1-secret-0123456789"
#endif
#ifndef FEDTINY_MCU_POPULATION
#define FEDTINY_MCU_POPULATION "fmnist"
#endif

namespace fedtiny::mcu {
namespace {

using gateway::Frame;
using gateway::FrameType;

constexpr size_t kMaxModelBytes = 256 << 10;  // The largest bundle this device holds.
constexpr size_t kChunkBytes = 2048;          // One DownloadRequest's max_bytes.
constexpr int kExamples = 40;
constexpr int kCheckInTries = 60;

uint8_t g_model[kMaxModelBytes];  // The bundle as downloaded.
fedtiny_v1_CheckInResponse g_checkin = fedtiny_v1_CheckInResponse_init_zero;

int Fail(const char* what, const std::string& why) {
  std::printf("mcu_device: error: %s: %s\n", what, why.c_str());
  return 1;
}

double Seconds() { return static_cast<double>(clock()) / CLOCKS_PER_SEC; }

void WaitMs(int64_t ms) {
  const double until = Seconds() + static_cast<double>(ms) / 1000.0;
  while (Seconds() < until) {
  }
}

// Copies a NUL-terminated nanopb string field into another of the same or a
// larger size (both come from proto/federation.options' max_size).
template <size_t N, size_t M>
void CopyString(const char (&from)[N], char (&to)[M]) {
  static_assert(N <= M, "destination field too small");
  std::memcpy(to, from, N);
  to[M - 1] = '\0';
}

wire::Bytes Secret() {
  return {reinterpret_cast<const uint8_t*>(FEDTINY_MCU_DEVICE_SECRET), std::strlen(FEDTINY_MCU_DEVICE_SECRET)};
}

// Checks in until assigned (a RetryWindow waits its earliest time, at most 2 s).
const char* CheckIn(DeviceLink& link, std::string* error) {
  wire::CheckInFields ci;
  ci.device_id = FEDTINY_MCU_DEVICE_ID;
  ci.population = FEDTINY_MCU_POPULATION;
  ci.device_class = "mcu-m4";
  ci.capabilities.has_fpu = true;
  ci.capabilities.ram_bytes = 4 << 20;
  ci.state = {true, true, true, 100};  // charging, idle, unmetered, battery %
  ci.device_secret = Secret();
  for (int attempt = 1; attempt <= kCheckInTries; ++attempt) {
    std::string payload;
    StringSink sink(&payload);
    wire::Result r = wire::EncodeCheckInRequest(ci, sink);
    if (!r.ok()) return r.message();
    const Frame f = link.Call(FrameType::kCheckIn, payload);
    if (f.type != FrameType::kCheckInResponse) return (*error = DescribeError(f)).c_str();
    g_checkin = fedtiny_v1_CheckInResponse_init_zero;
    r = wire::DecodeCheckInResponse(reinterpret_cast<const uint8_t*>(f.payload.data()), f.payload.size(),
                                    &g_checkin);
    if (!r.ok()) return r.message();
    if (g_checkin.which_outcome == fedtiny_v1_CheckInResponse_assignment_tag) return nullptr;
    const int64_t wait = g_checkin.outcome.retry.earliest_ms;
    std::printf("mcu_device: check-in %d: retry in %ld ms\n", attempt, static_cast<long>(wait));
    WaitMs(wait < 100 ? 100 : (wait > 2000 ? 2000 : wait));
  }
  return "no assignment after every check-in attempt";
}

// Downloads the bundle into g_model, kChunkBytes per request.
const char* Download(DeviceLink& link, const fedtiny_v1_Assignment& a, std::string* error) {
  const fedtiny_v1_ModelBundle& bundle = a.bundles[0];
  if (bundle.size_bytes <= 0 || bundle.size_bytes > static_cast<int64_t>(kMaxModelBytes)) {
    return "the bundle does not fit this device's model buffer";
  }
  const size_t total = static_cast<size_t>(bundle.size_bytes);
  size_t have = 0;
  while (have < total) {
    fedtiny_v1_DownloadRequest d = fedtiny_v1_DownloadRequest_init_zero;
    CopyString(a.task, d.task);
    d.round = a.round;
    d.upload_token.size = a.upload_token.size;
    std::memcpy(d.upload_token.bytes, a.upload_token.bytes, a.upload_token.size);
    d.cluster = bundle.cluster;
    d.offset = static_cast<int64_t>(have);
    d.max_bytes = kChunkBytes;
    CopyString(bundle.variant, d.variant);
    std::string payload;
    StringSink out(&payload);
    wire::Result r = wire::EncodeMessage(fedtiny_v1_DownloadRequest_fields, &d, out);
    if (!r.ok()) return r.message();
    const Frame f = link.Call(FrameType::kDownload, payload);
    if (f.type != FrameType::kDownloadResponse) return (*error = DescribeError(f)).c_str();
    wire::BufferSource in(reinterpret_cast<const uint8_t*>(f.payload.data()), f.payload.size());
    wire::BufferSink data(g_model + have, total - have);
    uint8_t scratch[64];
    fedtiny_v1_DownloadResponse meta = fedtiny_v1_DownloadResponse_init_zero;
    size_t got = 0;
    r = wire::DecodeDownloadResponse(in, f.payload.size(), scratch, sizeof(scratch), data, &meta, &got);
    if (!r.ok()) return r.message();
    if (got == 0) return "an empty chunk before the end of the bundle";
    have += got;
  }
  return nullptr;
}

const char* VerifySha256(const fedtiny_v1_ModelBundle& bundle) {
  uint8_t digest[32];
  if (mbedtls_sha256_ret(g_model, static_cast<size_t>(bundle.size_bytes), digest, 0) != 0) {
    return "SHA-256 failed";
  }
  if (bundle.sha256.size != sizeof(digest) || std::memcmp(bundle.sha256.bytes, digest, 32) != 0) {
    return "the bundle's SHA-256 does not match its bytes";
  }
  return nullptr;
}

struct Trained {
  std::vector<float> delta;
  client::TrainResult result;
};

const char* Train(const fedtiny_v1_Assignment& a, const LoadedModel& m, Trained* out, std::string* error) {
  client::TrainPlan plan;
  if (a.has_plan) {
    plan.epochs = a.plan.epochs;
    plan.batch_size = a.plan.batch_size;
    plan.learning_rate = a.plan.learning_rate;
    plan.momentum = a.plan.momentum;
    plan.proximal_mu = a.plan.proximal_mu;
  }
  plan.seed = 1;
  const int64_t dim = m.body.input_dim(m.head.input_dim());
  const Examples ex = MakeExamples(kExamples, dim, static_cast<int32_t>(m.head.num_classes()), 1);
  client::StatusOr<client::RowMatrixXf> features = m.body.Features(ex.inputs);
  if (!features.ok()) return (*error = features.status().message()).c_str();
  auto trainer = client::HeadTrainer::Create(m.head, plan);
  if (!trainer.ok()) return (*error = trainer.status().message()).c_str();
  client::Head head = m.head;
  client::TrainState state;
  auto result = (*trainer)->Train(head, *features, client::Span<const int32_t>(ex.labels),
                                  [] { return true; }, state);
  if (!result.ok()) return (*error = result.status().message()).c_str();
  out->result = *result;
  out->delta = head.Flatten();
  const std::vector<float> before = m.head.Flatten();
  for (size_t i = 0; i < before.size(); ++i) out->delta[i] -= before[i];
  return nullptr;
}

const char* Upload(DeviceLink& link, const fedtiny_v1_Assignment& a, const Trained& t, std::string* error) {
  const double accuracy = t.result.examples_seen > 0
                              ? static_cast<double>(t.result.correct) / t.result.examples_seen : 0;
  const wire::Metric metrics[] = {{"train_loss", t.result.mean_loss}, {"train_accuracy", accuracy}};
  wire::UploadFields up;
  up.task = a.task;
  up.round = a.round;
  up.upload_token = {a.upload_token.bytes, a.upload_token.size};
  up.cluster = a.bundles[0].cluster;
  up.model_version = a.bundles[0].version;
  up.example_count = kExamples;
  up.delta = t.delta.data();
  up.delta_count = t.delta.size();
  up.metrics = metrics;
  up.metric_count = 2;
  up.device_secret = Secret();
  std::string payload;
  StringSink out(&payload);
  const wire::Result r = wire::EncodeUploadRequest(up, out);
  if (!r.ok()) return r.message();
  const Frame f = link.Call(FrameType::kUpload, payload);
  if (f.type != FrameType::kUploadResponse) return (*error = DescribeError(f)).c_str();
  return nullptr;
}

int Run() {
  std::printf("mcu_device: %s (mcu-m4) on UART0, population %s\n", FEDTINY_MCU_DEVICE_ID,
              FEDTINY_MCU_POPULATION);
  CmsdkUart uart(CmsdkUart::kMps2Uart0);
  uart.Enable(16);
  DeviceLink link(uart, kChunkBytes + 1024);
  std::string error;
  const double t0 = Seconds();
  if (const char* e = CheckIn(link, &error)) return Fail("check-in", e);
  const fedtiny_v1_Assignment& a = g_checkin.outcome.assignment;
  if (a.bundles_count < 1) return Fail("check-in", "an assignment without a bundle");
  const fedtiny_v1_ModelBundle& bundle = a.bundles[0];
  std::printf("mcu_device: assigned task %s round %ld: bundle version %ld, %s, %ld bytes\n", a.task,
              static_cast<long>(a.round), static_cast<long>(bundle.version), bundle.variant,
              static_cast<long>(bundle.size_bytes));
  std::fflush(stdout);
  if (const char* e = Download(link, a, &error)) return Fail("download", e);
  if (const char* e = VerifySha256(bundle)) return Fail("download", e);
  std::printf("mcu_device: downloaded %ld bytes in %u-byte chunks, SHA-256 verified (Mbed TLS)\n",
              static_cast<long>(bundle.size_bytes), static_cast<unsigned>(kChunkBytes));
  LoadedModel model;
  if (const char* e = LoadModel(g_model, static_cast<size_t>(bundle.size_bytes), &model)) {
    return Fail("model", e);
  }
  Trained trained;
  if (const char* e = Train(a, model, &trained, &error)) return Fail("training", e);
  double norm = 0;
  for (float d : trained.delta) norm += static_cast<double>(d) * d;
  std::printf("mcu_device: trained the head (%ld parameters) on %d own examples: loss %.4f, accuracy %.3f,"
              " |delta| %.5f\n", static_cast<long>(model.head.num_params()), kExamples,
              trained.result.mean_loss,
              static_cast<double>(trained.result.correct) / trained.result.examples_seen, std::sqrt(norm));
  if (const char* e = Upload(link, a, trained, &error)) return Fail("upload", e);
  std::printf("mcu_device: upload accepted for round %ld (%.2f s; link: %lu bytes dropped, %lu frames resent)\n",
              static_cast<long>(a.round), Seconds() - t0, static_cast<unsigned long>(link.dropped_bytes()),
              static_cast<unsigned long>(link.resent()));
  // newlib's arena only grows: its size is the heap's high-water mark.
  std::printf("mcu_device: heap high-water %lu bytes (newlib arena); static RAM and the 64 KiB stack aside\n",
              static_cast<unsigned long>(mallinfo().arena));
  return 0;
}

}  // namespace
}  // namespace fedtiny::mcu

int main() { return fedtiny::mcu::Run(); }
