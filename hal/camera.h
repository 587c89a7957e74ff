#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hal/frame.h"

namespace stopline::hal {

class Clock;

/* Which camera and how; filled from the daemon's configuration. */
struct CameraConfig
{
    std::string backend = "libcamera"; /* "libcamera", "opencv" or "sim" */
    /* libcamera: camera id, empty = the first camera;
     * opencv: V4L2 device ("/dev/video0" or an index "0"), RTSP/HTTP URL or video file;
     * sim: the simulator's camera socket path. */
    std::string device;
    int width = 0; /* 0 = the backend's default */
    int height = 0;
    PixelFormat format = PixelFormat::BGR888;
    unsigned buffers = 6;  /* libcamera requests in flight / pool slots of copying backends */
    double fps = 0;        /* requested rate, 0 = the device's default */
    bool paceFile = true;  /* opencv file: deliver at the file's own timing (false: flat out) */
    bool loopFile = false; /* opencv file: start again at the end */
    int connectTimeoutMs = 5000; /* sim: handshake */
};

/* A source of timestamped frames whose buffers recycle themselves (the rpicam-apps habit;
 * docs/architecture.md, Concurrency). Frames arrive on the backend's own capture thread:
 * the handler must hand the frame off (to the pre-trigger ring) and return, never do
 * work. When no buffer is free because consumers still hold them all, the frame is
 * dropped and counted rather than blocking capture. */
class Camera
{
public:
    using FrameHandler = std::function<void(FramePtr frame)>;
    /* Called at most once, on the capture thread, when capture ends on its own (end of
     * file, device unplugged, simulator gone). */
    using StopHandler = std::function<void(const std::string &reason)>;

    virtual ~Camera() = default;

    /* Throws HalError if the camera cannot stream with the configured settings. */
    virtual void start(FrameHandler onFrame, StopHandler onStop = {}) = 0;
    /* Returns once no handler runs any more; frames already handed out stay valid. */
    virtual void stop() = 0;

    virtual std::string id() const = 0;
    virtual int width() const = 0;
    virtual int height() const = 0;
    virtual PixelFormat format() const = 0;
    virtual std::uint64_t framesDelivered() const = 0;
    virtual std::uint64_t framesDropped() const = 0;
};

/* Opens the configured backend; throws HalError naming the camera when it does not exist
 * or cannot be configured. `clock` is borrowed for the call and the camera's lifetime (the
 * libcamera backend converts CLOCK_BOOTTIME sensor timestamps with it). */
std::unique_ptr<Camera> openCamera(const CameraConfig &config, const Clock *clock);

const char *pixelFormatName(PixelFormat format);

} /* namespace stopline::hal */
