// The Cortex-M4 firmware of issue #12 item 6: a microcontroller in a real round.
// Over the MPS2 board's UART0 and the gateway (client/gateway, fedtiny_gateway)
// it enrolls its P-256 device key once (device_key.h: made on the first boot,
// kept in flash), checks in with the coordinator, unwraps its bundle's model
// key from the assignment (sealed_bundle.h), verifies the signed targets metadata with
// its provisioned targets key (targets_check.h: Uptane's partial verification,
// issue #13), downloads its model bundle in chunks into flash (flash_store.h),
// hashing it as it arrives (Mbed TLS's SHA-256) and checking length and hash
// against the signed target, decrypts the bundle
// into RAM (AES-256-GCM; key and plaintext wiped after use), reads
// the model where it lies (model_loader.h: the head into RAM, the body streamed
// from flash per example), trains the head on its own examples
// (device_examples.h) with client/core's HeadTrainer, and uploads
// delta = trained - downloaded head.
//
// Memory: a part of class mcu-m4 has 256 KiB of RAM. Model, trainer, examples'
// features and delta come from one static arena (g_arena) at initialization;
// training then allocates nothing (the C allocator's calls are counted through
// --wrap, tools/cross/malloc_counter.h). At the end it prints the RAM used
// (data + bss + heap high-water + painted stack high-water, ram_usage.h) and
// fails when that exceeds kRamBudget.
//
// Progress goes to semihosting stdout; the exit status is 0 after an accepted
// upload within the RAM budget, 1 with a "mcu_device: error: ..." line otherwise.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "client/core/arena.h"
#include "client/core/head_trainer.h"
#include "client/platform/cortex_m/mbedtls_signature_verifier.h"
#include "client/platform/cortex_m/p256_keys.h"
#include "client/wire/wire.h"
#include "mbedtls/platform_util.h"
#include "mbedtls/sha256.h"
#include "pb_decode.h"
#include "tools/cross/malloc_counter.h"
#include "tools/cross/mcu/board_entropy.h"
#include "tools/cross/mcu/device_examples.h"
#include "tools/cross/mcu/device_key.h"
#include "tools/cross/mcu/device_link.h"
#include "tools/cross/mcu/flash_store.h"
#include "tools/cross/mcu/model_loader.h"
#include "tools/cross/mcu/ram_usage.h"
#include "tools/cross/mcu/refusal_probes.h"
#include "tools/cross/mcu/sealed_bundle.h"
#include "tools/cross/mcu/targets_check.h"

#ifndef FEDTINY_MCU_DEVICE_ID
#define FEDTINY_MCU_DEVICE_ID "mcu-qemu-1"
#endif
#ifndef FEDTINY_MCU_DEVICE_SECRET
#define FEDTINY_MCU_DEVICE_SECRET "mcu-qemu-1-secret-0123456789"
#endif
#ifndef FEDTINY_MCU_POPULATION
#define FEDTINY_MCU_POPULATION "fmnist"
#endif
// The provisioned targets (release) key, from tools/cross/mcu/CMakeLists.txt
// (FEDTINY_MCU_TARGETS_KEY_ID and _SPKI: the key id and the DER
// SubjectPublicKeyInfo in hex, as mcu_round_test.sh takes them from the trust
// directory `flctl keys init` made).
#if !defined(FEDTINY_MCU_TARGETS_KEY_ID) || !defined(FEDTINY_MCU_TARGETS_KEY_SPKI)
#error "the firmware needs its targets key: FEDTINY_MCU_TARGETS_KEY_ID and FEDTINY_MCU_TARGETS_KEY_SPKI"
#endif

namespace fedtiny::mcu {
namespace {

using gateway::Frame;
using gateway::FrameType;

constexpr size_t kRamBudget = 256 << 10;  // The mcu-m4 class's RAM.
constexpr size_t kArenaBytes = 16 << 10;  // Model (head), trainer, features, delta.
constexpr size_t kChunkBytes = 2048;      // One DownloadRequest's max_bytes.
constexpr int kExamples = 40;
constexpr int kCheckInTries = 60;
constexpr size_t kMaxMetadata = 8192;     // targets.pb's bound (trust.options).
// The decrypted bundle's room in RAM: a serialized model of at most 64 KiB
// (mcu_task.textproto's 784-16-10 float32 model is about 51 KiB).
constexpr size_t kPlainBytes = 64 << 10;

alignas(16) unsigned char g_arena[kArenaBytes];
fedtiny_v1_CheckInResponse g_checkin = fedtiny_v1_CheckInResponse_init_zero;
fedtiny_v1_Signed g_targets = fedtiny_v1_Signed_init_zero;  // role_bytes: 8 KiB.
// The newest targets version verified since power-on: no persistent store, so
// a reset forgets it (docs/security.md, "On microcontrollers").
uint64_t g_targets_version = 0;
// The decrypted bundle, which FlashModel reads as it reads the flash store.
alignas(16) uint8_t g_plain[kPlainBytes];
// Secrets in RAM, wiped when they go out of scope (every return of Run()).
template <size_t N>
struct Wiped {
  uint8_t bytes[N] = {};
  size_t used = N;
  ~Wiped() { mbedtls_platform_zeroize(bytes, used); }
};
struct WipedPlain {
  size_t used = 0;
  ~WipedPlain() { mbedtls_platform_zeroize(g_plain, used); }
};

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

// Sends the device key's public half to the coordinator (Federation.Enroll
// through the gateway). The answer's root is skipped: this device's trust
// anchor is provisioned (FEDTINY_MCU_TARGETS_KEY_*).
const char* Enroll(DeviceLink& link, const DeviceKey& key, bool* encrypted, std::string* error) {
  fedtiny_v1_EnrollRequest e = fedtiny_v1_EnrollRequest_init_zero;
  std::strncpy(e.device_id, FEDTINY_MCU_DEVICE_ID, sizeof(e.device_id) - 1);
  const wire::Bytes secret = Secret();
  if (secret.size > sizeof(e.device_secret.bytes)) return "the device secret is longer than 64 bytes";
  e.device_secret.size = static_cast<pb_size_t>(secret.size);
  std::memcpy(e.device_secret.bytes, secret.data, secret.size);
  e.device_public_key_spki.size = static_cast<pb_size_t>(key.spki().size());
  std::memcpy(e.device_public_key_spki.bytes, key.spki().data(), key.spki().size());
  std::string payload;
  StringSink sink(&payload);
  wire::Result r = wire::EncodeMessage(fedtiny_v1_EnrollRequest_fields, &e, sink);
  if (!r.ok()) return r.message();
  const Frame f = link.Call(FrameType::kEnroll, payload);
  if (f.type != FrameType::kEnrollResponse) return (*error = DescribeError(f)).c_str();
  fedtiny_v1_EnrollResponse response = fedtiny_v1_EnrollResponse_init_zero;
  pb_istream_t in = pb_istream_from_buffer(reinterpret_cast<const uint8_t*>(f.payload.data()), f.payload.size());
  if (!pb_decode(&in, fedtiny_v1_EnrollResponse_fields, &response)) return "a malformed EnrollResponse";
  *encrypted = response.bundles_encrypted;
  return nullptr;
}

// The device key: loaded from its flash sector, or made and enrolled on the
// first boot. The DRBG also blinds each ECDH.
const char* EnrolledKey(DeviceLink& link, client::CtrDrbg& drbg, DeviceKey* key, std::string* error) {
  const double t0 = Seconds();
  if (!drbg.Seed(BoardEntropy(), FEDTINY_MCU_DEVICE_ID).ok()) {
    return "no entropy: this board has no TRNG and no provisioned seed (FEDTINY_MCU_ENTROPY_SEED)";
  }
  if (const char* e = DeviceKey::LoadOrCreate(FlashStore::BoardKeySlot(), drbg.rng(), key)) return e;
  std::printf("mcu_device: device key %.16s... (P-256) %s in %.2f s\n", key->key_id(),
              key->created() ? "made on this boot (CTR_DRBG over the board's entropy hook) and kept in flash"
                             : "found in flash",
              Seconds() - t0);
  if (key->enrolled()) return nullptr;
  bool encrypted = false;
  if (const char* e = Enroll(link, *key, &encrypted, error)) return e;
  if (const char* e = key->MarkEnrolled()) return e;
  std::printf("mcu_device: enrolled its device key with the coordinator (it serves %s bundles);"
              " plain bundles are refused from now on\n", encrypted ? "encrypted" : "plain");
  std::fflush(stdout);
  return nullptr;
}

// Checks in until assigned (a RetryWindow waits its earliest time, at most 2 s).
const char* CheckIn(DeviceLink& link, std::string* error) {
  wire::CheckInFields ci;
  ci.device_id = FEDTINY_MCU_DEVICE_ID;
  ci.population = FEDTINY_MCU_POPULATION;
  ci.device_class = "mcu-m4";
  ci.capabilities.has_fpu = true;
  ci.capabilities.ram_bytes = kRamBudget;
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

// One DownloadRequest for the bytes at `offset`: the data to `sink`, its
// length to `got`.
const char* DownloadChunk(DeviceLink& link, const fedtiny_v1_Assignment& a, size_t offset,
                          wire::ByteSink& sink, size_t* got, std::string* error) {
  const fedtiny_v1_ModelBundle& bundle = a.bundles[0];
  fedtiny_v1_DownloadRequest d = fedtiny_v1_DownloadRequest_init_zero;
  CopyString(a.task, d.task);
  d.round = a.round;
  d.upload_token.size = a.upload_token.size;
  std::memcpy(d.upload_token.bytes, a.upload_token.bytes, a.upload_token.size);
  d.cluster = bundle.cluster;
  d.offset = static_cast<int64_t>(offset);
  d.max_bytes = kChunkBytes;
  CopyString(bundle.variant, d.variant);
  std::string payload;
  StringSink out(&payload);
  wire::Result r = wire::EncodeMessage(fedtiny_v1_DownloadRequest_fields, &d, out);
  if (!r.ok()) return r.message();
  const Frame f = link.Call(FrameType::kDownload, payload);
  if (f.type != FrameType::kDownloadResponse) return (*error = DescribeError(f)).c_str();
  wire::BufferSource in(reinterpret_cast<const uint8_t*>(f.payload.data()), f.payload.size());
  uint8_t scratch[64];
  fedtiny_v1_DownloadResponse meta = fedtiny_v1_DownloadResponse_init_zero;
  r = wire::DecodeDownloadResponse(in, f.payload.size(), scratch, sizeof(scratch), sink, &meta, got);
  if (!r.ok()) return r.message();
  if (meta.offset != static_cast<int64_t>(offset)) return "a chunk of another offset than asked";
  if (*got == 0) return "an empty chunk before the end of the bundle";
  return nullptr;
}

// Programs each chunk into flash and feeds it to the running SHA-256: the
// bundle is never whole in RAM.
class BundleSink : public wire::ByteSink {
 public:
  BundleSink(FlashStore& flash, size_t offset, mbedtls_sha256_context& sha)
      : flash_(flash, offset), sha_(sha) {}
  bool Write(const uint8_t* data, size_t n) override {
    return flash_.Write(data, n) && mbedtls_sha256_update_ret(&sha_, data, n) == 0;
  }

 private:
  FlashWriter flash_;
  mbedtls_sha256_context& sha_;
};

// Decodes MetadataResponse.data straight into g_targets (a Signed envelope).
bool DecodeSigned(pb_istream_t* stream, const pb_field_t*, void**) {
  g_targets = fedtiny_v1_Signed_init_zero;
  return pb_decode(stream, fedtiny_v1_Signed_fields, &g_targets);
}

// Fetches targets.pb through the gateway and verifies the assigned bundle's
// entry with the provisioned key (targets_check.h): partial verification.
// Returns nullptr or a "trust:<reason>".
const char* FetchSignedTarget(DeviceLink& link, const client::SignatureVerifier& verifier,
                              const fedtiny_v1_ModelBundle& bundle, SignedTarget* out, std::string* error) {
  static uint8_t spki[128];
  const size_t spki_size = ParseHex(FEDTINY_MCU_TARGETS_KEY_SPKI, spki, sizeof(spki));
  if (spki_size == 0) return "trust:provisioned key is not hex";
  fedtiny_v1_MetadataRequest m = fedtiny_v1_MetadataRequest_init_zero;
  std::strcpy(m.path, "targets.pb");
  m.max_bytes = kMaxMetadata;
  std::string payload;
  StringSink sink(&payload);
  wire::Result r = wire::EncodeMessage(fedtiny_v1_MetadataRequest_fields, &m, sink);
  if (!r.ok()) return r.message();
  const Frame f = link.Call(FrameType::kMetadata, payload);
  if (f.type != FrameType::kMetadataResponse) return (*error = "trust:metadata: " + DescribeError(f)).c_str();
  const double t0 = Seconds();
  g_targets = fedtiny_v1_Signed_init_zero;
  fedtiny_v1_MetadataResponse response = fedtiny_v1_MetadataResponse_init_zero;
  response.data.funcs.decode = DecodeSigned;
  pb_istream_t in = pb_istream_from_buffer(reinterpret_cast<const uint8_t*>(f.payload.data()), f.payload.size());
  if (!pb_decode(&in, fedtiny_v1_MetadataResponse_fields, &response) || g_targets.role_bytes.size == 0) {
    return "trust:metadata (not a Signed envelope of at most 8 KiB)";
  }
  const TrustedKey key{FEDTINY_MCU_TARGETS_KEY_ID, {reinterpret_cast<const char*>(spki), spki_size}};
  if (const char* e = VerifyTargets(verifier, g_targets, key, bundle.target_name, g_targets_version, out)) {
    return e;
  }
  g_targets_version = out->targets_version;
  std::printf("mcu_device: verified the signed target %s: targets version %lu (%lu bytes of metadata),"
              " ECDSA P-256 by the provisioned key %.16s... in %.2f s (Mbed TLS; QEMU time); expiry not"
              " checked (no trusted clock)\n", bundle.target_name,
              static_cast<unsigned long>(out->targets_version), static_cast<unsigned long>(f.payload.size()),
              FEDTINY_MCU_TARGETS_KEY_ID, Seconds() - t0);
  std::fflush(stdout);
  return nullptr;
}

// Tells the coordinator why this device gives up its place (FailureReport);
// best effort: the device exits 1 either way.
void ReportFailure(DeviceLink& link, const fedtiny_v1_Assignment& a, const char* reason) {
  fedtiny_v1_FailureReport report = fedtiny_v1_FailureReport_init_zero;
  CopyString(a.task, report.task);
  report.round = a.round;
  report.upload_token.size = a.upload_token.size;
  std::memcpy(report.upload_token.bytes, a.upload_token.bytes, a.upload_token.size);
  std::strncpy(report.reason, reason, sizeof(report.reason) - 1);
  std::string payload;
  StringSink sink(&payload);
  if (wire::EncodeMessage(fedtiny_v1_FailureReport_fields, &report, sink).ok()) {
    link.Call(FrameType::kFailure, payload);
  }
}

// Downloads the bundle into the flash store, kChunkBytes per request, and
// checks its length and SHA-256 against the signed target's.
const char* Download(DeviceLink& link, const fedtiny_v1_Assignment& a, const SignedTarget& target,
                     FlashStore& flash, std::string* error) {
  const fedtiny_v1_ModelBundle& bundle = a.bundles[0];
  if (bundle.size_bytes <= 0 || static_cast<uint64_t>(bundle.size_bytes) != target.length) {
    return "trust:length (the check-in's size is not the signed target's)";
  }
  if (!flash.Erase(static_cast<size_t>(bundle.size_bytes))) {
    return "the bundle does not fit this device's flash store";
  }
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  const char* e = mbedtls_sha256_starts_ret(&sha, 0) == 0 ? nullptr : "SHA-256 failed";
  const size_t total = static_cast<size_t>(bundle.size_bytes);
  for (size_t have = 0; e == nullptr && have < total;) {
    BundleSink sink(flash, have, sha);
    size_t got = 0;
    e = DownloadChunk(link, a, have, sink, &got, error);
    have += got;
  }
  uint8_t digest[32];
  if (e == nullptr && mbedtls_sha256_finish_ret(&sha, digest) != 0) e = "SHA-256 failed";
  mbedtls_sha256_free(&sha);
  if (e != nullptr) return e;
  if (std::memcmp(target.sha256, digest, sizeof(digest)) != 0) {
    return "trust:sha256 (the bundle's bytes are not the signed target's)";
  }
  return nullptr;
}

Binding BindingOf(const fedtiny_v1_ModelBundle& b, char (&cluster)[24]) {
  std::snprintf(cluster, sizeof(cluster), "%ld", static_cast<long>(b.cluster));
  return {b.task, cluster, static_cast<int64_t>(b.version), b.variant};
}

// Decrypts the verified bundle in the flash store into g_plain with the
// unwrapped model key. FEDTINY_MCU_TAMPER_CIPHERTEXT (mcu_round_test.sh's
// negative run) flips one ciphertext byte first, after the signed target's
// hash matched: a fault between verification and decryption.
const char* Decrypt(const FlashStore& flash, size_t size, const uint8_t (&model_key)[kModelKeyBytes],
                    const Binding& expected, size_t* plain_size) {
  SealedBundle sealed;
  if (const char* e = ParseSealedBundle(flash.data(), size, &sealed)) return e;
#ifdef FEDTINY_MCU_TAMPER_CIPHERTEXT
  const_cast<uint8_t*>(sealed.ciphertext)[sealed.ciphertext_size / 2] ^= 0x01;
  std::printf("mcu_device: FEDTINY_MCU_TAMPER_CIPHERTEXT: flipped one bit of the ciphertext\n");
#endif
  return OpenSealedBundle(sealed, model_key, expected, client::Span<uint8_t>(g_plain, sizeof(g_plain)),
                          plain_size);
}

struct Trained {
  client::Span<const float> delta;  // In the arena.
  client::TrainResult result;
  long allocations = -1;  // The C allocator's calls from features to trained head.
  long control = -1;      // The counter's on one malloc: 1 when --wrap is in effect.
};

client::TrainPlan PlanOf(const fedtiny_v1_Assignment& a) {
  client::TrainPlan plan;
  if (a.has_plan) {
    plan.epochs = a.plan.epochs;
    plan.batch_size = a.plan.batch_size;
    plan.learning_rate = a.plan.learning_rate;
    plan.momentum = a.plan.momentum;
    plan.proximal_mu = a.plan.proximal_mu;
  }
  plan.seed = 1;
  return plan;
}

// Features and labels of kExamples examples, made one at a time (only one
// example's inputs exist at once), then the head trained in place; counts the
// allocations of both. Everything comes from `arena`, carved here first.
const char* Train(const fedtiny_v1_Assignment& a, const FlashModel& m, client::Arena& arena,
                  Trained* out, std::string* error) {
  auto trainer = client::HeadTrainer::CreateInArena(m.head_shape(), PlanOf(a), kExamples, arena);
  if (!trainer.ok()) return (*error = trainer.status().message()).c_str();
  const size_t dim = static_cast<size_t>(m.feature_dim()), params = m.head().size();
  float* input = arena.Allocate<float>(static_cast<size_t>(m.input_dim()));
  float* features = arena.Allocate<float>(kExamples * dim);
  int32_t* labels = arena.Allocate<int32_t>(kExamples);
  float* delta = arena.Allocate<float>(params);
  if (input == nullptr || features == nullptr || labels == nullptr || delta == nullptr) {
    return "arena: too small for the examples' features";
  }
  std::memcpy(delta, m.head().data(), params * sizeof(float));  // The head as downloaded.
  client::TrainState state;
  (*trainer)->ReserveState(state);
  ExampleStream examples(m.input_dim(), static_cast<int32_t>(m.head_shape()[m.head_shape().size() - 1].out), 1);
  const char* e = nullptr;
  bool trained = false;
  {
    testing::ScopedMallocCount count;
    for (int i = 0; e == nullptr && i < kExamples; ++i) {
      labels[i] = examples.Next(input);
      e = m.Features(input, features + static_cast<size_t>(i) * dim);
    }
    if (e == nullptr) {
      auto result = (*trainer)->Train(m.head(), features, kExamples,
                                      client::Span<const int32_t>(labels, kExamples),
                                      [] { return true; }, state);
      if (result.ok()) out->result = *result, trained = true;
    }
    out->allocations = count.count();
  }
  {
    testing::ScopedMallocCount count;
    void* (*volatile allocate)(size_t) = std::malloc;  // Not elided by the compiler.
    std::free(allocate(16));
    out->control = count.count();
  }
  if (e != nullptr) return e;
  if (!trained) return "the head trainer failed";
  for (size_t i = 0; i < params; ++i) delta[i] = m.head()[i] - delta[i];
  out->delta = client::Span<const float>(delta, params);
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
  DeviceLink link(uart, kMaxMetadata + 1024);  // Also a download chunk's frame.
  std::string error;
  const double t0 = Seconds();
  client::CtrDrbg drbg;  // Lives as long as Run(): it blinds every ECDH.
  DeviceKey key;
  if (const char* e = EnrolledKey(link, drbg, &key, &error)) return Fail("enroll", e);
  if (const char* e = CheckIn(link, &error)) return Fail("check-in", e);
  const fedtiny_v1_Assignment& a = g_checkin.outcome.assignment;
  if (a.bundles_count < 1) return Fail("check-in", "an assignment without a bundle");
  const fedtiny_v1_ModelBundle& bundle = a.bundles[0];
  std::printf("mcu_device: assigned task %s round %ld: bundle version %ld, %s, %ld bytes\n", a.task,
              static_cast<long>(a.round), static_cast<long>(bundle.version), bundle.variant,
              static_cast<long>(bundle.size_bytes));
  std::fflush(stdout);
  // The model key, before anything is downloaded: a device that enrolled takes
  // only a bundle wrapped to it.
  char cluster[24];
  const Binding binding = BindingOf(bundle, cluster);
  Wiped<kModelKeyBytes> model_key;
  const double t_unwrap = Seconds();
  const fedtiny_v1_Assignment_wrapped_keys_t* wrapped = a.wrapped_keys_count > 0 ? &a.wrapped_keys[0] : nullptr;
  const char* refused = UnwrapModelKey(wrapped ? wrapped->bytes : nullptr, wrapped ? wrapped->size : 0, key,
                                       binding, drbg.rng(), model_key.bytes);
  if (refused != nullptr) {
    ReportFailure(link, a, refused);
    return Fail("decrypt", refused);
  }
  const double unwrap_s = Seconds() - t_unwrap;
  SignedTarget target;
  const client::MbedTlsSignatureVerifier verifier;
  if (const char* e = FetchSignedTarget(link, verifier, bundle, &target, &error)) {
    ReportFailure(link, a, e);
    return Fail("trust", e);
  }
  FlashStore& flash = FlashStore::Board();
  if (const char* e = Download(link, a, target, flash, &error)) {
    if (std::strncmp(e, "trust:", 6) == 0) ReportFailure(link, a, e);
    return Fail("download", e);
  }
  std::printf("mcu_device: downloaded %ld bytes in %u-byte chunks into the flash store (%lu KiB at 0x%08lx),"
              " length and SHA-256 (Mbed TLS, as they arrived) match the signed target's\n",
              static_cast<long>(bundle.size_bytes), static_cast<unsigned>(kChunkBytes),
              static_cast<unsigned long>(flash.capacity() >> 10),
              static_cast<unsigned long>(reinterpret_cast<uintptr_t>(flash.data())));
#ifdef FEDTINY_MCU_TAMPER_CIPHERTEXT
  // The test's tampering build first tries each refusal on this round's data.
  const ProbeInputs probes{wrapped->bytes, wrapped->size, &key, binding, drbg.rng(), flash.data(),
                           static_cast<size_t>(bundle.size_bytes), model_key.bytes,
                           client::Span<uint8_t>(g_plain, sizeof(g_plain))};
  if (RunRefusalProbes(probes) != 0) return Fail("decrypt", "a refusal probe was not refused as required");
#endif
  WipedPlain plain;
  const double t_decrypt = Seconds();
  if (const char* e = Decrypt(flash, static_cast<size_t>(bundle.size_bytes), model_key.bytes, binding,
                              &plain.used)) {
    ReportFailure(link, a, e);
    return Fail("decrypt", e);
  }
  mbedtls_platform_zeroize(model_key.bytes, sizeof(model_key.bytes));
  std::printf("mcu_device: decrypted the bundle: %lu bytes of plaintext in RAM (AES-256-GCM, binding %s/%s/%s/%ld"
              " as associated data) with the model key unwrapped in %.2f s (ECDH P-256 + HKDF-SHA256 +"
              " AES-256-GCM), decrypted in %.2f s (Mbed TLS; QEMU time); model key wiped\n",
              static_cast<unsigned long>(plain.used), binding.task, binding.cluster, binding.variant,
              static_cast<long>(binding.model_version), unwrap_s, Seconds() - t_decrypt);
  std::fflush(stdout);
  client::Arena arena(g_arena, sizeof(g_arena));
  FlashModel model;
  if (const char* e = FlashModel::Open(g_plain, plain.used, arena, &model)) {
    return Fail("model", e);
  }
  const size_t model_bytes = arena.used();
  Trained trained;
  if (const char* e = Train(a, model, arena, &trained, &error)) return Fail("training", e);
  // The plaintext's last reader was training (the body streams from it).
  mbedtls_platform_zeroize(g_plain, plain.used);
  plain.used = 0;
  double norm = 0;
  for (float d : trained.delta) norm += static_cast<double>(d) * d;
  std::printf("mcu_device: trained the head (%lu parameters) on %d own examples: loss %.4f, accuracy %.3f,"
              " |delta| %.5f\n", static_cast<unsigned long>(model.head().size()), kExamples,
              trained.result.mean_loss,
              static_cast<double>(trained.result.correct) / trained.result.examples_seen, std::sqrt(norm));
  std::printf("mcu_device: arena %lu of %lu bytes used (model %lu: head, activations, decode chunk; trainer,"
              " %d x %d features, one example's %d inputs, delta: %lu); allocations during training %ld"
              " (counter control: %ld of 1)\n",
              static_cast<unsigned long>(arena.used()), static_cast<unsigned long>(arena.capacity()),
              static_cast<unsigned long>(model_bytes), kExamples, static_cast<int>(model.feature_dim()),
              static_cast<int>(model.input_dim()), static_cast<unsigned long>(arena.used() - model_bytes),
              trained.allocations, trained.control);
  if (trained.allocations != 0) return Fail("training", "the C allocator was called during training");
  if (trained.control != 1) return Fail("training", "the allocation counter does not see malloc");
  if (const char* e = Upload(link, a, trained, &error)) return Fail("upload", e);
  std::printf("mcu_device: upload accepted for round %ld (%.2f s; link: %lu bytes dropped, %lu frames resent)\n",
              static_cast<long>(a.round), Seconds() - t0, static_cast<unsigned long>(link.dropped_bytes()),
              static_cast<unsigned long>(link.resent()));
  const RamUsage ram = MeasureRam();
  std::printf("mcu_device: RAM total %lu bytes (limit %lu): data %lu + bss %lu (arena %lu) + heap high-water"
              " %lu + stack high-water %lu (painted; %lu reserved); flash store %lu bytes (not RAM);"
              " allocations during training %ld\n",
              static_cast<unsigned long>(ram.total()), static_cast<unsigned long>(kRamBudget),
              static_cast<unsigned long>(ram.data), static_cast<unsigned long>(ram.bss),
              static_cast<unsigned long>(sizeof(g_arena)), static_cast<unsigned long>(ram.heap),
              static_cast<unsigned long>(ram.stack), static_cast<unsigned long>(ram.stack_reserved),
              static_cast<unsigned long>(flash.capacity()), trained.allocations);
  if (ram.total() > kRamBudget) return Fail("memory", "RAM use exceeds the mcu-m4 class's 256 KiB");
  return 0;
}

}  // namespace
}  // namespace fedtiny::mcu

int main() {
  fedtiny::mcu::PaintStack();
  return fedtiny::mcu::Run();
}
