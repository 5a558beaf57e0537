# CMake toolchain: Cortex-M4 with single-precision FPU, hard-float ABI, bare metal
# (newlib-nano). Runs under QEMU's mps2-an386 board (tools/cross/mps2).
#   cmake -S tools/cross -B build-m4 -DCMAKE_TOOLCHAIN_FILE=tools/cross/cortex-m4.cmake
set(FEDTINY_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(FEDTINY_QEMU_MACHINE mps2-an386)
include("${CMAKE_CURRENT_LIST_DIR}/cortex-m.cmake")
