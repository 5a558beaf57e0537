# Shared part of the bare-metal Cortex-M toolchains (cortex-m4.cmake, cortex-m7.cmake):
# Debian's arm-none-eabi GCC 12 with newlib-nano, Arm semihosting (librdimon) for
# stdio and the exit status, and tools/cross/mps2/{mps2.ld,startup.c} for QEMU's
# MPS2 boards. The including file sets FEDTINY_CPU_FLAGS and FEDTINY_QEMU_MACHINE.
#
# A project adds ${FEDTINY_BARE_METAL_STARTUP} to each executable (the vector table
# and reset code); the linker flags below bring in the linker script.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# No startup code in try_compile's test programs: check with a static library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(FEDTINY_MPS2_DIR "${CMAKE_CURRENT_LIST_DIR}/mps2")
set(FEDTINY_BARE_METAL_STARTUP "${FEDTINY_MPS2_DIR}/startup.c")

# -ffunction-sections/-fdata-sections + --gc-sections: only what is called is linked.
# C++ without exceptions or RTTI (the SDK's code reports errors by status, never
# throws); Eigen sees EIGEN_NO_EXCEPTIONS.
set(CMAKE_C_FLAGS_INIT "${FEDTINY_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT
    "${FEDTINY_CPU_FLAGS} -ffunction-sections -fdata-sections -fno-exceptions -fno-rtti -fno-threadsafe-statics")
set(CMAKE_ASM_FLAGS_INIT "${FEDTINY_CPU_FLAGS}")
# newlib-nano + librdimon (semihosting syscalls); our own startup instead of
# crt0 (-nostartfiles); printf("%f") needs _printf_float pulled in with nano.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "${FEDTINY_CPU_FLAGS} --specs=nano.specs --specs=rdimon.specs -nostartfiles -u _printf_float -T ${FEDTINY_MPS2_DIR}/mps2.ld -Wl,--gc-sections -Wl,--print-memory-usage")

set(CMAKE_FIND_ROOT_PATH /usr/lib/arm-none-eabi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# add_test() runs the ELF on the board: `-kernel` takes the program's path, which
# CMake appends after the emulator's arguments.
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-system-arm -M ${FEDTINY_QEMU_MACHINE} -nographic
    -semihosting-config enable=on,target=native -kernel)
