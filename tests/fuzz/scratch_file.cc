#include "tests/fuzz/scratch_file.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "tests/fuzz/fuzz_check.h"

namespace fedtiny::fuzz {

namespace {
void RemoveScratch() {
  std::error_code ignored;
  std::filesystem::remove_all(ScratchDir(), ignored);
}
}  // namespace

const std::string& ScratchDir() {
  static const std::string* dir = [] {
    const char* base =
        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TEST_TMPDIR");
    std::string templ =
        std::string(base ? base : "/tmp") + "/fedtiny-fuzz-XXXXXX";
    FUZZ_CHECK(mkdtemp(templ.data()) != nullptr)
        << "cannot create a scratch directory";
    auto* d = new std::string(templ);
    atexit(RemoveScratch);
    return d;
  }();
  return *dir;
}

std::string WriteScratch(const std::string& name, absl::string_view bytes) {
  const std::string path = ScratchDir() + "/" + name;
  FILE* f = fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr) << path;
  FUZZ_CHECK(fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size()) << path;
  fclose(f);
  return path;
}

}  // namespace fedtiny::fuzz
