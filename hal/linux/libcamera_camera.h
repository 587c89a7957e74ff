#pragma once

#include <memory>

#include "hal/camera.h"

namespace stopline::hal {

/* Camera over libcamera 0.0.3: zero-copy frames straight from the request buffers, which
 * are re-queued when the last FramePtr drops. SensorTimestamp (CLOCK_BOOTTIME) is converted
 * to CLOCK_MONOTONIC with `clock`. Throws HalError naming the camera when it is missing,
 * busy or cannot deliver the configured format. */
std::unique_ptr<Camera> openLibcameraCamera(const CameraConfig &config, const Clock *clock);

} /* namespace stopline::hal */
