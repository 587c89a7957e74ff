#include "drivers/gpio_driver.h"

#include <chrono>
#include <stdexcept>

namespace stopline::drivers {

GpioDriver::GpioDriver(boost::asio::io_context &io, hal::GpioLines *lines, Nanos graceNs)
    : lines_(lines), grace_(graceNs), timer_(io), routes_(lines->size())
{}

GpioDriver::~GpioDriver()
{
    *alive_ = false;
    stop();
}

void GpioDriver::add(GpioMachine *machine)
{
    std::vector<std::string> inputs = machine->inputs();
    std::vector<Route> added;
    for (std::size_t input = 0; input < inputs.size(); ++input) {
        auto index = lines_->indexOf(inputs[input]);
        if (!index)
            throw std::invalid_argument("gpio: line '" + inputs[input] + "' is not configured on " +
                                        lines_->describe());
        added.push_back(Route{machine, input});
        routes_[*index].push_back(added.back());
    }
    machines_.push_back(machine);
}

void GpioDriver::start(std::function<void(const std::string &)> onError)
{
    Nanos now = monotonicNow();
    for (GpioMachine *machine : machines_) {
        std::vector<std::string> inputs = machine->inputs();
        std::vector<bool> levels;
        for (const std::string &name : inputs)
            levels.push_back(lines_->value(*lines_->indexOf(name)));
        machine->begin(levels, now);
    }
    running_ = true;
    std::weak_ptr<bool> alive = alive_;
    lines_->start(
            [this, alive](const hal::GpioEvent &event) {
                if (!alive.expired())
                    onEvent(event);
            },
            std::move(onError));
    rearm();
}

void GpioDriver::stop()
{
    if (!running_)
        return;
    running_ = false;
    lines_->stop();
    timer_.cancel();
}

void GpioDriver::onEvent(const hal::GpioEvent &event)
{
    if (!running_ || event.index >= routes_.size())
        return;
    ++edges_;
    for (const Route &route : routes_[event.index])
        route.machine->edge(route.input, event.active, event.stamp.sampleNs);
    rearm();
}

void GpioDriver::rearm()
{
    if (!running_)
        return;
    std::optional<Nanos> earliest;
    for (GpioMachine *machine : machines_)
        if (auto d = machine->deadline(); d && (!earliest || *d < *earliest))
            earliest = d;
    if (!earliest) {
        timer_.cancel();
        return;
    }
    /* libstdc++'s steady_clock is CLOCK_MONOTONIC, the clock of the kernel's edge stamps. */
    timer_.expires_at(
            std::chrono::steady_clock::time_point(std::chrono::nanoseconds(*earliest + grace_)));
    std::weak_ptr<bool> alive = alive_;
    timer_.async_wait([this, alive](const boost::system::error_code &ec) {
        if (ec || alive.expired() || !running_)
            return;
        lines_->poll(); /* edges already waiting are older than any decision made now */
        if (!running_)
            return;
        Nanos now = monotonicNow() - grace_;
        for (GpioMachine *machine : machines_)
            machine->advance(now);
        rearm();
    });
}

} /* namespace stopline::drivers */
