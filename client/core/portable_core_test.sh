#!/bin/bash
# The portable core stays portable: every client/core library source compiles
# for a Cortex-M4F (arm-none-eabi-g++, newlib-nano, no exceptions or RTTI,
# tools/cross/cortex-m4.cmake's flags) with only the standard library, Eigen
# and the core's own headers, and no source includes Abseil, OpenSSL, POSIX or
# threads. A missing toolchain is a failure, never a skip (as tools/cross).
set -euo pipefail

if [[ -n "${TEST_SRCDIR:-}" ]]; then
  ROOT="${TEST_SRCDIR}/${TEST_WORKSPACE:-__main__}"
else
  ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
fi
cd "${ROOT}"

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v arm-none-eabi-g++ >/dev/null 2>&1 ||
  fail "'arm-none-eabi-g++' not found. Run tools/setup (Debian package gcc-arm-none-eabi)."

# Library sources only: tests and benchmarks run on the host with gtest (and
# client/core/layers' test-only case reader).
mapfile -t sources < <(ls client/core/*.cc client/core/*.h client/core/layers/*.cc client/core/layers/*.h |
  grep -v -e '_test\.cc$' -e '_benchmark\.cc$' -e 'layers/torch_cases\.')
[[ ${#sources[@]} -gt 10 ]] || fail "found only ${#sources[@]} core sources under ${ROOT}"

# 1. Includes: the standard library, Eigen, the core, tools/base's three
#    standard-library-only headers, and the compiler's own Arm intrinsics
#    (<arm_acle.h>, behind __ARM_FEATURE_SIMD32: int8_inference's SMLAD).
bad=$(grep -n '^#include' "${sources[@]}" |
  grep -v -E '#include <[a-z_]+>|#include <arm_acle\.h>|#include "Eigen/|#include "client/core/|#include "tools/base/(byte_reader|eligibility|int8_quant)\.h"' || true)
[[ -z "${bad}" ]] || fail "non-portable includes in client/core:
${bad}"

# 2. Each source compiles for the Cortex-M4F.
FLAGS=(-std=c++17 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16
       --specs=nano.specs -fno-exceptions -fno-rtti -fno-threadsafe-statics
       -Wall -Werror=return-type -fsyntax-only -I. -I/usr/include/eigen3)
for f in "${sources[@]}" tools/base/eligibility.cc tools/base/byte_reader.cc; do
  [[ "${f}" == *.h ]] && lang=(-x c++-header) || lang=()
  arm-none-eabi-g++ "${FLAGS[@]}" "${lang[@]}" "${f}" || fail "${f} does not compile for Cortex-M4F"
done
echo "PASS: ${#sources[@]} client/core sources are portable"
