// What decryption adds to loading a model on a device (issue 13, item 3):
// a float32 model of about 5 MB (body 784 -> 1024 -> 512, head 512 -> 10) as
// a serialized proto/model.proto Model, encrypted (tools/base/crypto/envelope.h).
//   load             parse the Model and build the Body and Head from it
//   verify_load      SHA-256 of the bundle (the TUF target check), then load
//   decrypt          DecryptBundle alone (AES-256-GCM)
//   unwrap           UnwrapModelKey alone (ECDH P-256 + HKDF + AES-GCM)
//   verify_decrypt   SHA-256 of the encrypted bundle, parse it, unwrap, decrypt
//   verify_decrypt_load  all of it: what a device does for an encrypted model
// Prints the CPU model and the build's instruction sets
// (docs/benchmarks.md has the figures).
//   bazel run -c opt //client/trust:bundle_benchmark
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/core/model.h"
#include "client/transport/model_proto.h"
#include "proto/model.pb.h"
#include "proto/trust.pb.h"
#include "tools/base/cpu_check.h"
#include "tools/base/crypto/bundle_stream.h"
#include "tools/base/crypto/ec_key.h"
#include "tools/base/crypto/envelope.h"
#include "tools/base/crypto/secure_bytes.h"
#include "tools/base/sha256.h"

namespace fedtiny::client {
namespace {

// args: body hidden width (1024: 5.3 MB, 256: 0.8 MB).
std::string SerializedModel(int64_t hidden) {
  Head body_as_layers = MakeHead({784, hidden, 512}, 1);
  std::vector<BodyLayer> layers;
  for (DenseLayer& l : body_as_layers.layers) layers.emplace_back(std::move(l));
  const Body body(std::move(layers));
  const Head head = MakeHead({512, 10}, 2);
  return ModelToProto(body, head).SerializeAsString();
}

v1::BundleBinding Binding() {
  v1::BundleBinding b;
  b.set_task("bench");
  b.set_cluster("0");
  b.set_model_version(1);
  b.set_variant("float32");
  return b;
}

// The device's fixture: a device key, a model key wrapped to it, the bundle.
struct Fixture {
  explicit Fixture(int64_t hidden)
      : plain(SerializedModel(hidden)),
        device(*crypto::EcPrivateKey::Generate()),
        model_key(*crypto::NewModelKey()),
        wrapped(*crypto::WrapModelKey(device.public_key(), model_key, Binding())),
        encrypted(*crypto::EncryptBundle(model_key, Binding(), plain)),
        encrypted_bytes(encrypted.SerializeAsString()) {}
  std::string plain;
  crypto::EcPrivateKey device;
  crypto::SecureBytes model_key;
  v1::WrappedKey wrapped;
  v1::EncryptedBundle encrypted;
  std::string encrypted_bytes;
};

Fixture& Get(int64_t hidden) {
  static Fixture* small = new Fixture(256);
  static Fixture* large = new Fixture(1024);
  return hidden == 256 ? *small : *large;
}

bool Load(absl::string_view bytes) {
  v1::Model model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return false;
  }
  absl::StatusOr<Body> body = BodyFromProto(model);
  absl::StatusOr<Head> head = HeadFromProto(model);
  benchmark::DoNotOptimize(body);
  benchmark::DoNotOptimize(head);
  return body.ok() && head.ok();
}

bool Verify(absl::string_view bytes) {
  absl::StatusOr<Sha256Digest> d = Sha256(bytes);
  benchmark::DoNotOptimize(d);
  return d.ok();
}

void Report(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["model_bytes"] = static_cast<double>(bytes);
}

void BM_Load(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    if (!Load(f.plain)) state.SkipWithError("load failed");
  }
  Report(state, f.plain.size());
}

void BM_VerifyLoad(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    if (!Verify(f.plain) || !Load(f.plain)) state.SkipWithError("failed");
  }
  Report(state, f.plain.size());
}

void BM_Decrypt(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    absl::StatusOr<crypto::SecureBytes> p =
        crypto::DecryptBundle(f.model_key, Binding(), f.encrypted);
    if (!p.ok()) state.SkipWithError("decrypt failed");
  }
  Report(state, f.plain.size());
}

void BM_Unwrap(benchmark::State& state) {
  Fixture& f = Get(1024);
  for (auto _ : state) {
    absl::StatusOr<crypto::SecureBytes> k =
        crypto::UnwrapModelKey(f.device, f.wrapped, Binding());
    if (!k.ok()) state.SkipWithError("unwrap failed");
  }
}

// Returns the plaintext, or an empty SecureBytes on failure.
crypto::SecureBytes VerifyDecrypt(Fixture& f) {
  if (!Verify(f.encrypted_bytes)) return {};
  v1::EncryptedBundle bundle;
  if (!bundle.ParseFromString(f.encrypted_bytes)) return {};
  absl::StatusOr<crypto::SecureBytes> key =
      crypto::UnwrapModelKey(f.device, f.wrapped, Binding());
  if (!key.ok()) return {};
  absl::StatusOr<crypto::SecureBytes> p =
      crypto::DecryptBundle(*key, Binding(), bundle);
  return p.ok() ? *std::move(p) : crypto::SecureBytes();
}

void BM_VerifyDecrypt(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    if (VerifyDecrypt(f).empty()) state.SkipWithError("failed");
  }
  Report(state, f.plain.size());
}

void BM_VerifyDecryptLoad(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    crypto::SecureBytes plain = VerifyDecrypt(f);
    if (plain.empty() || !Load(plain.view())) state.SkipWithError("failed");
  }  // `plain` is wiped here, after the model was built from it
  Report(state, f.plain.size());
}

// Decrypting while downloading (tools/base/crypto/bundle_stream.h, what the
// SDK does for an encrypted bundle): the per-chunk work (SHA-256 and AES-GCM of
// each 64 KiB chunk as it arrives) and what is left after the last byte.
constexpr size_t kChunk = 64 * 1024;

// Evicts the caches (64 MB written), as the seconds a real download takes
// would: the after-last-byte figures then compare loads from memory, not a
// just-copied plain bundle in cache against a plaintext written while the
// ciphertext streamed past.
void EvictCaches() {
  static std::vector<char>* junk = new std::vector<char>(64 << 20);
  for (size_t i = 0; i < junk->size(); i += 64) (*junk)[i] = static_cast<char>(i);
  benchmark::DoNotOptimize(junk->data());
}

// The per-chunk work of a plain bundle: the SHA-256 only.
void BM_ChunksPlain(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    Sha256Hasher h;
    for (size_t at = 0; at < f.plain.size(); at += kChunk) {
      (void)h.Update(absl::string_view(f.plain).substr(at, kChunk));
    }
    benchmark::DoNotOptimize(h.Finish());
  }
  Report(state, f.plain.size());
}

// An opener fed every chunk of the encrypted bundle, as a download feeds it
// (SHA-256 and decryption of each chunk); an error if any step failed.
absl::StatusOr<crypto::BundleStreamOpener> FedOpener(Fixture& f) {
  absl::StatusOr<crypto::BundleStreamOpener> opener =
      crypto::BundleStreamOpener::Start(f.model_key, Binding(), f.encrypted_bytes.size());
  if (!opener.ok()) return opener.status();
  Sha256Hasher h;
  for (size_t at = 0; at < f.encrypted_bytes.size(); at += kChunk) {
    const absl::string_view chunk = absl::string_view(f.encrypted_bytes).substr(at, kChunk);
    if (absl::Status s = h.Update(chunk); !s.ok()) return s;
    if (absl::Status s = opener->Update(chunk); !s.ok()) return s;
  }
  benchmark::DoNotOptimize(h.Finish());
  return opener;
}

void BM_ChunksEncrypted(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    if (!FedOpener(f).ok()) state.SkipWithError("failed");
  }
  Report(state, f.plain.size());
}

// After the last byte of an encrypted bundle: the tag, then the load, until
// the model is built (the plaintext's wipe, which follows, is not timed: the
// model is in use by then). Against BM_AfterLastBytePlain (a plain bundle
// hashed as it arrived: the load is all that is left).
void BM_AfterLastByteEncrypted(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<crypto::BundleStreamOpener> opener = FedOpener(f);
    if (!opener.ok()) {
      state.SkipWithError("failed");
      break;
    }
    absl::StatusOr<crypto::SecureBytes> plain;
    EvictCaches();
    state.ResumeTiming();
    plain = opener->Finish();
    if (!plain.ok() || !Load(plain->view())) state.SkipWithError("failed");
    state.PauseTiming();
    plain = absl::InternalError("wiped");  // The wipe, untimed.
    state.ResumeTiming();
  }
  Report(state, f.plain.size());
}

// The tag check alone (what decryption adds after the last byte).
void BM_AfterLastByteTagOnly(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    absl::StatusOr<crypto::BundleStreamOpener> opener = FedOpener(f);
    if (!opener.ok()) {
      state.SkipWithError("failed");
      break;
    }
    absl::StatusOr<crypto::SecureBytes> plain;
    EvictCaches();
    state.ResumeTiming();
    plain = opener->Finish();
    if (!plain.ok()) state.SkipWithError("failed");
    state.PauseTiming();
    plain = absl::InternalError("wiped");
    state.ResumeTiming();
  }
  Report(state, f.plain.size());
}

// Load alone, timed the same way as BM_AfterLastByteEncrypted (with a pause
// per iteration), so that the two differ only by the tag check.
void BM_AfterLastBytePlain(benchmark::State& state) {
  Fixture& f = Get(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::string copy = f.plain;
    EvictCaches();
    state.ResumeTiming();
    if (!Load(copy)) state.SkipWithError("failed");
    state.PauseTiming();
    copy = std::string();
    state.ResumeTiming();
  }
  Report(state, f.plain.size());
}

BENCHMARK(BM_ChunksPlain)->ArgName("hidden")->Arg(1024)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ChunksEncrypted)->ArgName("hidden")->Arg(1024)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AfterLastBytePlain)
    ->ArgName("hidden")->Arg(1024)->Arg(256)->Iterations(40)->Unit(benchmark::kMillisecond);
// A fixed count: the untimed feeding dominates each iteration.
BENCHMARK(BM_AfterLastByteTagOnly)
    ->ArgName("hidden")->Arg(1024)->Arg(256)->Iterations(40)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_AfterLastByteEncrypted)
    ->ArgName("hidden")->Arg(1024)->Arg(256)->Iterations(40)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Load)->ArgName("hidden")->Arg(1024)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VerifyLoad)->ArgName("hidden")->Arg(1024)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decrypt)->ArgName("hidden")->Arg(1024)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Unwrap)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyDecrypt)->ArgName("hidden")->Arg(1024)->Arg(256)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VerifyDecryptLoad)
    ->ArgName("hidden")
    ->Arg(1024)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fedtiny::client

int main(int argc, char** argv) {
  benchmark::AddCustomContext("cpu_model", fedtiny::CpuModelName());
  benchmark::AddCustomContext("instruction_sets", fedtiny::BuildInstructionSets());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
