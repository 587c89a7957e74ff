#pragma once

#include <memory>

#include "hal/gpio.h"

namespace stopline::hal::sim {

/* GpioLines served by the simulator's GPIO wire (proto/sim_wire.proto): the kernel here has
 * no gpio-sim, so stopline-sim plays the chip over a Unix socket. The handshake (GpioRequest
 * -> GpioChipInfo) happens here, so a refused chip or line throws HalError just as the
 * libgpiod backend would; edges then arrive on the event loop, stamped by the simulator on
 * CLOCK_MONOTONIC. Active-low is applied here; bias has no meaning on the wire. */
std::unique_ptr<GpioLines> openSimGpioLines(boost::asio::io_context &io, const GpioConfig &config);

} /* namespace stopline::hal::sim */
