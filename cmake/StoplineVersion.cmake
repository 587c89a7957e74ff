# The software version goes into every evidence record, so it must name the exact
# source: the project version plus the git commit (and "-dirty" for local changes).
execute_process(
    COMMAND git describe --always --dirty --abbrev=12
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
    OUTPUT_VARIABLE STOPLINE_GIT_DESCRIBE
    OUTPUT_STRIP_TRAILING_WHITESPACE
    ERROR_QUIET)
if(NOT STOPLINE_GIT_DESCRIBE)
    set(STOPLINE_GIT_DESCRIBE "nogit")
endif()
set(STOPLINE_SOFTWARE_VERSION "${PROJECT_VERSION}+${STOPLINE_GIT_DESCRIBE}")
message(STATUS "stopline software version: ${STOPLINE_SOFTWARE_VERSION}")
