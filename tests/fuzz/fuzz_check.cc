#include "tests/fuzz/fuzz_check.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

namespace fedtiny::fuzz {

namespace {

// Ids listed in $FEDTINY_FUZZ_OPEN_FINDINGS, read once; '#' starts a comment.
const std::set<std::string>& OpenFindings() {
  static const std::set<std::string>* open = [] {
    auto* ids = new std::set<std::string>;
    const char* path = std::getenv("FEDTINY_FUZZ_OPEN_FINDINGS");
    if (path == nullptr || *path == '\0') return ids;
    std::ifstream in(path);
    FUZZ_CHECK(in.good()) << "cannot read FEDTINY_FUZZ_OPEN_FINDINGS=" << path;
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      const size_t b = line.find_first_not_of(" \t"),
                   e = line.find_last_not_of(" \t\r");
      if (b != std::string::npos) ids->insert(line.substr(b, e - b + 1));
    }
    return ids;
  }();
  return *open;
}

std::map<std::string, long>& Hits() {
  static auto* hits = new std::map<std::string, long>;
  return *hits;
}

void PrintHits() {
  for (const auto& [id, n] : Hits()) {
    std::fprintf(
        stderr,
        "open finding %s: %ld input(s) hit it (tests/fuzz/FINDINGS.md)\n",
        id.c_str(), n);
  }
}

}  // namespace

static void Count(const char* id, const std::string& what, const char* where) {
  if (Hits().empty()) std::atexit(PrintHits);
  if (Hits()[id]++ == 0) {
    std::fprintf(stderr,
                 "%s: open finding %s (not fatal while listed as open): %s\n",
                 where, id, what.c_str());
  }
}

bool FindingHolds(const char* id, bool holds, const std::string& what,
                  const char* file, int line) {
  if (holds) return true;
  if (!OpenFindings().count(id)) {
    CheckFailure(file, line, id).stream() << what;
  }
  Count(id, what, (std::string(file) + ":" + std::to_string(line)).c_str());
  return false;
}

bool SkipOpenFinding(const char* id, bool hit, const std::string& what) {
  if (!hit || !OpenFindings().count(id)) return false;
  Count(id, what, "skipped input");
  return true;
}

}  // namespace fedtiny::fuzz
