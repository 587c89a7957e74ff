#include "hal/camera.h"

namespace stopline::hal {

const char *pixelFormatName(PixelFormat format)
{
    switch (format) {
    case PixelFormat::BGR888:
        return "BGR888";
    case PixelFormat::YUV420:
        return "YUV420";
    case PixelFormat::GRAY8:
        return "GRAY8";
    }
    return "unknown";
}

} /* namespace stopline::hal */
