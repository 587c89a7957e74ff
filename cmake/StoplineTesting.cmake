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

# stopline_add_unit_test(NAME SOURCES a.cpp b.cpp LIBS x y [LABELS extra])
# Builds one CppUTest executable with a shared main and registers it with label `unit`.
function(stopline_add_unit_test name)
    cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;LABELS;ENVIRONMENT" ${ARGN})
    add_executable(${name} ${ARG_SOURCES} ${PROJECT_SOURCE_DIR}/tests/unit/cpputest_main.cpp)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} PkgConfig::CPPUTEST)
    add_test(NAME ${name} COMMAND ${name} -v)
    set_tests_properties(${name} PROPERTIES LABELS "unit;${ARG_LABELS}" TIMEOUT 300)
    if(ARG_ENVIRONMENT)
        set_tests_properties(${name} PROPERTIES ENVIRONMENT "${ARG_ENVIRONMENT}")
    endif()
endfunction()
