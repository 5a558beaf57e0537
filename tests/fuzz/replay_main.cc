// The driver that makes a libFuzzer harness a plain test under any compiler:
// runs LLVMFuzzerTestOneInput on every file of the given corpus directories,
// then on a bounded number of deterministic mutations of them (fixed seed), so
// that `bazel test //...` exercises every harness for a few seconds with gcc.
// Coverage-guided fuzzing is the libFuzzer build (tests/fuzz/fuzz.bzl,
// tools/fuzz).
//
//   replay_main [--mutations=N] [--seed=S] [--max_len=BYTES] DIR_OR_FILE...
//
// On a crash, failed invariant or an input that runs longer than 20 s, the
// input is written to $TEST_UNDECLARED_OUTPUTS_DIR (or /tmp) as crash-<hash>
// and its path is printed; rerun the harness on that file alone to reproduce
// it.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv)
    __attribute__((weak));
extern "C" void __sanitizer_set_death_callback(void (*callback)(void))
    __attribute__((weak));

namespace {

constexpr unsigned kSecondsPerInput = 20;

// The input being run, for the crash handlers (set before each run).
std::string* g_current = nullptr;
std::string* g_current_name = nullptr;

void WriteAll(int fd, const char* s, size_t n) {
  while (n > 0) {
    const ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}
void WriteStr(int fd, const char* s) { WriteAll(fd, s, strlen(s)); }

// Saves the current input. Runs inside signal handlers and sanitizer death
// callbacks, hence only write(2)/open(2) and stack buffers.
void DumpCurrentInput() {
  if (g_current == nullptr) return;
  const char* dir = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (dir == nullptr) dir = "/tmp";
  uint64_t h = 1469598103934665603ull;  // FNV-1a names the file by content.
  for (unsigned char c : *g_current) h = (h ^ c) * 1099511628211ull;
  char path[4096];
  snprintf(path, sizeof(path), "%s/crash-%016llx", dir,
           static_cast<unsigned long long>(h));
  FILE* f = fopen(path, "wb");
  if (f != nullptr) {
    fwrite(g_current->data(), 1, g_current->size(), f);
    fclose(f);
  }
  WriteStr(2, "\n==replay== failing input: ");
  WriteStr(2, g_current_name->c_str());
  WriteStr(2, "\n==replay== saved to: ");
  WriteStr(2, path);
  WriteStr(2, "\n");
  g_current = nullptr;
}

void OnSignal(int sig) {
  if (sig == SIGALRM)
    WriteStr(2, "\n==replay== timeout: one input ran longer than 20 s\n");
  DumpCurrentInput();
  signal(sig, SIG_DFL);
  raise(sig == SIGALRM ? SIGABRT : sig);
}

std::vector<std::string> ListFiles(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::cerr << "replay: cannot read " << path << "\n";
    std::exit(2);
  }
  if (!S_ISDIR(st.st_mode)) return {path};
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    for (std::string& f : ListFiles(path + "/" + name))
      out.push_back(std::move(f));
  }
  closedir(d);
  std::sort(out.begin(), out.end());  // readdir order is not stable.
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Values that often sit on boundaries: sizes, signs, float extremes, NaN.
const uint64_t kInteresting[] = {0,
                                 1,
                                 0x7f,
                                 0x80,
                                 0xff,
                                 0x7fff,
                                 0xffff,
                                 0x7fffffff,
                                 0x80000000,
                                 0xffffffff,
                                 0x7f7fffff /* FLT_MAX */,
                                 0x7f800000 /* +inf */,
                                 0x7fc00000 /* NaN */,
                                 0xff800000 /* -inf */,
                                 0x7fffffffffffffffull,
                                 0x8000000000000000ull,
                                 0xffffffffffffffffull,
                                 0x40000000 /* 2.0f */,
                                 0x3f800000 /* 1.0f */,
                                 1ull << 30,
                                 1ull << 31,
                                 1ull << 62};

// libFuzzer-style mutations, drawn only from raw mt19937_64 words (whose
// sequence the standard fixes), so the run is the same on every platform.
class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}
  size_t Below(size_t n) {
    return n == 0 ? 0 : static_cast<size_t>(rng_() % n);
  }

  std::string Mutate(std::string s, const std::vector<std::string>& corpus,
                     size_t max_len) {
    const int rounds = 1 + static_cast<int>(Below(4));
    for (int i = 0; i < rounds; ++i) MutateOnce(s, corpus);
    if (s.size() > max_len) s.resize(max_len);
    return s;
  }

 private:
  void MutateOnce(std::string& s, const std::vector<std::string>& corpus) {
    switch (Below(8)) {
      case 0:  // Flip one bit.
        if (!s.empty()) s[Below(s.size())] ^= static_cast<char>(1u << Below(8));
        break;
      case 1:  // Set a random byte.
        if (!s.empty()) s[Below(s.size())] = static_cast<char>(Below(256));
        break;
      case 2: {  // Overwrite with an interesting 1, 2, 4 or 8 byte value.
        const size_t width = size_t{1} << Below(4);
        if (s.size() < width) break;
        const uint64_t v =
            kInteresting[Below(sizeof(kInteresting) / sizeof(kInteresting[0]))];
        std::memcpy(&s[Below(s.size() - width + 1)], &v, width);
        break;
      }
      case 3: {  // Insert random bytes.
        std::string bytes(1 + Below(8), '\0');
        for (char& c : bytes) c = static_cast<char>(Below(256));
        s.insert(Below(s.size() + 1), bytes);
        break;
      }
      case 4:  // Erase a range.
        if (!s.empty()) {
          const size_t at = Below(s.size());
          s.erase(at, 1 + Below(std::min<size_t>(16, s.size() - at)));
        }
        break;
      case 5:  // Duplicate a range.
        if (!s.empty()) {
          const size_t at = Below(s.size());
          const std::string piece = s.substr(at, 1 + Below(16));
          s.insert(Below(s.size() + 1), piece);
        }
        break;
      case 6: {  // Splice with another corpus entry.
        const std::string& other = corpus[Below(corpus.size())];
        s = s.substr(0, Below(s.size() + 1)) +
            other.substr(Below(other.size() + 1));
        break;
      }
      default:  // Add or subtract a small number from a byte.
        if (!s.empty()) s[Below(s.size())] += static_cast<char>(Below(32) - 16);
        break;
    }
  }

  std::mt19937_64 rng_;
};

void RunOne(const std::string& input, const std::string& name) {
  *g_current = input;
  *g_current_name = name;
  alarm(kSecondsPerInput);
  // A private copy of exactly the input's size, so reads past the end are
  // caught; never a null pointer, as with libFuzzer.
  static uint8_t empty[1];
  std::vector<uint8_t> copy(input.begin(), input.end());
  LLVMFuzzerTestOneInput(copy.empty() ? empty : copy.data(), copy.size());
  alarm(0);
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 2000;
  uint64_t seed = 1;
  size_t max_len = 4096;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--mutations=", 0) == 0) {
      mutations = std::stol(a.substr(12));
    } else if (a.rfind("--seed=", 0) == 0) {
      seed = std::stoull(a.substr(7));
    } else if (a.rfind("--max_len=", 0) == 0) {
      max_len = std::stoul(a.substr(10));
    } else if (a.rfind("-", 0) == 0) {
      std::cerr << "replay: ignoring " << a
                << " (a libFuzzer flag; build with --config=fuzz)\n";
    } else {
      paths.push_back(a);
    }
  }
  if (const char* env = getenv("FEDTINY_FUZZ_MUTATIONS"))
    mutations = std::stol(env);
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);

  std::string current, current_name;
  g_current = &current;
  g_current_name = &current_name;
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGALRM})
    signal(sig, OnSignal);
  if (__sanitizer_set_death_callback)
    __sanitizer_set_death_callback(DumpCurrentInput);

  std::vector<std::string> corpus;
  std::vector<std::string> names;
  for (const std::string& p : paths) {
    for (const std::string& f : ListFiles(p)) {
      corpus.push_back(ReadAll(f));
      names.push_back(f);
    }
  }
  if (corpus.empty()) {
    std::cerr << "replay: no corpus files given\n";
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < corpus.size(); ++i) RunOne(corpus[i], names[i]);
  Mutator mutator(seed);
  for (long i = 0; i < mutations; ++i) {
    const size_t base = mutator.Below(corpus.size());
    RunOne(mutator.Mutate(corpus[base], corpus, max_len),
           "mutation " + std::to_string(i) + " (seed " + std::to_string(seed) +
               ") of " + names[base]);
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cout << "replay: " << corpus.size() << " corpus files and " << mutations
            << " mutations passed in " << s << " s\n";
  return 0;
}
