# Cross build for arm64 boards (cmake --preset arm64) with Debian bookworm's own tools:
# crossbuild-essential-arm64 and the :arm64 -dev packages installed beside the amd64 ones
# by scripts/setup-arm64.sh. Multiarch puts the target's libraries in
# /usr/lib/aarch64-linux-gnu and its arch-specific headers in /usr/include/aarch64-linux-gnu
# of this machine, where the cross compiler and linker look by default: no sysroot.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
# Makes find_library/find_package look in lib/aarch64-linux-gnu, never in the amd64 folder.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# pkgconf's arm64 personality: searches the arm64 .pc files only.
set(PKG_CONFIG_EXECUTABLE /usr/bin/aarch64-linux-gnu-pkg-config CACHE FILEPATH "pkg-config for arm64")

# The -dev packages apt cannot install beside their amd64 counterparts are unpacked here
# by scripts/setup-arm64.sh (with the libraries only they need): searched like an
# installed prefix, its libraries resolvable when linking against the ones that need
# them, and loaded by the tests under emulation.
get_filename_component(STOPLINE_UNPACKED_ROOT "${CMAKE_CURRENT_LIST_DIR}/../../build-arm64-unpacked" ABSOLUTE)
# usr/lib: GDAL's dependencies that are not co-installable because they are not in the
# multiarch folder (libarmadillo, libogdi, HDF4).
set(STOPLINE_UNPACKED_LIBRARY_DIRS
    ${STOPLINE_UNPACKED_ROOT}/usr/lib/aarch64-linux-gnu
    ${STOPLINE_UNPACKED_ROOT}/lib/aarch64-linux-gnu
    ${STOPLINE_UNPACKED_ROOT}/usr/lib)
list(APPEND CMAKE_PREFIX_PATH ${STOPLINE_UNPACKED_ROOT}/usr)
# FindPkgConfig adds no lib/<arch>/pkgconfig of CMAKE_PREFIX_PATH when cross compiling.
set(ENV{PKG_CONFIG_PATH} ${STOPLINE_UNPACKED_ROOT}/usr/lib/aarch64-linux-gnu/pkgconfig)
# After the installed headers: an unpacked -dev package's headers that only it provides.
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${STOPLINE_UNPACKED_ROOT}/usr/include/opencv4)
list(JOIN STOPLINE_UNPACKED_LIBRARY_DIRS ":" unpacked_path)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,${unpacked_path}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,${unpacked_path}")

# ctest runs the arm64 test programs with Debian's qemu-user-static. The arm64 dynamic
# loader and libraries are the multiarch ones of this machine (libc6:arm64 installs
# /lib/ld-linux-aarch64.so.1), so qemu needs no -L prefix; only the unpacked libraries
# are added to the search path.
set(CMAKE_CROSSCOMPILING_EMULATOR /usr/bin/qemu-aarch64-static -E LD_LIBRARY_PATH=${unpacked_path})
