#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "drivers/gpio_machine.h"
#include "hal/gpio.h"

namespace stopline::drivers {

/* The thin I/O part of the GPIO drivers: feeds one hal::GpioLines' edges to the state
 * machines that read them (phase decoder, loops, beacons) and wakes them with a timer for
 * their hold expiries. On the timer it first takes every edge already waiting (poll), then
 * advances the machines only to now - graceNs, so an edge that reaches the process up to
 * graceNs after it happened is still decided in kernel-timestamp order. Decisions (not
 * their timestamps) are therefore reported about debounce + graceNs after the edge. Runs
 * on the event loop; never blocks it. */
class GpioDriver
{
public:
    /* `lines` is borrowed and must outlive the driver. */
    GpioDriver(boost::asio::io_context &io, hal::GpioLines *lines,
               Nanos graceNs = 50 * kNanosPerMilli);
    ~GpioDriver();

    /* Borrowed; call before start(). Throws std::invalid_argument naming any line the
     * machine wants that `lines` does not have. */
    void add(GpioMachine *machine);

    /* Hands the machines the current levels, then delivers edges. `onError` gets the
     * hal's message if edge delivery stops. */
    void start(std::function<void(const std::string &)> onError = {});
    void stop();

    std::uint64_t edges() const { return edges_; }

private:
    struct Route
    {
        GpioMachine *machine;
        std::size_t input;
    };

    void onEvent(const hal::GpioEvent &event);
    void rearm();

    hal::GpioLines *lines_;
    Nanos grace_;
    boost::asio::steady_timer timer_;
    std::vector<GpioMachine *> machines_;
    std::vector<std::vector<Route>> routes_; /* by hal line index */
    std::uint64_t edges_ = 0;
    bool running_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

} /* namespace stopline::drivers */
