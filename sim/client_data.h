// Where a simulated device's training data comes from: precomputed (Fashion-MNIST
// partitions, body features cached) or generated on demand from a seed (LEAF
// Synthetic), so that a population of a million devices fits in memory.
#ifndef FEDTINY_SIM_CLIENT_DATA_H_
#define FEDTINY_SIM_CLIENT_DATA_H_

#include <cstdint>
#include <string>
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
  // (`variant`: "float32", "int8" or a task's body variant; sources without a
  // body, or without that variant, give the float32 body's). A reference to
  // stored data when the source keeps it (no copy), else made into `scratch`.
  virtual const ClientData& View(int64_t k, const std::string& variant,
                                 ClientData& scratch) const {
    (void)variant;
    scratch = Get(k);
    return scratch;
  }
  // Multiply-adds of one example through `variant`'s body (0: no body), which
  // a device spends featurizing its data each round.
  virtual double BodyMultiplyAdds(const std::string& variant) const {
    (void)variant;
    return 0;
  }
};

}  // namespace fedtiny::sim

#endif  // FEDTINY_SIM_CLIENT_DATA_H_
