#pragma once

#include <cstdio>
#include <string>

/* The simulator's diagnostics go to stderr (stdout carries the wire addresses). */
namespace stopline::sim {

inline bool &verboseLogging()
{
    static bool verbose = false;
    return verbose;
}

inline void logLine(const std::string &message)
{
    std::fprintf(stderr, "stopline-sim: %s\n", message.c_str());
}

inline void logVerbose(const std::string &message)
{
    if (verboseLogging())
        logLine(message);
}

} /* namespace stopline::sim */
