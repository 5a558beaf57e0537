# CMake toolchain: Cortex-M7 with double-precision FPU (fpv5-d16), hard-float ABI,
# bare metal (newlib-nano). Runs under QEMU's mps2-an500 board (tools/cross/mps2).
#   cmake -S tools/cross -B build-m7 -DCMAKE_TOOLCHAIN_FILE=tools/cross/cortex-m7.cmake
set(FEDTINY_CPU_FLAGS "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16")
set(FEDTINY_QEMU_MACHINE mps2-an500)
include("${CMAKE_CURRENT_LIST_DIR}/cortex-m.cmake")
