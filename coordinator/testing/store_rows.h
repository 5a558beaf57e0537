// Version rows for the Store tests (SQLite, PostgreSQL and the contract both
// meet): a version with its model's hash, size and an optimizer state.
#ifndef FEDTINY_COORDINATOR_TESTING_STORE_ROWS_H_
#define FEDTINY_COORDINATOR_TESTING_STORE_ROWS_H_

#include <cstdint>
#include <string>

#include "coordinator/store.h"
#include "tools/base/sha256.h"

namespace fedtiny::coordinator::testing {

// Version `v` of `task`'s `cluster` (parent v - 1, round v), holding `model`.
inline VersionRow Version(const std::string& task, int cluster, int64_t v,
                          const std::string& model) {
  VersionRow row;
  row.task = task;
  row.cluster = cluster;
  row.version = v;
  row.parent_version = v - 1;
  row.round = v;
  row.aggregator = "fedavg";
  row.model = model;
  row.size_bytes = static_cast<int64_t>(model.size());
  row.sha256_hex = DigestToHex(*Sha256(model));
  row.optimizer_state = "opt" + std::to_string(v);
  return row;
}

// A version of cluster 0 whose first `body.size()` bytes other versions share.
inline VersionRow WithBody(const std::string& task, int64_t v, const std::string& body,
                           const std::string& head) {
  VersionRow row = Version(task, 0, v, body + head);
  row.shared_prefix_bytes = static_cast<int64_t>(body.size());
  return row;
}

}  // namespace fedtiny::coordinator::testing

#endif  // FEDTINY_COORDINATOR_TESTING_STORE_ROWS_H_
