# Finds the unpacked Debian source packages that tools/cross/fetch_debian_sources.sh
# (run by tools/setup) leaves in ${FEDTINY_DEBSRC_DIR}: a library the Cortex-M
# builds need is compiled from its Debian source package, since the binary
# packages ship no sources. Included by tools/cross/CMakeLists.txt (Mbed TLS for
# client/platform/cortex_m) and tools/cross/mcu/CMakeLists.txt (the firmware).
include_guard(GLOBAL)

set(FEDTINY_DEBSRC_DIR "$ENV{HOME}/.cache/fedtiny/debsrc" CACHE PATH
    "Unpacked Debian source packages (tools/cross/fetch_debian_sources.sh)")

# fedtiny_debian_source(OUT PACKAGE FILE): OUT is the one unpacked
# <package>-<version> directory that has FILE; a fatal error if there is none.
function(fedtiny_debian_source out package file)
  file(GLOB found "${FEDTINY_DEBSRC_DIR}/${package}-[0-9]*/${file}")
  if(NOT found)
    message(FATAL_ERROR "Debian source package '${package}' (${file}) not found under "
            "${FEDTINY_DEBSRC_DIR}: run tools/setup (it calls tools/cross/fetch_debian_sources.sh)")
  endif()
  list(GET found 0 path)
  string(LENGTH "${file}" n)
  string(LENGTH "${path}" m)
  math(EXPR keep "${m} - ${n} - 1")
  string(SUBSTRING "${path}" 0 ${keep} dir)
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()
