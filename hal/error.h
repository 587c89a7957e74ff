#pragma once

#include <stdexcept>
#include <string>

namespace stopline::hal {

/* Why a device could not be opened or used. Every hal factory and constructor reports a
 * missing chip, line, port or camera by throwing this, with a message that names the
 * device and what was found instead, so the daemon can print it and exit non-zero rather
 * than crash or run half-blind. */
class HalError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

} /* namespace stopline::hal */
