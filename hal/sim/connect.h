#pragma once

#include <string>

namespace stopline::hal::sim {

/* Connects a blocking Unix stream socket to the simulator's wire at `path`; throws
 * HalError starting with `what` and naming the path (and hinting at stopline-sim when
 * nothing listens there). Returns the file descriptor. */
int connectUnix(const std::string &path, const std::string &what);

} /* namespace stopline::hal::sim */
