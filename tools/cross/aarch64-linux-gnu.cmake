# CMake toolchain: aarch64 Linux with Debian's cross compiler (g++-aarch64-linux-gnu).
# Links statically, so the binary runs under qemu-user (qemu-aarch64) without an
# aarch64 sysroot, and on any aarch64 Linux device as one file.
#   cmake -S tools/cross -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=tools/cross/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# Libraries and headers of the target only; programs (protoc, ...) of the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# add_test() and `cmake -E env`-free runs go through qemu-user (Debian's qemu-user).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
