#include "sim/mpi_distribution.h"

#include <mpi.h>

#include <climits>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/transport/model_proto.h"
#include "tools/base/status_macros.h"

namespace fedtiny::sim {

MpiDistribution::MpiDistribution() {
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks_);
}

int MpiDistribution::Owner(int64_t id, int64_t n, int ranks) {
  if (n <= 0 || ranks <= 1) return 0;
  return static_cast<int>(id * ranks / n);
}

absl::Status MpiDistribution::Broadcast(std::string& bytes) const {
  int64_t size = static_cast<int64_t>(bytes.size());
  MPI_Bcast(&size, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (size > INT_MAX) return absl::ResourceExhaustedError("mpi: a chunk over 2 GiB");
  bytes.resize(static_cast<size_t>(size));
  MPI_Bcast(bytes.data(), static_cast<int>(size), MPI_BYTE, 0, MPI_COMM_WORLD);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MpiDistribution::Gather(const std::string& mine) const {
  if (mine.size() > INT_MAX) return absl::ResourceExhaustedError("mpi: an answer over 2 GiB");
  int size = static_cast<int>(mine.size());
  std::vector<int> sizes(leader() ? ranks_ : 0);
  MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::vector<int> offsets(sizes.size());
  int64_t total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += sizes[r];
  }
  // Checked after the collective, so no rank is left waiting.
  const bool too_big = total > INT_MAX;
  std::string all(too_big ? 0 : static_cast<size_t>(total), '\0');
  MPI_Gatherv(mine.data(), size, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, 0,
              MPI_COMM_WORLD);
  if (too_big) return absl::ResourceExhaustedError("mpi: answers over 2 GiB in all");
  std::vector<std::string> out;
  for (size_t r = 0; r < sizes.size(); ++r) out.push_back(all.substr(offsets[r], sizes[r]));
  return out;
}

std::vector<int64_t> MpiDistribution::GatherInt64(int64_t mine) const {
  std::vector<int64_t> all(leader() ? ranks_ : 0);
  MPI_Gather(&mine, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  return all;
}

absl::Status MpiDistribution::Train(const ExperimentConfig& c, const ClientDataSource& data,
                                    std::vector<SimDevice*>& devices) {
  if (!leader()) return absl::FailedPreconditionError("mpi: Train is the leader's");
  const absl::Time start = absl::Now();
  mpi::Chunk chunk;
  chunk.set_want_delta(c.attacker_fraction > 0);
  std::map<const std::vector<client::Head>*, int> sets;
  std::vector<SimDevice*> mine;
  for (size_t i = 0; i < devices.size(); ++i) {
    SimDevice& dev = *devices[i];
    if (Owner(dev.id, data.num_clients(), ranks_) == 0) {
      mine.push_back(&dev);
      continue;
    }
    auto [it, added] = sets.emplace(dev.heads.get(), static_cast<int>(sets.size()));
    if (added) {
      mpi::HeadSet* set = chunk.add_head_sets();
      for (const client::Head& h : *dev.heads) {
        *set->add_heads() = client::ModelToProto(client::Body(), h);
      }
    }
    mpi::Device* d = chunk.add_devices();
    d->set_index(static_cast<int>(i));
    d->set_id(dev.id);
    *d->mutable_assignment() = dev.assignment;
    d->set_head_set(it->second);
    d->set_straggler(dev.straggler);
    d->set_straggle_draw(dev.straggle_draw);
  }
  std::string bytes = chunk.SerializeAsString();
  bytes_out_ += static_cast<int64_t>(bytes.size());
  RETURN_IF_ERROR(Broadcast(bytes));
  TrainAll(c, data, mine);  // The leader's own shard, while the others train theirs.
  trained_ += static_cast<int64_t>(mine.size());
  ASSIGN_OR_RETURN(const std::vector<std::string> answers, Gather(""));
  for (int r = 1; r < ranks_; ++r) {
    bytes_in_ += static_cast<int64_t>(answers[r].size());
    mpi::TrainedList list;
    if (!list.ParseFromString(answers[r])) {
      return absl::DataLossError(absl::StrCat("mpi: rank ", r, " sent an unreadable answer"));
    }
    for (mpi::Trained& t : *list.mutable_devices()) {
      if (t.index() < 0 || t.index() >= static_cast<int>(devices.size())) {
        return absl::DataLossError(absl::StrCat("mpi: rank ", r, " answered for no device"));
      }
      SimDevice& dev = *devices[t.index()];
      if (t.code() != 0) {
        dev.update = absl::Status(static_cast<absl::StatusCode>(t.code()), t.error());
        continue;
      }
      client::DeviceUpdate u;
      u.cluster = t.cluster();
      u.example_count = t.example_count();
      u.delta.assign(t.delta().begin(), t.delta().end());
      dev.update = std::move(u);
      dev.upload = std::move(*t.mutable_upload());
    }
  }
  train_s_ += absl::ToDoubleSeconds(absl::Now() - start);
  return absl::OkStatus();
}

absl::Status MpiDistribution::EndRun() {
  if (!leader()) return absl::FailedPreconditionError("mpi: EndRun is the leader's");
  mpi::Chunk end;
  end.set_end_run(true);
  std::string bytes = end.SerializeAsString();
  return Broadcast(bytes);
}

absl::StatusOr<mpi::TrainedList> MpiDistribution::TrainOwned(const ExperimentConfig& c,
                                                              const ClientDataSource& data,
                                                              const mpi::Chunk& chunk) const {
  std::vector<std::shared_ptr<const std::vector<client::Head>>> sets;
  for (const mpi::HeadSet& s : chunk.head_sets()) {
    auto heads = std::make_shared<std::vector<client::Head>>();
    for (const v1::Model& m : s.heads()) {
      ASSIGN_OR_RETURN(client::Head h, client::HeadFromProto(m));
      heads->push_back(std::move(h));
    }
    sets.push_back(std::move(heads));
  }
  std::vector<SimDevice> owned;
  std::vector<int> index;
  for (const mpi::Device& d : chunk.devices()) {
    if (Owner(d.id(), data.num_clients(), ranks_) != rank_) continue;
    if (d.head_set() < 0 || d.head_set() >= static_cast<int>(sets.size())) {
      return absl::DataLossError("mpi: a device names no head set");
    }
    SimDevice dev;
    dev.id = d.id();
    dev.assignment = d.assignment();
    dev.heads = sets[d.head_set()];
    dev.straggler = d.straggler();
    dev.straggle_draw = d.straggle_draw();
    owned.push_back(std::move(dev));
    index.push_back(d.index());
  }
  std::vector<SimDevice*> ptrs;
  for (SimDevice& dev : owned) ptrs.push_back(&dev);
  TrainAll(c, data, ptrs);
  trained_ += static_cast<int64_t>(ptrs.size());
  mpi::TrainedList out;
  for (size_t i = 0; i < owned.size(); ++i) {
    mpi::Trained* t = out.add_devices();
    t->set_index(index[i]);
    if (!owned[i].update.ok()) {
      t->set_code(static_cast<int>(owned[i].update.status().code()));
      t->set_error(std::string(owned[i].update.status().message()));
      continue;
    }
    const client::DeviceUpdate& u = *owned[i].update;
    t->set_cluster(u.cluster);
    t->set_example_count(u.example_count);
    if (chunk.want_delta()) t->mutable_delta()->Add(u.delta.begin(), u.delta.end());
    *t->mutable_upload() = std::move(owned[i].upload);
  }
  return out;
}

absl::Status MpiDistribution::Serve(const ExperimentConfig& c, const ClientDataSource& data) {
  if (leader()) return absl::FailedPreconditionError("mpi: the leader does not serve");
  for (;;) {
    std::string bytes;
    RETURN_IF_ERROR(Broadcast(bytes));
    mpi::Chunk chunk;
    if (!chunk.ParseFromString(bytes)) return absl::DataLossError("mpi: unreadable chunk");
    if (chunk.end_run()) return absl::OkStatus();
    absl::StatusOr<mpi::TrainedList> trained = TrainOwned(c, data, chunk);
    // Answer even on failure (an empty list), so the leader is not left
    // waiting; the failure then surfaces here.
    const std::string answer = trained.ok() ? trained->SerializeAsString() : std::string();
    RETURN_IF_ERROR(Gather(answer).status());
    RETURN_IF_ERROR(trained.status());
  }
}

}  // namespace fedtiny::sim
