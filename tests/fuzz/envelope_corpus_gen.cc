// Writes the seed corpus of the envelope harness:
//   bazel run //tests/fuzz:envelope_corpus_gen -- $PWD/tests/fuzz/corpus/envelope
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <string>

#include "tests/fuzz/envelope_fixture.h"
#include "tests/fuzz/fuzz_input.h"

namespace fedtiny::fuzz {
namespace {

void Write(const std::string& dir, const std::string& name, uint8_t mode,
           const std::string& rest) {
  std::string out;
  PutLe<uint8_t>(out, mode);
  out += rest;
  std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc) << out;
}

std::string Edit(uint16_t offset, uint8_t x) {
  std::string out;
  PutLe<uint16_t>(out, offset);
  PutLe<uint8_t>(out, x);
  return out;
}

int Main(const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  const EnvelopeFixture& f = EnvelopeFixture::Get();
  Write(dir, "bundle", 0, f.bundle.SerializeAsString());
  v1::EncryptedBundle other = f.bundle;
  other.mutable_binding()->set_model_version(13);
  Write(dir, "bundle-other-version", 0, other.SerializeAsString());
  Write(dir, "wrapped", 1, f.wrapped.SerializeAsString());
  v1::WrappedKey other_device = f.wrapped;
  other_device.set_device_key_id("0000");
  Write(dir, "wrapped-other-device", 1, other_device.SerializeAsString());
  Write(dir, "bundle-unedited", 2, "");
  Write(dir, "bundle-edit-nonce", 2, Edit(5, 1));
  Write(dir, "bundle-edit-tail", 2, Edit(0xffff, 0x80));
  Write(dir, "wrapped-unedited", 3, "");
  Write(dir, "wrapped-edit", 3, Edit(40, 4) + Edit(100, 1));
  return 0;
}

}  // namespace
}  // namespace fedtiny::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: envelope_corpus_gen DIR" << std::endl;
    return 2;
  }
  return fedtiny::fuzz::Main(argv[1]);
}
