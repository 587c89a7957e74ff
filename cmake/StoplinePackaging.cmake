# `cpack -G DEB` in the build folder makes stopline_<version>_<arch>.deb with the
# binaries, the systemd unit and the example configurations (every install() rule of the
# tree; tests/unit/daemon/package_test.sh checks what lands where). Installed under /usr,
# where the unit expects /usr/bin/stoplined.
set(CPACK_PACKAGE_NAME stopline)
set(CPACK_PACKAGE_VENDOR "stopline")
set(CPACK_PACKAGE_CONTACT "stopline maintainers <maintainers@stopline.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies are computed from the binaries by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Debug info stays in the build tree: the unit's SD card gets stripped binaries
# (57 MB package unstripped).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/firmware/debian/postinst;${PROJECT_SOURCE_DIR}/firmware/debian/prerm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_GENERATOR DEB)
if(CMAKE_CROSSCOMPILING)
    # CPack would name the build machine's architecture (dpkg --print-architecture).
    execute_process(COMMAND dpkg-architecture -qDEB_HOST_ARCH -t ${CMAKE_LIBRARY_ARCHITECTURE}
        OUTPUT_VARIABLE STOPLINE_DEB_ARCH OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
        COMMAND_ERROR_IS_FATAL ANY)
    set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${STOPLINE_DEB_ARCH})
    # dpkg-shlibdeps reads the binaries with the target's objdump and looks for their
    # libraries in the target's multiarch folders only when DEB_HOST_ARCH names the
    # target; cpack reads this file before packaging, so plain `cpack` works.
    file(WRITE ${CMAKE_BINARY_DIR}/CPackCrossEnvironment.cmake
        "set(ENV{DEB_HOST_ARCH} ${STOPLINE_DEB_ARCH})\n")
    set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_BINARY_DIR}/CPackCrossEnvironment.cmake)
    # Libraries of packages that could not be installed for the target, only unpacked
    # (cmake/toolchains/aarch64-linux-gnu.cmake); their shlibs/symbols come with them.
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${STOPLINE_UNPACKED_LIBRARY_DIRS})
endif()
include(CPack)
