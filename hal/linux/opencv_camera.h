#pragma once

#include <memory>

#include "hal/camera.h"

namespace stopline::hal {

/* Camera over OpenCV VideoCapture, for V4L2 devices (/dev/videoN or an index), network
 * streams (rtsp://, http://) and video files. Frames are decoded straight into FramePool
 * slots where OpenCV allows it. Timestamps: V4L2 buffer timestamps (CLOCK_MONOTONIC) when
 * plausible; for files the file's own timing anchored at the first frame; for network
 * streams the time the frame was read. Throws HalError when the source cannot be opened or
 * delivers no frame. */
std::unique_ptr<Camera> openOpencvCamera(const CameraConfig &config);

} /* namespace stopline::hal */
