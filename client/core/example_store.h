// The device's own training examples, bounded by count and bytes, persisted
// with a checksum and atomic replacement. A truncated or corrupt file is
// reported (kDataLoss), never silently used.
#ifndef FEDTINY_CLIENT_CORE_EXAMPLE_STORE_H_
#define FEDTINY_CLIENT_CORE_EXAMPLE_STORE_H_

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "client/core/status.h"
#include "client/core/span.h"
#include "client/core/model.h"
#include "client/core/platform.h"

namespace fedtiny::client {

struct ExampleStoreOptions {
  int64_t input_dim = 0;
  int64_t max_examples = 1000;
  int64_t max_bytes = 1 << 20;  // Feature bytes (input_dim * 4 per example).
  enum class Eviction { kOldestFirst, kReservoir } eviction = Eviction::kOldestFirst;
  uint64_t seed = 0;  // For reservoir sampling.
};

// Not thread-safe: the app serializes Add() with training (e.g. on one queue).
class ExampleStore {
 public:
  explicit ExampleStore(const ExampleStoreOptions& options);

  // Adds one example; evicts per the policy when full. kInvalidArgument for a
  // wrong size, non-finite features or a negative label.
  Status Add(Span<const float> features, int32_t label);

  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  int64_t capacity() const { return capacity_; }
  int64_t seen() const { return seen_; }  // Examples ever offered.
  // The examples as a matrix (n x input_dim) and their labels.
  RowMatrixXf Features() const;
  std::vector<int32_t> Labels() const { return {labels_.begin(), labels_.end()}; }

  // Writes atomically through the platform's storage, with a SHA-256 trailer
  // from its crypto. kInternal on I/O errors.
  Status Save(const Platform& platform, const std::string& path) const;
  // kNotFound if absent; kDataLoss if truncated, corrupt or for other options.
  static StatusOr<ExampleStore> Load(const Platform& platform, const std::string& path,
                                     const ExampleStoreOptions& options);

 private:
  ExampleStoreOptions options_;
  int64_t capacity_;
  int64_t seen_ = 0;
  std::deque<std::vector<float>> features_;
  std::deque<int32_t> labels_;
  std::mt19937_64 rng_;
};

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_CORE_EXAMPLE_STORE_H_
