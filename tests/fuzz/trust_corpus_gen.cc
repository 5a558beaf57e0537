// Writes the seed corpus of the trust_metadata harness (its own generator:
// corpus_gen's coordinator dependencies are not needed here):
//   bazel run //tests/fuzz:trust_corpus_gen -- $PWD/tests/fuzz/corpus/trust_metadata
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <string>

#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/trust_repository.h"

namespace fedtiny::fuzz {
namespace {

std::string Input(uint8_t mode, int16_t hours, const std::string (&rec)[4],
                  const std::string& target) {
  std::string out;
  PutLe<uint8_t>(out, mode);
  PutLe<int16_t>(out, hours);
  for (const std::string& r : rec) PutRecord(out, r);
  PutRecord(out, target);
  return out;
}

void Write(const std::string& dir, const std::string& name,
           const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
}

int Main(const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  const TrustRepo& repo = TrustRepo::Get();
  // Role bytes, signed and linked by the harness: a full update to version 2
  // (with a new root), and the same without a root or with old versions.
  const std::string roles2[4] = {
      repo.Root(2).SerializeAsString(), repo.Timestamp(2).SerializeAsString(),
      repo.Snapshot(2).SerializeAsString(), repo.Targets(2).SerializeAsString()};
  Write(dir, "update-v2", Input(3, 0, roles2, kTrustTargetBytes));
  Write(dir, "update-v2-fresh-device", Input(3 | 8, 0, roles2, kTrustTargetBytes));
  const std::string no_root[4] = {"", roles2[1], roles2[2], roles2[3]};
  Write(dir, "update-v2-no-root", Input(3, 1, no_root, "model bundle bytez"));
  const std::string roles1[4] = {
      "", repo.Timestamp(1).SerializeAsString(),
      repo.Snapshot(1).SerializeAsString(), repo.Targets(1).SerializeAsString()};
  Write(dir, "same-v1", Input(3, 2, roles1, kTrustTargetBytes));
  Write(dir, "expired-v2", Input(3, 24 * 40, no_root, kTrustTargetBytes));
  const std::string gap[4] = {repo.Root(3).SerializeAsString(), "", "", ""};
  Write(dir, "root-gap", Input(3, 0, gap, ""));
  // Unlinked: the hashes do not match.
  Write(dir, "update-v2-unlinked", Input(1, 0, roles2, kTrustTargetBytes));
  // The stored trusted set.
  const std::string stored[4] = {repo.baseline_set(), "", "", ""};
  Write(dir, "stored-set", Input(4, 0, stored, ""));
  // Raw envelopes: the initial root replayed as root 2.
  const std::string raw[4] = {repo.initial_root(), "", "", ""};
  Write(dir, "raw-root-replay", Input(0, 0, raw, ""));
  return 0;
}

}  // namespace
}  // namespace fedtiny::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: trust_corpus_gen DIR" << std::endl;
    return 2;
  }
  return fedtiny::fuzz::Main(argv[1]);
}
