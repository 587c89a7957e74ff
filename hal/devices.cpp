/* The backend factories: the only place that knows every backend, so the daemon picks
 * hardware or simulator by configuration alone. */
#include "hal/camera.h"
#include "hal/gpio.h"

#include "hal/error.h"
#include "hal/linux/gpiod_lines.h"
#include "hal/linux/libcamera_camera.h"
#include "hal/linux/opencv_camera.h"
#include "hal/sim/camera_client.h"
#include "hal/sim/gpio_client.h"

namespace stopline::hal {

std::unique_ptr<GpioLines> openGpioLines(boost::asio::io_context &io, const GpioConfig &config)
{
    if (config.backend == "gpiod")
        return openGpiodLines(io, config);
    if (config.backend == "sim")
        return sim::openSimGpioLines(io, config);
    throw HalError("gpio: unknown backend '" + config.backend + "' (expected gpiod or sim)");
}

std::unique_ptr<Camera> openCamera(const CameraConfig &config, const Clock *clock)
{
    if (config.backend == "libcamera")
        return openLibcameraCamera(config, clock);
    if (config.backend == "opencv")
        return openOpencvCamera(config);
    if (config.backend == "sim")
        return sim::openSimCamera(config);
    throw HalError("camera: unknown backend '" + config.backend +
                   "' (expected libcamera, opencv or sim)");
}

} /* namespace stopline::hal */
