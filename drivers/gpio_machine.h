#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "hal/time.h"

namespace stopline::drivers {

/* The shape every GPIO-fed state machine has (signal heads, loops, beacons), so one thin
 * driver can feed them all from one hal::GpioLines and tests can feed them synthetic
 * timelines. All times are CLOCK_MONOTONIC event times: a machine decides on edge
 * timestamps and hold expiries, never on when it happens to be called, so the outcome does
 * not depend on how loaded the machine is. */
class GpioMachine
{
public:
    virtual ~GpioMachine() = default;

    /* The hal line names it reads; an edge's `input` indexes this list. */
    virtual std::vector<std::string> inputs() const = 0;

    /* Levels read when the lines were requested; their start times are unknown. */
    virtual void begin(const std::vector<bool> &levels, Nanos now) = 0;

    /* One raw edge at kernel time t. Call advance(t) first (the driver does). */
    virtual void edge(std::size_t input, bool level, Nanos t) = 0;

    /* Processes every hold expiry up to `now` in time order. */
    virtual void advance(Nanos now) = 0;

    /* Earliest time advance() has something to do; nullopt when idle. */
    virtual std::optional<Nanos> deadline() const = 0;
};

} /* namespace stopline::drivers */
