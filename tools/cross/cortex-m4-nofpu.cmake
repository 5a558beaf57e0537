# CMake toolchain: Cortex-M4 without an FPU (Cortex-M4 parts without the optional
# FPU, e.g. the catalogue's mcu-m4 in sim/population.cc): soft-float ABI, every
# float operation a libgcc call. Bare metal (newlib-nano's thumb/v7e-m/nofp
# multilib). Runs under QEMU's mps2-an386 board, whose Cortex-M4 has an FPU the
# program simply never uses (startup.c leaves CPACR alone without __ARM_FP).
#   cmake -S tools/cross -B build-m4-nofpu -DCMAKE_TOOLCHAIN_FILE=tools/cross/cortex-m4-nofpu.cmake
set(FEDTINY_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=soft")
set(FEDTINY_QEMU_MACHINE mps2-an386)
include("${CMAKE_CURRENT_LIST_DIR}/cortex-m.cmake")
