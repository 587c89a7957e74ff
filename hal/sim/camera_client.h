#pragma once

#include <memory>

#include "hal/camera.h"

namespace stopline::hal::sim {

/* Camera served by the simulator's camera wire (proto/sim_wire.proto): BGR888 frames with
 * CLOCK_MONOTONIC capture timestamps over a Unix socket. The handshake (CameraRequest ->
 * CameraInfo) happens here, so a refused camera throws HalError like a missing device
 * would. Each frame is copied once, from the socket buffer into a FramePool slot. */
std::unique_ptr<Camera> openSimCamera(const CameraConfig &config);

} /* namespace stopline::hal::sim */
