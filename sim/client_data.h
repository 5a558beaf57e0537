// Where a simulated device's training data comes from: precomputed (Fashion-MNIST
// partitions, body features cached) or generated on demand from a seed (LEAF
// Synthetic), so that a population of a million devices fits in memory.
#ifndef FEDTINY_SIM_CLIENT_DATA_H_
#define FEDTINY_SIM_CLIENT_DATA_H_

#include <cstdint>
#include <vector>

#include "client/core/model.h"

namespace fedtiny::sim {

struct ClientData {
  client::RowMatrixXf features;  // Head inputs, one example per row.
  std::vector<int32_t> labels;
};

// Implementations are thread-safe for concurrent Get() calls.
class ClientDataSource {
 public:
  virtual ~ClientDataSource() = default;
  virtual int64_t num_clients() const = 0;
  virtual int64_t feature_dim() const = 0;
  // How many training examples device k holds (cheap: no data is made).
  virtual int64_t NumExamples(int64_t k) const = 0;
  // Device k's training data (made on demand by generating sources).
  virtual ClientData Get(int64_t k) const = 0;
  // Device k's data as the body of the model variant it received sees it
  // (`int8`: the int8 body; sources without a body ignore it). A reference to
  // stored data when the source keeps it (no copy), else made into `scratch`.
  virtual const ClientData& View(int64_t k, bool int8, ClientData& scratch) const {
    (void)int8;
    scratch = Get(k);
    return scratch;
  }
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_CLIENT_DATA_H_
