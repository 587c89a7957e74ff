#pragma once

#include <memory>

#include "hal/gpio.h"

namespace stopline::hal {

/* GpioLines over the GPIO character device through libgpiod v1.6: the chip is found by
 * name, path, number or label, lines by name or offset; each line's event fd is watched by
 * the event loop. Throws HalError when the chip or a line is missing or busy. */
std::unique_ptr<GpioLines> openGpiodLines(boost::asio::io_context &io, const GpioConfig &config);

} /* namespace stopline::hal */
