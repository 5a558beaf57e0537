#include "client/platform/linux/linux_platform.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "client/platform/linux/status_bridge.h"
#include "tools/base/atomic_file.h"
#include "tools/base/constant_time.h"
#include "tools/base/sha256.h"

namespace fedtiny::client {
namespace {

class LinuxStorage final : public Storage {
 public:
  StatusOr<std::string> ReadFile(const std::string& path) override {
    return FromAbsl(::fedtiny::ReadFile(path));
  }
  Status WriteFileAtomically(const std::string& path, std::string_view contents) override {
    return FromAbsl(
        ::fedtiny::WriteFileAtomically(path, absl::string_view(contents.data(), contents.size())));
  }
  Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return InternalError(absl::StrCat("cannot delete ", path, ": ", std::strerror(errno)));
    }
    return OkStatus();
  }
  bool Exists(const std::string& path) override {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }
};

class LinuxCryptoImpl final : public Crypto {
 public:
  bool Sha256(std::string_view data, uint8_t (&digest)[kSha256Bytes]) const override {
    absl::StatusOr<Sha256Digest> d = ::fedtiny::Sha256(absl::string_view(data.data(), data.size()));
    if (!d.ok()) return false;
    static_assert(sizeof(*d) == kSha256Bytes);
    std::memcpy(digest, d->data(), kSha256Bytes);
    return true;
  }
  bool ConstantTimeEquals(std::string_view a, std::string_view b) const override {
    return ::fedtiny::ConstantTimeEquals(absl::string_view(a.data(), a.size()),
                                         absl::string_view(b.data(), b.size()));
  }
};

class SteadyClock final : public Clock {
 public:
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

class ThreadRandom final : public Random {
 public:
  uint64_t Next() override {
    thread_local std::mt19937_64 gen{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                     std::random_device{}()};
    return gen();
  }
};

}  // namespace

const Crypto& LinuxCrypto() {
  static const LinuxCryptoImpl* const crypto = new LinuxCryptoImpl();
  return *crypto;
}

const Platform& LinuxPlatform() {
  static LinuxStorage* const storage = new LinuxStorage();
  static SteadyClock* const clock = new SteadyClock();
  static ThreadRandom* const random = new ThreadRandom();
  static const Platform* const platform = new Platform{*storage, LinuxCrypto(), *clock, *random};
  return *platform;
}

}  // namespace fedtiny::client
