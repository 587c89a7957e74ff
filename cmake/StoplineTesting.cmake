# Test registration shared by every part of the tree (docs/architecture.md, Conventions:
# CppUTest through CTest, labels unit / hil / browser / bench). CppUTest's CMake package
# is broken on bookworm, so it is found through pkg-config.
enable_testing()

# The labelled plate photographs (plates-us-dev/, plates-eu-dev/, plates-br-dev/) are
# AGPL images kept outside the repository, so their folder is named at configure time:
#   cmake --preset default -DSTOPLINE_PLATES_DATA=/path/to/data
# Unset, the tests that need them are registered anyway and report themselves skipped.
set(STOPLINE_PLATES_DATA "" CACHE PATH
    "Folder holding plates-us-dev/ (and plates-eu-dev/, plates-br-dev/); empty: plate evaluation skipped")

# The PostgreSQL groups of the unit tests need the server scripts/services.sh starts.
# The arm64 build (preset arm64) runs its unit tests under emulation on a build machine
# where PostgreSQL is host test tooling, so it leaves them out (CppUTest -xg); `make test`
# runs them on amd64.
option(STOPLINE_TEST_POSTGRES "Run the unit tests' PostgreSQL groups (need scripts/services.sh start)" ON)

# stopline_add_unit_test(NAME SOURCES a.cpp b.cpp LIBS x y [LABELS extra])
# Builds one CppUTest executable with a shared main and registers it with label `unit`.
function(stopline_add_unit_test name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
    add_executable(${name} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/unit/cpputest_main.cpp)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} PkgConfig::CPPUTEST)
    set(exclude)
    if(NOT STOPLINE_TEST_POSTGRES)
        set(exclude -xg Postgres)
    endif()
    add_test(NAME ${name} COMMAND ${name} -v ${exclude})
    set_tests_properties(${name} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT 300)
    if(ARG_ENVIRONMENT)
        set_tests_properties(${name} PROPERTIES ENVIRONMENT "${ARG_ENVIRONMENT}")
    endif()
endfunction()

# stopline_program_command(VAR target): what a test that starts a built program itself
# (a shell script, popen) should run: the program, or in a cross build a script that runs
# it under CMAKE_CROSSCOMPILING_EMULATOR, which ctest only puts before a test's own COMMAND.
function(stopline_program_command var target)
    if(CMAKE_CROSSCOMPILING AND CMAKE_CROSSCOMPILING_EMULATOR)
        set(script ${CMAKE_BINARY_DIR}/emulated/${target})
        list(JOIN CMAKE_CROSSCOMPILING_EMULATOR " " emulator)
        file(GENERATE OUTPUT ${script}
            CONTENT "#!/bin/sh\nexec ${emulator} \"$<TARGET_FILE:${target}>\" \"$@\"\n"
            FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                WORLD_READ WORLD_EXECUTE)
        set(${var} ${script} PARENT_SCOPE)
    else()
        set(${var} $<TARGET_FILE:${target}> PARENT_SCOPE)
    endif()
endfunction()
