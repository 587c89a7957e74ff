#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "hal/time.h"

namespace stopline::hal {

/* One input line as the installation wires it. */
struct GpioLineConfig
{
    enum class Bias { AsIs, Disable, PullUp, PullDown };

    std::string name;       /* what the drivers call it ("NB_RED"); empty = `line` */
    std::string line;       /* line name on the chip, or its offset as decimal text */
    bool activeLow = false; /* opto-isolators usually pull low when the lamp is lit */
    Bias bias = Bias::AsIs; /* ignored by the sim backend */
};

/* Which chip and lines to watch, and through which backend; the daemon fills this from its
 * configuration file so the same binary runs on a cabinet or against the simulator. */
struct GpioConfig
{
    std::string backend = "gpiod"; /* "gpiod" (libgpiod v1 character device) or "sim" */
    std::string chip; /* gpiod: name, path, number or label; sim: the chip the simulator plays */
    std::string simSocket; /* sim: Unix socket path the simulator printed */
    std::string consumer = "stoplined";
    std::vector<GpioLineConfig> lines;
    int connectTimeoutMs = 5000; /* sim: how long the handshake may take */
};

/* One edge, in logical terms (active-low already applied). */
struct GpioEvent
{
    std::size_t index = 0; /* into GpioConfig::lines */
    bool active = false;   /* logical level after the edge */
    Stamp stamp;           /* sampleNs: kernel timestamp, CLOCK_MONOTONIC; seenNs: when delivered */
    std::uint64_t seqno = 0; /* per line from the sim wire, 0 from libgpiod v1 */
};

/* Named input lines with both-edge events and kernel timestamps, delivered on the Asio event
 * loop without ever blocking it. Drivers see only this interface, never the backend. The
 * io_context must outlive the object; destroy it on the event thread or after the loop stops. */
class GpioLines
{
public:
    using EventHandler = std::function<void(const GpioEvent &event)>;
    using ErrorHandler = std::function<void(const std::string &message)>;

    virtual ~GpioLines() = default;

    /* Begins delivering edges; `onError` is called once if delivery stops for good. */
    virtual void start(EventHandler onEvent, ErrorHandler onError = {}) = 0;
    virtual void stop() = 0;

    /* Delivers, now and without blocking, every edge already waiting in the kernel or the
     * socket. A driver calls it before deciding on elapsed time, so an edge that happened
     * before the decision is never mistaken for a late one because the loop was busy. */
    virtual void poll() = 0;

    virtual std::size_t size() const = 0;
    virtual const std::string &name(std::size_t index) const = 0;
    /* Logical level read when the lines were requested, then updated by each edge. */
    virtual bool value(std::size_t index) const = 0;
    /* The chip as opened, for logs and evidence ("gpiochip0 [pinctrl-bcm2711]"). */
    virtual std::string describe() const = 0;

    std::optional<std::size_t> indexOf(const std::string &name) const;
};

/* Opens the configured backend and requests the lines. Throws HalError naming the chip or
 * line when either does not exist, the line is busy, or the simulator refuses. */
std::unique_ptr<GpioLines> openGpioLines(boost::asio::io_context &io, const GpioConfig &config);

} /* namespace stopline::hal */
