#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "hal/time.h"

namespace stopline::hal {

enum class PixelFormat {
    BGR888, /* 3 bytes per pixel, OpenCV CV_8UC3 order */
    YUV420, /* planar I420, as libcamera's YUV420 */
    GRAY8,
};

/* Bytes per row times rows, for a tightly packed frame of this format. */
std::size_t frameBytes(PixelFormat format, int width, int height);

/* One camera frame. Its pixels belong to the backend (a pool slot, or a libcamera
 * request buffer); when the last FramePtr goes away the buffer is handed back, so the
 * pre-trigger ring holds frames without copying (the rpicam-apps habit). */
struct Frame
{
    std::uint64_t sequence = 0;
    Stamp stamp; /* sampleNs: exposure start on CLOCK_MONOTONIC */
    int width = 0;
    int height = 0;
    int stride = 0; /* bytes per row of the first plane */
    PixelFormat format = PixelFormat::BGR888;
    std::uint8_t *data = nullptr;
    std::size_t size = 0;
};

using FramePtr = std::shared_ptr<const Frame>;

/* A fixed set of reusable frame buffers for backends that copy pixels in (sim,
 * OpenCV). acquire() never allocates once constructed, so capture cannot grow memory.
 * Thread-safe: frames are acquired on the capture thread and dropped anywhere. */
class FramePool
{
public:
    FramePool(std::size_t bufferBytes, std::size_t count);

    /* A writable frame whose buffer returns to the pool when the last reference
     * drops; nullptr when every buffer is in use (the caller counts a dropped frame
     * rather than block the capture path). Frames may outlive the pool. */
    std::shared_ptr<Frame> acquire();

    std::size_t capacity() const;
    std::size_t available() const;
    std::size_t bufferBytes() const;

private:
    struct Slots
    {
        std::mutex lock;
        std::vector<std::unique_ptr<std::uint8_t[]>> free;
        std::size_t bufferBytes = 0;
        std::size_t capacity = 0;
    };
    std::shared_ptr<Slots> slots_;
};

} /* namespace stopline::hal */
