// Fuzzes the device's example store file reader (ExampleStore::Load in
// client/core/example_store.h).
//
// Input: [mode: uint8][file bytes]. Mode bit 0: the bytes are the body and the
// harness appends the SHA-256 trailer, so mutations reach the parser behind the
// checksum (as a file written by a buggy or older SDK would); bit 1: reservoir
// eviction instead of oldest-first.
//
// Invariants: Load returns OK or DATA_LOSS; a loaded store is one that Add()
// could have built (at most `capacity` examples, finite features, labels >= 0,
// at least as many seen as held); it saves and reloads identically, and accepts
// further examples.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "client/platform/linux/status_bridge.h"
#include "client/core/example_store.h"
#include "client/platform/linux/linux_platform.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/scratch_file.h"
#include "tools/base/byte_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fedtiny;
  using namespace fedtiny::fuzz;
  FuzzInput in(data, size);
  const uint8_t mode = in.Take<uint8_t>();
  std::string bytes = in.Rest();
  if (mode & 1) bytes = WithSha256Trailer(std::move(bytes));
  client::ExampleStoreOptions options;
  options.input_dim = 3;
  options.max_examples = 4;
  options.seed = 1;
  if (mode & 2)
    options.eviction = client::ExampleStoreOptions::Eviction::kReservoir;

  // ES-2: a count whose byte size overflows passes the size check and loops
  // ~2^60 times.
  ByteReader header(
      std::string_view(bytes).substr(std::min<size_t>(bytes.size(), 8)));
  int64_t dim = 0, seen = 0, n = 0;
  const bool overflows = header.Get(dim) && header.Get(seen) && header.Get(n) &&
                         dim == 3 && n > 0 &&
                         static_cast<uint64_t>(n) > UINT64_MAX / 16;
  if (SkipOpenFinding("ES-2", overflows,
                      "example count overflows the size check"))
    return 0;
  absl::StatusOr<client::ExampleStore> store =
      client::ToAbsl(client::ExampleStore::Load(client::LinuxPlatform(), WriteScratch("examples", bytes), options));
  if (!store.ok()) {
    FUZZ_CHECK(store.status().code() == absl::StatusCode::kDataLoss)
        << store.status();
    return 0;
  }
  FUZZ_CHECK(store->size() <= store->capacity());
  const client::RowMatrixXf features = store->Features();
  const std::vector<int32_t> labels = store->Labels();
  bool labels_ok = true;
  for (int32_t y : labels) labels_ok &= y >= 0;
  if (!FUZZ_FINDING(
          "ES-1",
          store->seen() >= store->size() && features.allFinite() && labels_ok,
          "loaded a store Add() cannot build (seen < size, NaN/Inf "
          "or label < 0)")) {
    return 0;
  }
  // The six Add() calls below would overflow `seen` (undefined behaviour).
  if (SkipOpenFinding("ES-1", store->seen() > INT64_MAX - 6,
                      "seen near INT64_MAX overflows in Add()")) {
    return 0;
  }

  const std::string copy = WriteScratch("examples-copy", "");
  FUZZ_CHECK_OK(client::ToAbsl(store->Save(client::LinuxPlatform(), copy)));
  absl::StatusOr<client::ExampleStore> back =
      client::ToAbsl(client::ExampleStore::Load(client::LinuxPlatform(), copy, options));
  FUZZ_CHECK_OK(back) << "a saved store does not load";
  FUZZ_CHECK(back->Features() == features && back->Labels() == labels &&
             back->seen() == store->seen());

  const float x[3] = {0.5f, -1.f, 2.f};
  for (int i = 0; i < 6; ++i) FUZZ_CHECK_OK(client::ToAbsl(store->Add(x, i)));
  FUZZ_CHECK(store->size() <= store->capacity());
  return 0;
}
