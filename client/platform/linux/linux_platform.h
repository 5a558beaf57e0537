// The Linux implementation of the portable core's platform interface
// (client/core/platform.h): POSIX files (tools/base/atomic_file), OpenSSL's
// SHA-256 (tools/base/sha256, constant_time), std::chrono::steady_clock and a
// per-thread generator seeded from std::random_device.
#ifndef FEDTINY_CLIENT_PLATFORM_LINUX_LINUX_PLATFORM_H_
#define FEDTINY_CLIENT_PLATFORM_LINUX_LINUX_PLATFORM_H_

#include "client/core/platform.h"

namespace fedtiny::client {

// The process-wide Linux platform. Its parts are stateless (the generator is
// per thread), so it is thread-safe; it lives until the process exits.
const Platform& LinuxPlatform();

// Its crypto alone (for TrainState::Serialize/Parse).
const Crypto& LinuxCrypto();

}  // namespace fedtiny::client

#endif  // FEDTINY_CLIENT_PLATFORM_LINUX_LINUX_PLATFORM_H_
