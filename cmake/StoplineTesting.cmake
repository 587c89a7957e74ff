# Test registration shared by every part of the tree (docs/architecture.md, Conventions:
# CppUTest through CTest, labels unit / hil / browser / bench). CppUTest's CMake package
# is broken on bookworm, so it is found through pkg-config.
enable_testing()

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
