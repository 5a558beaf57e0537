// Writes the telemetry harness's seed corpus (tests/fuzz/telemetry_fuzz.cc):
// reports that pass CheckReport against the harness's fixed spec (empty spec
// record), the same with a spec of the operator's, and near misses.
//   bazel run //tests/fuzz:telemetry_corpus_gen -- $PWD/tests/fuzz/corpus/telemetry
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <string>

#include "proto/telemetry.pb.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

namespace tpb = ::fedtiny::telemetry;

constexpr int64_t kWindow = 1'800'000'000 / 3600 * 3600;  // The harness's now, floored.

tpb::TelemetryReport Report(int64_t version, const std::string& cls, uint32_t class_bin,
                           uint32_t act_bin, uint32_t latency_bin) {
  tpb::TelemetryReport r;
  r.set_model_version(version);
  r.set_variant("float32");
  r.set_device_class(cls);
  r.set_spec_version(3);
  r.set_window_start_unix_s(kWindow);
  r.set_consent_version("v1");
  auto add = [&r](const char* probe, uint32_t bin, double eps) {
    tpb::ReportedBin* b = r.add_values();
    b->set_probe(probe);
    b->set_bin(bin);
    b->set_epsilon(eps);
  };
  add("predicted_class", class_bin, 2);
  add("act:3", act_bin, 1);
  add("latency", latency_bin, 1);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: telemetry_corpus_gen DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  mkdir(dir.c_str(), 0755);
  auto write = [&dir](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << bytes;
  };
  std::string fleet;
  fedtiny::fuzz::PutRecord(fleet, "");  // The harness's fixed spec.
  for (int i = 0; i < 24; ++i) {
    fedtiny::fuzz::PutRecord(
        fleet, Report(i % 3, i % 2 ? "phone" : "gateway", i % 4, i % 2, i % 3).SerializeAsString());
  }
  write("fleet_fixed_spec", fleet);
  std::string misses;
  fedtiny::fuzz::PutRecord(misses, "");
  tpb::TelemetryReport bad = Report(9, "phone", 7, 0, 0);  // Version and bin out of range.
  fedtiny::fuzz::PutRecord(misses, bad.SerializeAsString());
  bad = Report(1, "phone", 0, 0, 0);
  bad.set_window_start_unix_s(kWindow + 3600);  // In the future.
  fedtiny::fuzz::PutRecord(misses, bad.SerializeAsString());
  bad = Report(1, "phone", 0, 0, 0);
  bad.mutable_values(1)->set_probe("predicted_class");  // A probe twice.
  fedtiny::fuzz::PutRecord(misses, bad.SerializeAsString());
  write("near_misses", misses);
  // An operator's spec: one categorical probe of 3 with a reference.
  tpb::TelemetrySpec spec;
  spec.set_version(3);
  spec.set_window_s(3600);
  tpb::TelemetryProbe* p = spec.add_probes();
  p->set_name("predicted_class");
  p->set_kind(tpb::PREDICTED_CLASS);
  p->mutable_binning()->set_categories(3);
  for (double v : {0.5, 0.25, 0.25}) p->add_reference(v);
  p->set_epsilon(2);
  std::string own;
  fedtiny::fuzz::PutRecord(own, spec.SerializeAsString());
  for (int i = 0; i < 8; ++i) {
    tpb::TelemetryReport r = Report(0, "phone", i % 3, 0, 0);
    r.mutable_values()->DeleteSubrange(1, 2);
    fedtiny::fuzz::PutRecord(own, r.SerializeAsString());
  }
  write("own_spec", own);
  return 0;
}
